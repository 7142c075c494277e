"""Unit tests of the web2py_service action plugin: systemctl's answer, and when the module runs."""
from __future__ import annotations

import typing as t
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.web2py.deploy.plugins.action import web2py_service as plugin

RUNNING = "IsEnabled=enabled\nLoadState=loaded\nActiveState=active\n"
STOPPED = "IsEnabled=disabled\nLoadState=loaded\nActiveState=inactive\n"


def test_query_command_quotes_the_name() -> None:
    cmd = plugin.query_command("web2py-sessions2trash@my app.timer")
    assert "systemctl --no-pager is-enabled -- 'web2py-sessions2trash@my app.timer'" in cmd
    assert "systemctl --no-pager show -p LoadState -p ActiveState -- 'web2py-sessions2trash@my app.timer'" in cmd
    assert "SYSTEMD_PAGER=cat SYSTEMD_COLORS=0" in cmd


def test_a_terminals_output_is_read_or_refused() -> None:
    # Over SSH (-tt): carriage returns are dropped; escape codes of a pager never match a state.
    assert plugin.in_place(plugin.parse("IsEnabled=enabled\r\nLoadState=loaded\r\nActiveState=active\r\n"), True, "started")
    assert not plugin.in_place(plugin.parse("IsEnabled=enabled\r\nLoadState=loaded\x1b[m\r\nActiveState=active\x1b[m\r\n"), True, "started")


def test_parse_keeps_the_first_of_each_key() -> None:
    assert plugin.parse("IsEnabled=\nLoadState=loaded\nLoadState=x\njunk\n") == {"IsEnabled": "", "LoadState": "loaded"}


@pytest.mark.parametrize(
    "status, enabled, state, expected",
    [
        (RUNNING, True, "started", True),
        (RUNNING, True, None, True),
        (RUNNING, None, "started", True),
        (RUNNING, False, None, False),
        (RUNNING, None, "stopped", False),
        (STOPPED, False, "stopped", True),
        (STOPPED, True, "started", False),
        ("IsEnabled=disabled\nLoadState=loaded\nActiveState=failed\n", False, "stopped", True),
        ("IsEnabled=enabled\nLoadState=loaded\nActiveState=activating\n", True, "started", False),
        ("IsEnabled=enabled\nLoadState=loaded\nActiveState=deactivating\n", None, "stopped", False),
        ("IsEnabled=enabled-runtime\nLoadState=loaded\nActiveState=active\n", True, "started", False),
        ("IsEnabled=static\nLoadState=loaded\nActiveState=active\n", True, None, False),
        ("IsEnabled=masked\nLoadState=masked\nActiveState=inactive\n", False, "stopped", False),
        ("IsEnabled=\nLoadState=not-found\nActiveState=inactive\n", None, "stopped", False),
        ("", True, "started", False),
    ],
)
def test_in_place(status: str, enabled: bool | None, state: str | None, expected: bool) -> None:
    assert plugin.in_place(plugin.parse(status), enabled, state) is expected


def _action(args: dict[str, t.Any], stdout: str = RUNNING, rc: int = 0) -> tuple[plugin.ActionModule, mock.MagicMock, mock.MagicMock]:
    task = Task()
    task.args = args
    action = plugin.ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    low = mock.MagicMock(return_value={"rc": rc, "stdout": stdout, "stderr": ""})
    module = mock.MagicMock(return_value={"changed": True, "status": {"ActiveState": "active"}})
    action._low_level_execute_command = low  # type: ignore[method-assign]
    action._execute_module = module  # type: ignore[method-assign]
    return action, low, module


def test_in_place_the_module_never_runs() -> None:
    action, low, module = _action({"name": "nginx.service", "enabled": True, "state": "started"})
    assert action.run(task_vars={}) == {"changed": False, "name": "nginx.service", "enabled": True, "state": "started"}
    assert low.call_args.kwargs["sudoable"] is True
    module.assert_not_called()


def test_string_booleans_are_read() -> None:
    action, _low, module = _action({"name": "nginx.service", "enabled": "yes", "state": "started"})
    assert action.run(task_vars={})["changed"] is False
    module.assert_not_called()


def test_not_in_place_runs_the_module_with_the_same_options() -> None:
    action, _low, module = _action({"name": "nginx.service", "enabled": True, "state": "started"}, STOPPED)
    result = action.run(task_vars={})
    assert result["changed"] is True and result["status"] == {"ActiveState": "active"}
    assert module.call_args.kwargs["module_name"] == "ansible.builtin.systemd_service"
    assert module.call_args.kwargs["module_args"] == {"name": "nginx.service", "enabled": True, "state": "started", "daemon_reload": False}


def test_daemon_reload_always_runs_the_module_without_asking() -> None:
    action, low, module = _action({"name": "x.service", "state": "started", "daemon_reload": True})
    action.run(task_vars={})
    low.assert_not_called()
    assert module.call_args.kwargs["module_args"] == {"name": "x.service", "state": "started", "daemon_reload": True}


def test_a_failed_query_runs_the_module() -> None:
    action, _low, module = _action({"name": "x.service", "enabled": True}, "", rc=127)
    action.run(task_vars={})
    module.assert_called_once()


def test_only_the_options_given_reach_the_module() -> None:
    action, _low, module = _action({"name": "x.timer", "enabled": False}, RUNNING)
    action.run(task_vars={})
    assert module.call_args.kwargs["module_args"] == {"name": "x.timer", "enabled": False, "daemon_reload": False}


@pytest.mark.parametrize(
    "args, word",
    [
        ({"enabled": True}, "name"),
        ({"name": "", "enabled": True}, "name"),
        ({"name": "-x", "enabled": True}, "name"),
        ({"name": "a\nb", "enabled": True}, "name"),
        ({"name": 3, "enabled": True}, "name"),
        ({"name": "x.service"}, "enabled, state"),
        ({"name": "x.service", "state": "restarted"}, "state"),
        ({"name": "x.service", "enabled": "maybe"}, "enabled"),
        ({"name": "x.service", "enabled": True, "masked": True}, "masked"),
    ],
)
def test_bad_options_fail_before_anything_runs(args: dict[str, t.Any], word: str) -> None:
    action, low, module = _action(args)
    with pytest.raises(AnsibleActionFail, match=word):
        action.run(task_vars={})
    low.assert_not_called()
    module.assert_not_called()
