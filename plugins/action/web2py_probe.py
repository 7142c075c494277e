# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of web2py.deploy.web2py_probe (documentation: plugins/modules/web2py_probe.py).

Runs one read-only command on the host the way ansible.builtin.raw does (a shell, no Python
module sent), with become applied, and answers like ansible.builtin.command: rc, stdout,
stderr and their lines. A command module run costs a Python start and the module's imports on
the host; the roles' probes (what is installed, who owns which folder) only read, so they run
here at the cost of the connection alone.
"""
from __future__ import annotations

import shlex
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase


NO_PAGER = "PAGER=cat SYSTEMD_PAGER=cat DPKG_PAGER=cat SYSTEMD_COLORS=0 "


def command_line(argv: t.Any) -> str:
    """The shell command that runs argv as one program with these arguments, each quoted."""
    if not isinstance(argv, (list, tuple)) or not argv:
        raise AnsibleActionFail("argv: a list, the program then its arguments")
    words = []
    for word in argv:
        if isinstance(word, bool) or not isinstance(word, (str, int, float)):
            raise AnsibleActionFail("argv: each entry a string (or a number), not %r" % (word,))
        text = str(word)
        if "\0" in text:
            raise AnsibleActionFail("argv: an entry holds a NUL byte")
        words.append(text)
    if not words[0]:
        raise AnsibleActionFail("argv: the program's name is empty")
    # No pager and no colours, whatever the connection does. The program's name is always quoted:
    # unquoted, "NAME=value" would be read as one more variable for the shell.
    program = "'" + words[0].replace("'", "'\"'\"'") + "'"
    return NO_PAGER + " ".join([program] + [shlex.quote(word) for word in words[1:]])


def _text(value: t.Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return (value or "").encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def answer(argv: list[str], output: dict[str, t.Any]) -> dict[str, t.Any]:
    """ansible.builtin.command's keys from a low-level run's result: a terminal's line ends read as
    plain line breaks, trailing line breaks dropped (as command drops them), bytes that are not
    UTF-8 as U+FFFD (as command gives them)."""
    stdout = _text(output.get("stdout")).replace("\r\n", "\n").rstrip("\r\n")
    stderr = _text(output.get("stderr")).replace("\r\n", "\n").rstrip("\r\n")
    rc = output.get("rc")
    result: dict[str, t.Any] = {
        "changed": False,
        "cmd": [str(word) for word in argv],
        "rc": rc,
        "stdout": stdout,
        "stdout_lines": stdout.splitlines(),
        "stderr": stderr,
        "stderr_lines": stderr.splitlines(),
    }
    if rc != 0:
        result["failed"] = True
        result["msg"] = "non-zero return code"
    return result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    # It only reads: it runs in check mode as in a real run (its tasks say check_mode: false too).
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("argv", "stdin"))

    def _argv(self) -> t.Any:
        """The command to run (web2py_command: check_argv in check mode)."""
        return self._task.args.get("argv")

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        del tmp
        argv = self._argv()
        stdin = self._task.args.get("stdin")
        if stdin is not None and not isinstance(stdin, str):
            raise AnsibleActionFail("stdin: a string")
        cmd = command_line(argv)
        if stdin is None:
            # Never a terminal: the ssh connection asks for one (-tt) when it has nothing to send,
            # and on a terminal stderr joins stdout, lines end in CR LF and systemctl cuts them
            # to its width. A line break is sent, and the command reads /dev/null instead.
            cmd += " </dev/null"
            in_data = b"\n"
        else:
            in_data = to_bytes(str(stdin), errors="surrogate_or_strict")
        output = self._low_level_execute_command(cmd, sudoable=True, in_data=in_data)
        result.update(answer(argv, output))
        return result
