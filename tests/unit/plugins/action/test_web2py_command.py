"""Unit tests of the web2py_command action plugin: web2py_probe's run; check_argv (or nothing) in check mode."""
from __future__ import annotations

import typing as t
from unittest import mock

import pytest
from ansible.errors import AnsibleActionSkip
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.web2py.deploy.plugins.action import web2py_command as plugin
from ansible_collections.web2py.deploy.plugins.action import web2py_probe


def _action(args: dict[str, t.Any], output: dict[str, t.Any], check_mode: bool) -> tuple[plugin.ActionModule, mock.MagicMock]:
    task = Task()
    task.args = args
    task.check_mode = check_mode
    action = plugin.ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    low = mock.MagicMock(return_value=output)
    action._low_level_execute_command = low  # type: ignore[method-assign]
    return action, low


def test_runs_and_answers_like_command() -> None:
    action, low = _action({"argv": ["rsync", "-a", "/a b/", "/c/"]}, {"rc": 0, "stdout": ">f+++ x\n", "stderr": ""}, False)
    result = action.run(task_vars={})
    assert result["rc"] == 0 and result["stdout_lines"] == [">f+++ x"] and result["changed"] is False
    assert low.call_args.args == (web2py_probe.NO_PAGER + "'rsync' -a '/a b/' /c/ </dev/null",)


def test_skipped_in_check_mode() -> None:
    """Like ansible.builtin.command: a task in check mode without check_argv does not run it."""
    action, low = _action({"argv": ["rm", "-rf", "/srv/x"]}, {"rc": 0}, True)
    with pytest.raises(AnsibleActionSkip, match="check mode"):
        action.run(task_vars={})
    assert not low.called


def test_the_probe_still_runs_in_check_mode() -> None:
    task = Task()
    task.args = {"argv": ["true"]}
    task.check_mode = True
    action = web2py_probe.ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    action._low_level_execute_command = mock.MagicMock(return_value={"rc": 0})  # type: ignore[method-assign]
    assert action.run(task_vars={})["rc"] == 0


@pytest.mark.parametrize("args", [{"argv": ["true"], "chdir": "/tmp"}, {"argv": "true false"}])
def test_refuses_what_probe_refuses(args: dict[str, t.Any]) -> None:
    action, _low = _action(args, {"rc": 0}, False)
    with pytest.raises(Exception, match="chdir|argv"):
        action.run(task_vars={})


def test_check_mode_runs_check_argv_and_a_real_run_argv() -> None:
    """The task's check mode picks the command (a play's check_mode sets the task's, which
    ansible_check_mode does not follow): check_argv in check mode, argv otherwise."""
    args = {"argv": ["rsync", "-a", "/s/", "/d/"], "check_argv": ["rsync", "-a", "--dry-run", "/s/", "/d/"]}
    action, low = _action(args, {"rc": 0, "stdout": ">f+++ x", "stderr": ""}, True)
    result = action.run(task_vars={})
    assert result["cmd"] == ["rsync", "-a", "--dry-run", "/s/", "/d/"] and result["stdout_lines"] == [">f+++ x"]
    assert low.call_args.args == (web2py_probe.NO_PAGER + "'rsync' -a --dry-run /s/ /d/ </dev/null",)
    action, low = _action(args, {"rc": 0, "stdout": "", "stderr": ""}, False)
    assert action.run(task_vars={})["cmd"] == ["rsync", "-a", "/s/", "/d/"]
    assert low.call_args.args == (web2py_probe.NO_PAGER + "'rsync' -a /s/ /d/ </dev/null",)


def test_check_argv_is_checked_as_argv() -> None:
    action, low = _action({"argv": ["true"], "check_argv": "rm -rf /"}, {"rc": 0}, True)
    with pytest.raises(Exception, match="argv: a list"):
        action.run(task_vars={})
    assert not low.called
