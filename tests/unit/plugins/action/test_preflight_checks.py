"""Unit tests of the preflight_checks action: one task validates several roles' inputs (platform,
argument spec, types, the asserts of tasks/validate.yml, line breaks) the way Ansible would."""
from __future__ import annotations

import pathlib
import typing as t
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar, trust_as_template

from ansible_collections.web2py.deploy.plugins.action import preflight_checks as plugin

SPEC = """
argument_specs:
  main:
    options:
      demo_name: {type: str, default: site}
      demo_port: {type: int, default: 80}
      demo_flags: {type: list, elements: str, default: []}
      demo_password: {type: str, default: "", no_log: true}
      demo_mode: {type: str, choices: [a, b], default: a}
      demo_extra_config: {type: str, default: ""}
"""
CHECKS = """
- name: Check the name
  ansible.builtin.assert:
    that:
      - demo_name is match('[a-z]+\\\\Z')
      - __demo_limit | int >= demo_port | int
    fail_msg: "demo_name {{ demo_name }} or demo_port {{ demo_port }} is wrong"
    quiet: true
  vars:
    __demo_limit: "{{ 1000 + 24 }}"

- name: Check each flag
  ansible.builtin.assert:
    that: flag != 'bad'
    fail_msg: "demo_flags: {{ flag }} is refused"
  loop: "{{ demo_flags }}"
  loop_control:
    loop_var: flag
  when: flag != 'skipped-bad'
"""
FACTS = {"ansible_facts": {"distribution": "Debian", "distribution_major_version": "13", "distribution_version": "13.2"}}
GOOD = {"demo_name": "site", "demo_port": 80, "demo_flags": ["x"], "demo_password": "", "demo_mode": "a", "demo_extra_config": ""}


@pytest.fixture
def roles_dir(tmp_path: pathlib.Path) -> str:
    role = tmp_path / "demo"
    for folder in ("meta", "tasks", "vars", "defaults"):
        (role / folder).mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(SPEC)
    (role / "tasks" / "validate.yml").write_text(CHECKS)
    (role / "vars" / "Debian-13.yml").write_text("{}\n")
    (role / "vars" / "Debian-12.yml").write_text("{}\n")
    (role / "vars" / "main.yml").write_text("demo_output: 1\n")
    return str(tmp_path)


