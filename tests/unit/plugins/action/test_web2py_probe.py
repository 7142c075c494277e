"""Unit tests of the web2py_probe action plugin: the command line, and command's answer."""
from __future__ import annotations

import shlex
import typing as t
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task

from ansible_collections.web2py.deploy.plugins.action import web2py_probe as plugin


@pytest.mark.parametrize("argv", [
    ["stat", "-c", "%F %U %G %a %n", "--", "/srv/web2py", "/srv/a b"],
    ["sh", "-c", 'r=$1; shift; echo "$r" `id` $(whoami); printf "%s\\n" "$@"', "sh", "it's", "a\nb", "*", "-x", ""],
    ["getent", "passwd", 1000],
])
def test_command_line_gives_each_word_back(argv: list[t.Any]) -> None:
    words = shlex.split(plugin.command_line(argv))
    assert words[:4] == ["PAGER=cat", "SYSTEMD_PAGER=cat", "DPKG_PAGER=cat", "SYSTEMD_COLORS=0"]
    assert words[4:] == [str(word) for word in argv]


@pytest.mark.parametrize("argv", [None, [], "ls -l", [""], ["ls", None], ["ls", True], ["ls", ["a"]], ["ls", "a\0b"], {"a": 1}])
def test_command_line_refuses(argv: t.Any) -> None:
    with pytest.raises(AnsibleActionFail, match="argv"):
        plugin.command_line(argv)


def _action(args: dict[str, t.Any], output: dict[str, t.Any]) -> tuple[plugin.ActionModule, mock.MagicMock]:
    task = Task()
    task.args = args
    action = plugin.ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    low = mock.MagicMock(return_value=output)
    action._low_level_execute_command = low  # type: ignore[method-assign]
    return action, low


def test_answers_like_command() -> None:
    action, low = _action({"argv": ["sh", "-c", "x"]}, {"rc": 0, "stdout": "a\r\nb\r\n\n", "stderr": "warn\n"})
    result = action.run(task_vars={})
    assert result == {"changed": False, "cmd": ["sh", "-c", "x"], "rc": 0, "stdout": "a\nb", "stdout_lines": ["a", "b"],
                      "stderr": "warn", "stderr_lines": ["warn"]}
    assert low.call_args.args == (plugin.NO_PAGER + "'sh' -c x </dev/null",)
    # never nothing to send: the ssh connection would ask for a terminal
    assert low.call_args.kwargs == {"sudoable": True, "in_data": b"\n"}


def test_stdin_reaches_the_command() -> None:
    action, low = _action({"argv": ["cat"], "stdin": "secret %s 'x' ü"}, {"rc": 0, "stdout": "", "stderr": ""})
    action.run(task_vars={})
    assert low.call_args.kwargs["in_data"] == "secret %s 'x' ü".encode()


def test_the_program_is_always_quoted() -> None:
    """Unquoted, NAME=value would set a variable for what follows instead of being run."""
    assert shlex.split(plugin.command_line(["FOO=bar", "sh"]))[4:] == ["FOO=bar", "sh"]
    assert plugin.command_line(["FOO=bar", "sh"]).endswith("'FOO=bar' sh")
    assert plugin.command_line(["it's", "x"]).endswith("""'it'"'"'s' x""")


def test_bytes_that_are_not_utf8_read_as_replacement_characters() -> None:
    action, _low = _action({"argv": ["printf", "x"]}, {"rc": 0, "stdout": "ok\udcff\udcfex", "stderr": b"e\xff"})
    result = action.run(task_vars={})
    assert result["stdout"] == "ok\ufffd\ufffdx" and result["stderr"] == "e\ufffd"


def test_a_non_zero_status_fails() -> None:
    action, _low = _action({"argv": ["false"]}, {"rc": 1, "stdout": "", "stderr": "no"})
    result = action.run(task_vars={})
    assert result["failed"] is True and result["rc"] == 1 and result["msg"] == "non-zero return code"


def test_missing_output_is_empty() -> None:
    action, _low = _action({"argv": ["true"]}, {"rc": 0})
    result = action.run(task_vars={})
    assert result["stdout"] == "" and result["stdout_lines"] == [] and result["stderr_lines"] == []


@pytest.mark.parametrize("args", [{"argv": ["cat"], "stdin": 3}, {"argv": ["cat"], "stdin": ["a"]}])
def test_stdin_must_be_text(args: dict[str, t.Any]) -> None:
    action, _low = _action(args, {"rc": 0})
    with pytest.raises(AnsibleActionFail, match="stdin"):
        action.run(task_vars={})


def test_unknown_options_are_refused() -> None:
    action, _low = _action({"argv": ["true"], "chdir": "/tmp"}, {"rc": 0})
    with pytest.raises(AnsibleActionFail, match="chdir"):
        action.run(task_vars={})
