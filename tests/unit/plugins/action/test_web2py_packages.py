"""Unit tests of the web2py_packages action plugin: dpkg's answer, and when apt runs."""
from __future__ import annotations

import typing as t
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.web2py.deploy.plugins.action import web2py_packages as plugin

DPKG_OUT = (
    "Native-Architecture=amd64\n"
    "nginx amd64 ii \nuwsgi-core amd64 ii \nlibc6 amd64 ii \nlibc6 i386 un \nold-tool amd64 rc \nbroken amd64 iF \n"
    "reinst amd64 iiR\nheld amd64 hi \ntzdata all ii \nforeign i386 ii \nswapped amd64 rc \nswapped i386 ii \n"
)


def test_installed_packages_reads_only_installed_without_error() -> None:
    assert plugin.installed_packages(DPKG_OUT) == {"nginx", "uwsgi-core", "libc6", "held", "tzdata"}


def test_another_architecture_does_not_count() -> None:
    # apt's plain name is the host's architecture: an i386 copy alone is not "hello" installed.
    assert plugin.missing_packages(["foreign", "swapped", "tzdata"], DPKG_OUT) == ["foreign", "swapped"]


def test_without_the_architecture_nothing_counts() -> None:
    assert plugin.installed_packages("nginx amd64 ii \n") == set()


def test_a_terminals_carriage_returns_are_ignored() -> None:
    assert plugin.installed_packages("Native-Architecture=arm64\r\nnginx arm64 ii \r\nx amd64 ii \r\n") == {"nginx"}


def test_missing_packages_keeps_order_and_counts_unknown_names() -> None:
    names = ["uwsgi-core", "old-tool", "never-seen", "nginx", "broken", "reinst"]
    assert plugin.missing_packages(names, DPKG_OUT) == ["old-tool", "never-seen", "broken", "reinst"]


def test_query_command_quotes_everything() -> None:
    cmd = plugin.query_command(["nginx", "libapache2-mod-wsgi-py3"])
    assert cmd == (
        "LC_ALL=C; export LC_ALL; echo Native-Architecture=\"$(dpkg --print-architecture)\"; "
        "dpkg-query -W -f='${Package} ${Architecture} ${db:Status-Abbrev}\\n' -- nginx libapache2-mod-wsgi-py3"
    )


@pytest.mark.parametrize("name", ["nginx", "python3-psycopg2", "g++", "libstdc++6", "node.js"])
def test_plain_names_are_asked(name: str) -> None:
    assert plugin._NAME.match(name)


@pytest.mark.parametrize("name", ["nginx=1.22", "nginx:amd64", "nginx*", "/tmp/x.deb", "Nginx", "n", "nginx\n", "a b", "-x"])
def test_other_names_go_to_apt(name: str) -> None:
    assert not plugin._NAME.match(name)


def _action(args: dict[str, t.Any], dpkg: dict[str, t.Any] | None = None) -> tuple[plugin.ActionModule, mock.MagicMock, mock.MagicMock]:
    task = Task()
    task.args = args
    action = plugin.ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    low = mock.MagicMock(return_value=dpkg if dpkg is not None else {"rc": 0, "stdout": DPKG_OUT, "stderr": ""})
    apt = mock.MagicMock(return_value={"changed": True, "cache_updated": True})
    action._low_level_execute_command = low  # type: ignore[method-assign]
    action._execute_module = apt  # type: ignore[method-assign]
    return action, low, apt


def test_all_installed_apt_never_runs() -> None:
    action, low, apt = _action({"name": ["nginx", "uwsgi-core"]})
    result = action.run(task_vars={})
    assert result["changed"] is False and result["missing"] == [] and result["packages"] == ["nginx", "uwsgi-core"]
    low.assert_called_once()
    assert low.call_args.kwargs["sudoable"] is True
    apt.assert_not_called()


def test_a_single_name_as_a_string() -> None:
    action, _low, apt = _action({"name": "nginx"})
    assert action.run(task_vars={})["changed"] is False
    apt.assert_not_called()


def test_a_missing_package_runs_apt_with_every_name_and_the_cache_options() -> None:
    action, _low, apt = _action({"name": ["nginx", "old-tool"], "cache_valid_time": 60})
    result = action.run(task_vars={"x": 1})
    assert result["changed"] is True and result["missing"] == ["old-tool"] and result["cache_updated"] is True
    apt.assert_called_once()
    assert apt.call_args.kwargs["module_name"] == "ansible.builtin.apt"
    assert apt.call_args.kwargs["module_args"] == {"name": ["nginx", "old-tool"], "state": "present", "update_cache": True, "cache_valid_time": 60}


def test_unknown_name_dpkg_exits_1_still_read() -> None:
    dpkg = {"rc": 1, "stdout": "Native-Architecture=amd64\nnginx amd64 ii \n", "stderr": "dpkg-query: no packages found matching nothere"}
    action, _low, apt = _action({"name": ["nginx", "nothere"]}, dpkg)
    assert action.run(task_vars={})["missing"] == ["nothere"]
    apt.assert_called_once()


def test_unreadable_answer_runs_apt() -> None:
    action, _low, apt = _action({"name": ["nginx"]}, {"rc": 127, "stdout": "", "stderr": "dpkg-query: not found"})
    assert action.run(task_vars={})["missing"] == ["nginx"]
    apt.assert_called_once()


def test_a_version_pin_is_not_asked_but_given_to_apt() -> None:
    action, low, apt = _action({"name": ["nginx=1.22.1-9"]})
    action.run(task_vars={})
    low.assert_not_called()
    apt.assert_called_once()


def test_apt_failure_is_returned() -> None:
    action, _low, apt = _action({"name": ["old-tool"]})
    apt.return_value = {"failed": True, "msg": "No package matching 'old-tool' is available"}
    result = action.run(task_vars={})
    assert result["failed"] is True and "old-tool" in result["msg"]


@pytest.mark.parametrize("args", [{}, {"name": []}, {"name": [""]}, {"name": [1]}, {"name": {"a": 1}}])
def test_bad_names_fail(args: dict[str, t.Any]) -> None:
    action, low, apt = _action(args)
    with pytest.raises(AnsibleActionFail, match="name"):
        action.run(task_vars={})
    low.assert_not_called()
    apt.assert_not_called()


def test_unknown_argument_fails() -> None:
    action, low, _apt = _action({"name": ["nginx"], "state": "absent"})
    with pytest.raises(AnsibleActionFail, match="state"):
        action.run(task_vars={})
    low.assert_not_called()