def run(roles_dir: str, settings: dict[str, t.Any], facts: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
    task = Task()
    task.args = {"roles": ["demo"], "roles_dir": roles_dir}
    variables = dict(facts or FACTS, **settings)
    loader = DataLoader()
    templar = Templar(loader=loader, variables=variables)
    action = plugin.ActionModule(task, mock.MagicMock(), PlayContext(), loader=loader, templar=templar, shared_loader_obj=None)
    return action.run(task_vars=variables)


def test_good_settings_pass(roles_dir: str) -> None:
    result = run(roles_dir, GOOD)
    assert not result.get("failed") and result["validated"] == ["demo"] and result["changed"] is False, result


def test_a_check_fails_with_its_message_rendered(roles_dir: str) -> None:
    result = run(roles_dir, dict(GOOD, demo_name="Bad Name"))
    assert result["failed"] and result["msg"] == "web2py.deploy.demo: demo_name Bad Name or demo_port 80 is wrong"


def test_a_checks_own_vars_are_rendered(roles_dir: str) -> None:
    assert not run(roles_dir, dict(GOOD, demo_port=1024)).get("failed")
    assert run(roles_dir, dict(GOOD, demo_port=1025))["failed"]


def test_loops_with_their_loop_var_and_when_per_item(roles_dir: str) -> None:
    result = run(roles_dir, dict(GOOD, demo_flags=["ok", "bad"]))
    assert result["msg"] == "web2py.deploy.demo: demo_flags: bad is refused"
    assert not run(roles_dir, dict(GOOD, demo_flags=["ok", "skipped-bad"])).get("failed")


def test_settings_that_are_templates_are_rendered_first(roles_dir: str) -> None:
    templates = {"demo_name": trust_as_template("{{ 'Up' ~ 'per' }}"), "demo_port": trust_as_template("{{ 40 * 2 }}")}
    result = run(roles_dir, dict(GOOD, **templates))
    assert result["msg"] == "web2py.deploy.demo: demo_name Upper or demo_port 80 is wrong"


def test_the_argument_spec_first_and_no_secret_in_its_message(roles_dir: str) -> None:
    result = run(roles_dir, dict(GOOD, demo_mode="c", demo_password="s3cret-pass", demo_name="Bad Name"))
    assert result["failed"] and "demo_mode must be one of: a, b" in result["msg"], result["msg"]
    assert "demo_name" not in result["msg"]  # the role's checks did not run on refused values
    result = run(roles_dir, dict(GOOD, demo_mode="s3cret-pass", demo_password="s3cret-pass"))
    assert "s3cret-pass" not in result["msg"] and "********" in result["msg"], result["msg"]


def test_types_the_argument_spec_would_convert(roles_dir: str) -> None:
    result = run(roles_dir, dict(GOOD, demo_flags="ab"))
    assert result["failed"] and result["msg"].startswith("web2py.deploy.demo: demo_flags (a list): not of the declared type"), result["msg"]


@pytest.mark.parametrize("name", ["demo_password", "demo_other_setting"])
def test_line_breaks_in_any_setting_of_the_role(roles_dir: str, name: str) -> None:
    settings = dict(GOOD, **{name: "a\nb"})
    result = run(roles_dir, settings)
    assert result["failed"] and name in result["msg"], result["msg"]
    assert "a\nb" not in result["msg"]


def test_a_trailing_line_break_does_not_pass_an_anchored_check(roles_dir: str) -> None:
    result = run(roles_dir, dict(GOOD, demo_name="site\n"))
    assert result["failed"] and "is wrong" in result["msg"], result["msg"]


def test_raw_directives_may_hold_line_breaks(roles_dir: str) -> None:
    assert not run(roles_dir, dict(GOOD, demo_extra_config="Header set A b\nHeader set C d")).get("failed")


def test_an_unsupported_platform_names_the_supported_ones(roles_dir: str) -> None:
    facts = {"ansible_facts": {"distribution": "Debian", "distribution_major_version": "11", "distribution_version": "11.9"}}
    result = run(roles_dir, GOOD, facts)
    assert result["msg"] == "Unsupported platform: web2py.deploy.demo supports Debian 12, Debian 13; this host runs Debian 11.9."


def test_a_check_that_runs_a_module_is_refused(roles_dir: str) -> None:
    path = pathlib.Path(roles_dir, "demo", "tasks", "validate.yml")
    path.write_text(CHECKS + "\n- name: Probe\n  ansible.builtin.command: id\n")
    with pytest.raises(AnsibleActionFail, match="'Probe' is not an assert"):
        run(roles_dir, GOOD)
    path.write_text(CHECKS + "\n- name: Registers\n  ansible.builtin.assert: {that: true}\n  register: x\n")
    with pytest.raises(AnsibleActionFail, match="'Registers' is not an assert"):
        run(roles_dir, GOOD)


def test_a_check_that_cannot_be_evaluated_says_so(roles_dir: str) -> None:
    path = pathlib.Path(roles_dir, "demo", "tasks", "validate.yml")
    path.write_text("- name: Reads an undefined name\n  ansible.builtin.assert:\n    that: no_such_setting == 1\n")
    result = run(roles_dir, GOOD)
    assert result["failed"] and "Reads an undefined name: cannot be evaluated" in result["msg"], result["msg"]


def test_a_setting_that_cannot_be_rendered_is_named_never_quoted(roles_dir: str) -> None:
    """Validated, not left for later: an undefined name (named) or a broken template (not quoted)."""
    result = run(roles_dir, dict(GOOD, demo_name=trust_as_template("{{ inventory_hostname_typo }}")))
    assert result["failed"] and result["msg"] == (
        "web2py.deploy.demo: demo_name cannot be rendered: it refers to variable inventory_hostname_typo, which is not defined")
    result = run(roles_dir, dict(GOOD, demo_password=trust_as_template("Xy{%Secret123")))
    assert result["failed"] and "demo_password cannot be rendered: its text is not a valid template" in result["msg"]
    assert "Secret123" not in result["msg"]
    result = run(roles_dir, dict(GOOD, demo_other=trust_as_template("{{ nope.attr }}")))
    assert result["failed"] and "demo_other cannot be rendered" in result["msg"], result["msg"]


def test_defaults_of_the_roles_it_depends_on_fill_what_is_not_visible(roles_dir: str) -> None:
    """Under include_role preflight does not see its sibling dependencies' defaults; a setting that
    follows one of them is rendered with that role's default, and checked."""
    base = pathlib.Path(roles_dir, "base")
    (base / "defaults").mkdir(parents=True)
    (base / "defaults" / "main.yml").write_text("base_name: fromdefault\nbase_upper: Upper Case\n")
    (pathlib.Path(roles_dir, "demo", "meta") / "main.yml").write_text("dependencies:\n  - role: web2py.deploy.base\n")
    assert not run(roles_dir, dict(GOOD, demo_name=trust_as_template("{{ base_name }}"))).get("failed")
    result = run(roles_dir, dict(GOOD, demo_name=trust_as_template("{{ base_upper }}")))
    assert result["msg"] == "web2py.deploy.demo: demo_name Upper Case or demo_port 80 is wrong"
    # what the play defines wins over the default
    assert run(roles_dir, dict(GOOD, demo_name=trust_as_template("{{ base_upper }}"), base_upper="lower")).get("failed") is None
