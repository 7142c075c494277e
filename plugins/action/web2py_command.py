# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of web2py.deploy.web2py_command (documentation: plugins/modules/web2py_command.py).

web2py.deploy.web2py_probe's way of running a command (a shell through the connection, as
ansible.builtin.raw does, no Python module sent; ansible.builtin.command's answer), for commands
that may change the host: like ansible.builtin.command it does not run in check mode unless the
task says check_mode: false (a task that makes its command a dry run in check mode).
"""
from __future__ import annotations

from ansible_collections.web2py.deploy.plugins.action.web2py_probe import ActionModule as ProbeActionModule


class ActionModule(ProbeActionModule):
    # Skipped in check mode, as ansible.builtin.command is, unless the task sets check_mode: false.
    _supports_check_mode = False
