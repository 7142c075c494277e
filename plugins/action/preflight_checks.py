# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action web2py.deploy.preflight_checks: validate the inputs of several roles in one task."""
from __future__ import annotations

import os
import re
import typing as t

from ansible.errors import AnsibleActionFail, AnsibleError, AnsibleUndefinedVariable
from ansible.module_utils.basic import remove_values
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.web2py.deploy.plugins.filter.preflight import PREFIX, role_closure, role_settings, unsupported_roles
from ansible_collections.web2py.deploy.plugins.filter.safety import type_problems, unsafe_values

# The keys a check of tasks/validate.yml may use: an assert, its own variables, a condition and
# a loop. Anything else (a module, a block, register) belongs in tasks/validate_modules.yml.
CHECK_KEYS = frozenset(("name", "vars", "when", "loop", "loop_control", "tags", "no_log"))
ASSERT_KEYS = ("ansible.builtin.assert", "assert")
ASSERT_ARGS = frozenset(("that", "fail_msg", "msg", "quiet", "success_msg"))
# Raw directives (checked by the server itself before they go live) may hold line breaks.
RAW_DIRECTIVES = "_extra_config"

TYPES_HINT = ("not of the declared type (true or false, or the list or mapping named). A value given as "
              "-e name=value is a string: pass JSON instead, e.g. -e '{\"name\": false}' or "
              "-e '{\"name\": [\"a\", \"b\"]}', or a file, -e @vars.yml.")
UNSAFE_HINT = "a line break or control character would end a line of a configuration file or unit and start another."


def render_problem(name: str, exc: AnsibleError) -> str:
    """Why a setting cannot be rendered, naming it and never quoting its value: the name of an
    undefined variable it refers to, or that its text is not a valid template."""
    if isinstance(exc, AnsibleUndefinedVariable):
        undefined = re.match(r"'([A-Za-z_][A-Za-z0-9_]*)' is undefined", exc.message or "")
        what = ("variable %s, which is not defined" % undefined.group(1)) if undefined else "something that is not defined"
        return "%s cannot be rendered: it refers to %s" % (name, what)
    return ("%s cannot be rendered: its text is not a valid template (a literal {{ or {%% in a value is written "
            "{{ '{{' }} or marked !unsafe)" % name)


