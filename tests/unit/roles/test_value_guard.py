"""Every role runs the shared control-character guard over its own variables, every inventory
variable a template renders is one a guard covers, and every role checks first that its
settings have the declared types."""
from __future__ import annotations

import pathlib
import re

import pytest

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


@pytest.mark.parametrize("role", ROLES)
def test_setting_types_are_checked_first(role):
    """Every role checks, before anything else, that its settings have the types its argument
    spec declares (a string from -e for a bool, list or dict passes the spec)."""
    for task_file in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
        tasks = re.split(r"\n(?=- name:)", task_file.read_text())
        for index, task in enumerate(tasks):
            if "web2py.deploy.type_problems(" in task:
                assert f"varnames', '^{role}_')" in task, f"{task_file}: not over ^{role}_"
                assert "role_path ~ '/meta/argument_specs.yml'" in task, f"{task_file}: not the role's own spec"
                earlier = [t for t in tasks[:index] if "ansible.builtin.assert" in t]
                assert earlier == [], f"{task_file}: checks run before the type check"
                return
    pytest.fail(f"roles/{role}/tasks: no type_problems check")
