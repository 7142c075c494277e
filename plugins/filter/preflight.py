# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the preflight role validates before any role of a play changes a host.

``role_closure`` turns the role names a play runs (``ansible_role_names``, or a playbook's list)
into this collection's roles with every role they depend on through ``meta/main.yml``,
dependencies first. ``preflight_plan`` says which of them have settings not validated yet in
this run: it fingerprints each role's inputs (the options of its argument spec and of the specs of
the roles it depends on, whose values its own checks read) (HMAC-SHA-256 of their values under a key drawn once per run, never the values
themselves) and leaves out the roles whose fingerprint was seen, so a role validated by a first
play is not validated again by the plays that apply it, while a play that changes one of its
settings validates it again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import typing as t

from ansible import constants as C
from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.yaml import yaml_load

PREFIX = "web2py.deploy."
SELF = "preflight"


def _load(path: str) -> t.Any:
    try:
        with open(path, "rb") as handle:
            return yaml_load(handle.read()) or {}
    except FileNotFoundError:
        return {}
    except Exception as exc:  # a broken file of the collection itself
        raise AnsibleFilterError("preflight: cannot read %s: %s" % (path, exc))


def _local_name(name: t.Any, roles_dir: str) -> t.Optional[str]:
    if isinstance(name, dict):
        name = name.get("role") or name.get("name")
    if not isinstance(name, str) or not name.startswith(PREFIX):
        return None
    local = name[len(PREFIX):]
    if "/" in local or local in ("", ".", "..") or not os.path.isdir(os.path.join(roles_dir, local)):
        return None
    return local


def role_closure(names: t.Sequence[t.Any], roles_dir: str) -> t.List[str]:
    """This collection's roles among names (FQCN), with their meta dependencies, dependencies first."""
    if not isinstance(names, (list, tuple)):
        raise AnsibleFilterError("role_closure: a list of role names is required")
    order: t.List[str] = []
    visiting: t.Set[str] = set()

    def visit(local: str) -> None:
        if local in order or local in visiting:
            return
        visiting.add(local)
        meta = _load(os.path.join(roles_dir, local, "meta", "main.yml"))
        for dep in (meta.get("dependencies") or []) if isinstance(meta, dict) else []:
            dep_local = _local_name(dep, roles_dir)
            if dep_local:
                visit(dep_local)
        visiting.discard(local)
        order.append(local)

    for name in names:
        local = _local_name(name, roles_dir)
        if local:
            visit(local)
    return [role for role in order if role != SELF]


def _spec_options(roles_dir: str, role: str) -> t.Dict[str, t.Any]:
    spec = _load(os.path.join(roles_dir, role, "meta", "argument_specs.yml"))
    options: t.Dict[str, t.Any] = {}
    for entry in ((spec.get("argument_specs") or {}) if isinstance(spec, dict) else {}).values():
        options.update((entry or {}).get("options") or {})
    return options


def _outputs(roles_dir: str) -> t.Set[str]:
    """Names every role of the collection sets in its vars/main.yml (outputs and internal values)."""
    names: t.Set[str] = set()
    for role in sorted(os.listdir(roles_dir)):
        values = _load(os.path.join(roles_dir, role, "vars", "main.yml"))
        names.update(values if isinstance(values, dict) else ())
    return names


def role_settings(settings: t.Iterable[str], roles_dir: str, role: t.Union[str, t.Sequence[str]],
                  prefixed: bool = True) -> t.List[str]:
    """Names of a role's (or roles') settings among settings (names, or a mapping of them): the
    argument spec's options, and with prefixed every other name that starts with the role's name
    and _ except the values roles set themselves (vars/main.yml: outputs, internal values)."""
    roles = [role] if isinstance(role, str) else list(role)
    options: t.Dict[str, t.Any] = {}
    for one in roles:
        options.update(_spec_options(roles_dir, one))
    prefixes = tuple(one + "_" for one in roles)
    outputs = _outputs(roles_dir) if prefixed else set()
    return sorted(name for name in settings
                  if name in options or (prefixed and name.startswith(prefixes) and name not in outputs))


def _wired(roles_dir: str) -> t.Set[str]:
    """Names the roles set for their dependencies (vars of a dependency in meta/main.yml, such as
    web2py_frontend_name): wiring between roles, built from inputs the setting role validates,
    not inputs of their own; they differ with the role that sets them (apache_wsgi or nginx_uwsgi
    in a play loading both), so a fingerprint that held them would validate again for nothing."""
    names: t.Set[str] = set()
    for role in sorted(os.listdir(roles_dir)):
        meta = _load(os.path.join(roles_dir, role, "meta", "main.yml"))
        for dep in (meta.get("dependencies") or []) if isinstance(meta, dict) else []:
            if isinstance(dep, dict) and isinstance(dep.get("vars"), dict):
                names.update(dep["vars"])
    return names


