"""The architecture the tree promises: every role is validated by web2py.deploy.preflight before
any role of the play changes the host (its first dependency), preflight checks types first and
line breaks last, every inventory variable a template renders is one of those checks covers, and
no role reads another role's internal (__-prefixed) variables."""
from __future__ import annotations

import pathlib
import re

import pytest
import yaml

from ansible_collections.web2py.deploy.plugins.filter.preflight import role_closure, role_settings

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES_DIR = str(ROOT / "roles")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
VALIDATED = [role for role in ROLES if role != "preflight"]


def dependencies(role: str) -> list[str]:
    meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text()) or {}
    return [dep["role"] if isinstance(dep, dict) else dep for dep in meta.get("dependencies") or []]


# Reached only through the roles that depend on them, whose preflight validates them too; their
# own preflight validates what that one could not see (include_role).
SHARED = {"web2py_tls", "web2py_frontend", "web2py_server", "web2py_apache"}


@pytest.mark.parametrize("role", VALIDATED)
def test_preflight_is_the_first_dependency_of_every_role(role):
    meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())
    first = meta["dependencies"][0]
    assert first["role"] == "web2py.deploy.preflight", f"roles/{role}/meta/main.yml"
    # Its own role and that role's variables (a role entry's vars are not the other roles').
    assert first["preflight_for"] == f"web2py.deploy.{role}"
    # No when, on shared roles either: a preflight that skipped a shared role it could not see
    # (include_role) must not decide whether that role's own preflight runs.
    assert "when" not in first
    if role in SHARED:
        users = [other for other in VALIDATED if other not in SHARED
                 and role in role_closure(["web2py.deploy." + other], ROLES_DIR)]
        assert users, f"{role} is used by no role that runs preflight"


@pytest.mark.parametrize("role", VALIDATED)
def test_roles_depend_through_meta_not_tasks(role):
    """Shared logic is reached through meta/main.yml: no task imports or includes another role."""
    for task_file in (ROOT / "roles" / role / "tasks").glob("*.yml"):
        assert not re.search(r"ansible\.builtin\.(import|include)_role", task_file.read_text()), task_file


def test_preflight_checks_types_first_and_line_breaks_last():
    """The platform's values load first; one action then checks the platform and, per role, the
    argument spec, the types, the role's asserts and line breaks, in that order; the checks that
    need a module come after."""
    pending = (ROOT / "roles/preflight/tasks/pending.yml").read_text()
    order = [pending.index(marker) for marker in ("ansible.builtin.include_vars", "web2py.deploy.preflight_checks:",
                                                  "validate_modules.yml", "__preflight_seen:")]
    assert order == sorted(order)
    action = (ROOT / "plugins/action/preflight_checks.py").read_text()
    body = action[action.index("def run("):]
    order = [body.index(marker) for marker in ("unsupported_roles(", "ArgumentSpecValidator(", "type_problems(",
                                               "self._run_checks(", "unsafe_values(")]
    assert order == sorted(order)


@pytest.mark.parametrize("role", [role for role in VALIDATED if (ROOT / "roles" / role / "tasks" / "validate.yml").exists()])
def test_validate_yml_holds_asserts_only(role):
    """tasks/validate.yml is evaluated by the preflight_checks action: asserts with vars, when and
    loop only; a check that runs a module goes in tasks/validate_modules.yml."""
    path = ROOT / "roles" / role / "tasks" / "validate.yml"
    for task in yaml.safe_load(path.read_text()) or []:
        assert set(task) <= {"name", "ansible.builtin.assert", "vars", "when", "loop", "loop_control", "tags", "no_log"}, task.get("name")
        assert set(task["ansible.builtin.assert"]) <= {"that", "fail_msg", "quiet"}, task["name"]


@pytest.mark.parametrize("role", VALIDATED)
def test_every_role_names_the_releases_it_supports(role):
    assert {"Debian-12.yml", "Debian-13.yml"} <= {p.name for p in (ROOT / "roles" / role / "vars").glob("*.yml")}


def test_only_raw_directive_blocks_are_exempt_from_the_line_break_check():
    text = (ROOT / "plugins/action/preflight_checks.py").read_text()
    assert 'RAW_DIRECTIVES = "_extra_config"' in text and "name.endswith(RAW_DIRECTIVES)" in text


