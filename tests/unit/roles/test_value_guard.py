"""Every role runs the shared control-character guard over its own variables, every inventory
variable a template renders is one a guard covers, and every role with boolean settings checks
they are booleans before anything else."""
from __future__ import annotations

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())
GUARD = re.compile(r"query\('ansible\.builtin\.varnames', '\^(?P<prefix>[a-z0-9_]+_)'\)")
ALLOW = re.compile(r"unsafe_values\(query\('ansible\.builtin\.vars', \*__\w+\)(?:, \[(?P<allow>[^\]]*)\])?\)")
# Variables a template may use that come from Ansible itself, not from the inventory.
ANSIBLE = re.compile(r"(ansible_\w+|inventory_hostname\w*|groups|hostvars|role_path|item|loop\w*|omit|"
                     r"lookup|query|range|true|false|none|True|False|None)\Z")


def guards() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for task_file in (ROOT / "roles").glob("*/tasks/*.yml"):
        for text in re.split(r"\n(?=- name:)", task_file.read_text()):
            if "unsafe_values(" not in text:
                continue
            guard, allow = GUARD.search(text), ALLOW.search(text)
            assert guard and allow, f"{task_file}: unreadable unsafe_values guard"
            names = re.findall(r"'([a-z0-9_]+)'", allow.group("allow") or "")
            found[guard.group("prefix")] = names
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_role_guards_its_own_variables(role):
    assert role + "_" in guards(), f"roles/{role}/tasks: no unsafe_values guard over ^{role}_"


def test_only_raw_directive_blocks_are_exempt():
    for prefix, allowed in guards().items():
        for name in allowed:
            assert name.startswith(prefix) and name.endswith("_extra_config"), name


def template_variables(text: str) -> set[str]:
    names: set[str] = set()
    for block in re.findall(r"\{\{(.*?)\}\}|\{%(.*?)%\}", text, re.S):
        code = " ".join(block)
        code = re.sub(r"'[^']*'|\"[^\"]*\"", "''", code)
        names.update(re.findall(r"(?<![\w.])([a-z][a-z0-9_]*)(?![\w(])", code))
    return names


def test_templates_render_only_guarded_inventory_variables():
    covered = tuple(guards())
    role_prefixes = tuple(role + "_" for role in ROLES)
    unguarded = []
    for template in (ROOT / "roles").glob("*/templates/**/*.j2"):
        for name in template_variables(template.read_text()):
            if name.startswith(role_prefixes) and not name.startswith(covered):
                unguarded.append(f"{template.relative_to(ROOT)}: {name}")
    assert unguarded == []


def test_the_scan_sees_role_variables():
    """Control: the template scan finds the variables a known template renders."""
    names = template_variables((ROOT / "roles/web2py/templates/web2py.service.j2").read_text())
    assert {"web2py_user", "web2py_server_port", "web2py_service_name"} <= names


def has_bool(options: dict) -> bool:
    return any(opt.get("type") == "bool" or has_bool(opt.get("options") or {})
               for opt in (options or {}).values())


def spec_has_bool(role: str) -> bool:
    spec = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())
    return any(has_bool(entry.get("options") or {}) for entry in spec["argument_specs"].values())


BOOL_ROLES = [role for role in ROLES if spec_has_bool(role)]


def test_the_spec_scan_sees_booleans():
    """Control: web2py's spec declares booleans (web2py_apps_writable, web2py_apps[].db_migrate)."""
    assert "web2py" in BOOL_ROLES and "postgres" in BOOL_ROLES


@pytest.mark.parametrize("role", BOOL_ROLES)
def test_boolean_settings_are_checked_first(role):
    for task_file in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        tasks = re.split(r"\n(?=- name:)", task_file.read_text())
        for index, task in enumerate(tasks):
            if "web2py.deploy.non_booleans(" in task:
                assert f"varnames', '^{role}_')" in task, f"{task_file}: not over ^{role}_"
                earlier = [t for t in tasks[:index] if "ansible.builtin.assert" in t]
                assert earlier == [], f"{task_file}: checks run before the boolean check"
                return
    pytest.fail(f"roles/{role}/tasks: no non_booleans check")
