# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of web2py.deploy.web2py_command (documentation: plugins/modules/web2py_command.py).

web2py.deploy.web2py_probe's way of running a command (a shell through the connection, as
ansible.builtin.raw does, no Python module sent; ansible.builtin.command's answer), for commands
that may change the host. In check mode (--check, or check_mode on the play, block or task) it
runs check_argv instead, a dry run of the same command, or is skipped when there is none.
"""
from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionSkip

from ansible_collections.web2py.deploy.plugins.action.web2py_probe import ActionModule as ProbeActionModule


class ActionModule(ProbeActionModule):
    # It decides itself what check mode runs (check_argv, or nothing).
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("argv", "stdin", "check_argv"))

    def _argv(self) -> t.Any:
        return self._task.args.get("check_argv" if self._task.check_mode else "argv")

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        # The task's own check mode, whoever set it: ansible_check_mode only follows --check, so
        # a role cannot choose a dry run with it under a play's check_mode.
        if self._task.check_mode and self._task.args.get("check_argv") is None:
            raise AnsibleActionSkip("check mode: the command does not run (the task gives no check_argv, a dry run of it)")
        return super().run(tmp, task_vars)