@pytest.mark.parametrize("role", VALIDATED)
def test_checks_live_in_validate_yml_only(role):
    """A role's own checks run from preflight: its other task files hold no type or line-break guard."""
    for task_file in (ROOT / "roles" / role / "tasks").glob("*.yml"):
        text = task_file.read_text()
        assert "type_problems(" not in text and "unsafe_values(" not in text, task_file


def template_variables(text: str) -> set[str]:
    names: set[str] = set()
    for block in re.findall(r"\{\{(.*?)\}\}|\{%(.*?)%\}", text, re.S):
        code = " ".join(block)
        code = re.sub(r"'[^']*'|\"[^\"]*\"", "''", code)
        names.update(re.findall(r"(?<![\w.])([a-z][a-z0-9_]*)(?![\w(])", code))
    return names


def outputs(role: str) -> set[str]:
    path = ROOT / "roles" / role / "vars" / "main.yml"
    return {name for name in (yaml.safe_load(path.read_text()) or {}) if not name.startswith("__")} if path.exists() else set()


@pytest.mark.parametrize("role", VALIDATED)
def test_templates_render_only_checked_inventory_variables(role):
    """Every role-prefixed variable a template renders is an input preflight checks for a role of
    its chain (argument spec option or role prefix), or an output of a role of the chain."""
    chain = role_closure(["web2py.deploy." + role], ROLES_DIR)
    prefixes = tuple(r + "_" for r in ROLES if r != "preflight")
    produced = set().union(*(outputs(r) for r in chain))
    unchecked = []
    for template in (ROOT / "roles" / role / "templates").glob("**/*.j2"):
        names = {n for n in template_variables(template.read_text()) if n.startswith(prefixes)}
        checked = {n for r in chain for n in role_settings(names, ROLES_DIR, r)}
        unchecked += [f"{template.relative_to(ROOT)}: {n}" for n in sorted(names - checked - produced)]
    assert unchecked == []


def test_the_scan_sees_role_variables():
    """Control: the template scan finds the variables a known template renders."""
    names = template_variables((ROOT / "roles/web2py_server/templates/web2py.service.j2").read_text())
    assert {"web2py_user", "web2py_server_port", "web2py_service_name", "web2py_root_dir"} <= names


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reads_another_roles_internal_variables(role):
    """Roles talk through documented inputs and outputs: __<other role>_ names stay private."""
    others = [r for r in ROLES if r != role and not role.startswith(r + "_")]
    crossing = []
    for path in (ROOT / "roles" / role).glob("**/*"):
        if path.suffix not in (".yml", ".j2") or not path.is_file():
            continue
        for name in set(re.findall(r"\b__([a-z][a-z0-9_]*)", path.read_text())):
            owner = max((r for r in ROLES if name.startswith(r + "_")), key=len, default=role)
            if owner != role and owner in others:
                crossing.append(f"{path.relative_to(ROOT)}: __{name}")
    assert crossing == []


def test_preflight_include_vars_do_not_shadow_the_checks_own():
    """The vars of main.yml's include reach every task below it and take precedence over those
    tasks' own vars: a shared name (a role's __preflight_names) made one role's line-break check
    read every role's settings."""
    main = yaml.safe_load((ROOT / "roles/preflight/tasks/main.yml").read_text())
    include = next(task for task in main if "ansible.builtin.include_tasks" in task)
    outer = set(include["vars"]) - {"__preflight_roles_dir"}
    for name in ("pending.yml",):
        for task in yaml.safe_load((ROOT / "roles/preflight/tasks" / name).read_text()):
            assert not outer & set(task.get("vars") or {}), (name, task["name"], outer & set(task["vars"]))


def _tasks(node):
    """Every task of a task file, blocks walked."""
    for task in node or []:
        if isinstance(task, dict):
            yield task
            for key in ("block", "rescue", "always"):
                yield from _tasks(task.get(key))


def test_no_task_variable_shares_a_name_with_a_registered_result():
    """A registered result outranks task vars: a task whose vars name one (the probe's script
    named like its result) gets the result instead when the role runs twice in a play."""
    registered, task_vars = set(), {}
    for task_file in ROOT.glob("roles/*/tasks/*.yml"):
        for task in _tasks(yaml.safe_load(task_file.read_text())):
            if isinstance(task.get("register"), str):
                registered.add(task["register"])
            for name in task.get("vars") or {}:
                task_vars.setdefault(name, f"{task_file.relative_to(ROOT)}: {task.get('name')}")
    assert sorted(task_vars[name] for name in set(task_vars) & registered) == []