def _canonical(value: t.Any) -> t.Any:
    """The value with each mapping as a list of [key, value] pairs sorted by the key's text: YAML
    keys may mix types (``on:`` is a bool), which json.dumps(sort_keys=True) cannot sort."""
    if isinstance(value, t.Mapping):
        pairs = [[str(key), repr(key), _canonical(item)] for key, item in value.items()]
        return sorted(pairs, key=lambda pair: (pair[0], pair[1]))
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    return value


def _run_key() -> bytes:
    """A random key for this run of ansible-playbook, shared by its worker processes: a file in
    the controller's temporary folder of this run (DEFAULT_LOCAL_TMP, ansible-local-<pid>...,
    which Ansible removes at exit), made once (written aside, then linked: never read half
    written). Fingerprints made with it cannot be checked against guesses after the run."""
    folder = C.DEFAULT_LOCAL_TMP
    path = os.path.join(folder, "web2py-deploy-preflight.key")
    try:
        with open(path, "rb") as handle:
            key = handle.read()
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    aside = os.path.join(folder, "web2py-deploy-preflight.key.%d" % os.getpid())
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, os.urandom(32))
    finally:
        os.close(fd)
    try:
        os.link(aside, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(aside)
    with open(path, "rb") as handle:
        key = handle.read()
    if len(key) != 32:
        raise AnsibleFilterError("preflight_plan: the run's key %s is not 32 bytes" % path)
    return key


def preflight_plan(roles: t.Sequence[str], settings: t.Mapping[str, t.Any], roles_dir: str,
                   seen: t.Optional[t.Sequence[str]] = None, salt: str = "",
                   unresolved: t.Optional[t.Sequence[str]] = None) -> t.Dict[str, str]:
    """{role: fingerprint} of the roles whose settings have not been validated in this run.
    A role with an input among unresolved (it cannot be rendered here) is left out. The preflight
    role passes none: it plans every role in scope, and its checks render such an input with the
    defaults of the roles it depends on, naming it when it still cannot be rendered."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("preflight_plan: settings must be a mapping of names to values")
    known = set(seen or [])
    key = salt.encode("utf-8", "surrogatepass") if salt else _run_key()
    wired = _wired(roles_dir)
    deferred = set(unresolved or [])
    plan: t.Dict[str, str] = {}
    for role in roles:
        if deferred.intersection(_spec_options(roles_dir, role)):
            continue
        # The inputs only (the argument spec's options): outputs and registered values with the
        # role's prefix change while the roles run. Those of the roles it depends on count too:
        # its own checks read them (apache_proxy requires a loopback web2py_server_address), so a
        # later play that changes one validates the role again, not only the dependency.
        names = [name for name in role_settings(settings, roles_dir, role_closure([PREFIX + role], roles_dir) + [role], prefixed=False)
                 if name not in wired]
        payload = json.dumps([role, [[name, _canonical(settings[name])] for name in names]], default=str)
        fingerprint = hmac.new(key, payload.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        if fingerprint not in known:
            plan[role] = fingerprint
    return plan


def roles_in_scope(roles: t.Sequence[str], roles_dir: str, names: t.Iterable[str]) -> t.List[str]:
    """The roles whose defaults (defaults/main.yml) are all among names, the variables defined
    where this runs. Under roles: or import_role every role's defaults are visible to the whole
    play; a role reached through include_role shows its defaults to its own tasks and to the
    dependencies below it only."""
    defined = set(names)
    kept = []
    for role in roles:
        defaults = _load(os.path.join(roles_dir, role, "defaults", "main.yml"))
        if set(defaults if isinstance(defaults, dict) else ()) <= defined:
            kept.append(role)
    return kept


def unsupported_roles(roles: t.Sequence[str], roles_dir: str, release_file: str) -> t.List[str]:
    """The roles without the vars file of a release (e.g. Debian-13.yml): each names the releases
    it supports with such a file."""
    if not isinstance(release_file, str) or "/" in release_file or not release_file.endswith(".yml"):
        raise AnsibleFilterError("unsupported_roles: a file name such as Debian-13.yml is required")
    return [role for role in roles if not os.path.isfile(os.path.join(roles_dir, role, "vars", release_file))]


class FilterModule:
    """web2py.deploy's preflight filters."""

    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"role_closure": role_closure, "role_settings": role_settings, "preflight_plan": preflight_plan,
                "unsupported_roles": unsupported_roles, "roles_in_scope": roles_in_scope}
