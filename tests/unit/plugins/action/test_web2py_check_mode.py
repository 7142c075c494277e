"""Unit tests of the web2py_check_mode action plugin: the task's check mode, as a fact."""
from __future__ import annotations

from unittest import mock

import pytest
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.web2py.deploy.plugins.action import web2py_check_mode as plugin


def _run(check_mode: bool | None, args: dict | None = None) -> dict:
    task = Task()
    task.args = args or {}
    task.check_mode = check_mode
    connection = mock.MagicMock()
    action = plugin.ActionModule(task, connection, PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    result = action.run(task_vars={})
    assert not connection.method_calls, "nothing runs on the host"
    return result


@pytest.mark.parametrize("check_mode", [True, False])
def test_the_fact_is_the_tasks_check_mode(check_mode: bool) -> None:
    result = _run(check_mode)
    assert result["ansible_facts"] == {"web2py_deploy_check_mode": check_mode}
    assert result["check_mode"] is check_mode and result["changed"] is False


def test_unset_is_false() -> None:
    assert _run(None)["ansible_facts"] == {"web2py_deploy_check_mode": False}


def test_takes_no_option() -> None:
    with pytest.raises(Exception, match="takes no option, not: mode"):
        _run(False, {"mode": "check"})