def _listify(value: t.Any) -> t.List[t.Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class ActionModule(ActionBase):
    """Validate roles' inputs: platform, argument spec, types, the role's checks, line breaks."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=dict(
            roles=dict(type="list", elements="str", required=True),
            roles_dir=dict(type="path", required=True),
        ))
        roles, roles_dir = args["roles"], args["roles_dir"]
        facts = task_vars.get("ansible_facts") or {}
        release = "%s-%s.yml" % (facts.get("distribution", "unknown"), facts.get("distribution_major_version", "unknown"))

        problems: t.List[str] = []
        unsupported = unsupported_roles(roles, roles_dir, release)
        for role in unsupported:
            supported = sorted(name[:-4].replace("-", " ") for name in os.listdir(os.path.join(roles_dir, role, "vars"))
                               if name.endswith(".yml") and "-" in name)
            problems.append("Unsupported platform: web2py.deploy.%s supports %s; this host runs %s %s."
                            % (role, ", ".join(supported), facts.get("distribution"), facts.get("distribution_version")))
        no_log_values: t.Set[str] = set()
        for role in roles:
            if role in unsupported:
                continue
            variables = dict(self._fallback_defaults(role, roles_dir, task_vars), **task_vars)
            problems.extend(self._role_problems(role, roles_dir, variables, no_log_values))

        result["changed"] = False
        result["validated"] = [role for role in roles if role not in unsupported]
        if problems:
            result["failed"] = True
            result["msg"] = remove_values("\n".join(problems), no_log_values)
            result["problems"] = [remove_values(problem, no_log_values) for problem in problems]
        else:
            result["msg"] = "validated: %s" % ", ".join(roles)
        return result

    def _fallback_defaults(self, role: str, roles_dir: str, task_vars: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        """The defaults of the roles role depends on that are not defined here: under
        include_role a role's first dependency (preflight) does not see its sibling dependencies'
        defaults, which the role's own defaults may refer to (apache_wsgi_server_name follows
        web2py_tls_common_name). Variables defined here always win."""
        fallback: t.Dict[str, t.Any] = {}
        for other in role_closure([PREFIX + role], roles_dir):
            path = os.path.join(roles_dir, other, "defaults", "main.yml")
            if os.path.isfile(path):
                defaults = self._loader.load_from_file(path, trusted_as_template=True) or {}
                fallback.update({name: value for name, value in defaults.items() if name not in task_vars})
        return fallback

    def _render(self, templar: t.Any, variables: t.Dict[str, t.Any], names: t.Iterable[str]) -> t.Tuple[t.List[t.Any], t.List[str]]:
        """Each named variable rendered on its own: (values, problems naming those that cannot be)."""
        values, problems = [], []
        for name in names:
            try:
                values.append(templar.template(variables[name]))
            except AnsibleError as exc:
                problems.append(render_problem(name, exc))
        return values, problems

    # One role: its argument spec, then the types, then its own checks, then line breaks. A role
    # stops at its first kind of problem: the later checks read values the earlier ones refused.
    def _role_problems(self, role: str, roles_dir: str, task_vars: t.Dict[str, t.Any], no_log_values: t.Set[str]) -> t.List[str]:
        label = "web2py.deploy.%s" % role
        spec_file = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
        spec = self._loader.load_from_file(spec_file) if os.path.isfile(spec_file) else {}
        options = ((spec or {}).get("argument_specs") or {}).get("main", {}).get("options") or {}

        templar = self._templar.copy_with_new_env(available_variables=task_vars)
        names = [name for name in options if name in task_vars]
        values, unrenderable = self._render(templar, task_vars, names)
        if unrenderable:
            return ["%s: %s" % (label, "; ".join(unrenderable))]
        given = dict(zip(names, values))
        validation = ArgumentSpecValidator(options).validate(given, validate_role_argument_spec=True)
        no_log_values.update(validation._no_log_values)
        if validation.error_messages:
            return ["%s: validation of arguments failed: %s" % (label, "; ".join(validation.error_messages))]

        settings = role_settings(list(task_vars), roles_dir, role)
        values, unrenderable = self._render(templar, task_vars, settings)
        if unrenderable:
            return ["%s: %s" % (label, "; ".join(unrenderable))]
        mistyped = type_problems(settings, values, spec or {})
        if mistyped:
            return ["%s: %s: %s" % (label, ", ".join(mistyped), TYPES_HINT)]

        checks = os.path.join(roles_dir, role, "tasks", "validate.yml")
        failed = self._run_checks(checks, label, templar, task_vars) if os.path.isfile(checks) else []
        if failed:
            return failed

        unsafe = unsafe_values(settings, values, [name for name in settings if name.endswith(RAW_DIRECTIVES)])
        if unsafe:
            return ["%s: %s: %s" % (label, ", ".join(unsafe), UNSAFE_HINT)]
        return []

    def _run_checks(self, path: str, label: str, templar: t.Any, task_vars: t.Dict[str, t.Any]) -> t.List[str]:
        """The first failure of the asserts of a tasks/validate.yml, each evaluated as Ansible would
        (its vars over the task's, its when and that for each item of its loop)."""
        tasks = self._loader.load_from_file(path, trusted_as_template=True) or []
        if not isinstance(tasks, list):
            raise AnsibleActionFail("%s: %s must be a list of assert tasks" % (label, path))
        for task in tasks:
            action = [key for key in ASSERT_KEYS if key in (task or {})]
            other = set(task or {}) - CHECK_KEYS - set(ASSERT_KEYS)
            if len(action) != 1 or other or not isinstance(task[action[0]], dict) or set(task[action[0]]) - ASSERT_ARGS:
                raise AnsibleActionFail("%s: %s: %r is not an assert (checks that run a module belong in "
                                        "tasks/validate_modules.yml)" % (label, path, (task or {}).get("name")))
            failure = self._run_check(task, task[action[0]], templar, task_vars)
            if failure:
                # The first only, as Ansible would stop there: later checks may read what it refused.
                return ["%s: %s" % (label, failure)]
        return []

    def _run_check(self, task: t.Dict[str, t.Any], check: t.Dict[str, t.Any], base: t.Any, task_vars: t.Dict[str, t.Any]) -> str:
        variables = dict(task_vars)
        variables.update(task.get("vars") or {})
        templar = base.copy_with_new_env(available_variables=variables)
        name = task.get("name", "check")
        loop_var = (task.get("loop_control") or {}).get("loop_var", "item")
        try:
            items = templar.template(task["loop"]) if "loop" in task else [None]
            if not isinstance(items, list):
                return "%s: its loop is not a list" % name
            for item in items:
                scope = templar
                if "loop" in task:
                    scope = base.copy_with_new_env(available_variables=dict(variables, **{loop_var: item}))
                if not all(scope.evaluate_conditional(when) for when in _listify(task.get("when"))):
                    continue
                for that in _listify(check.get("that")):
                    if not scope.evaluate_conditional(that):
                        message = check.get("fail_msg", check.get("msg", "Assertion failed"))
                        rendered = scope.template(message)
                        return " ".join(_listify(rendered)) if isinstance(rendered, list) else str(rendered)
        except AnsibleError as exc:
            return "%s: cannot be evaluated: %s" % (name, exc.message)
        return ""
