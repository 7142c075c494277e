#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_command
short_description: Run a command on the host without a Python module
version_added: 1.0.0
description:
  - Runs one program with its arguments on the host, as M(ansible.builtin.command) does with
    O(argv), and returns the same keys (RV(rc), RV(stdout), RV(stderr) and their lines).
  - The command runs the way M(ansible.builtin.raw) runs one (a POSIX shell, with the task's
    privilege escalation), each argument quoted. No Python module is sent or started, so a run
    costs the connection alone. It is M(web2py.deploy.web2py_probe) for commands that may change
    the host.
  - Like M(ansible.builtin.command) it reports C(ok); say what counts as a change with
    C(changed_when).
  - In check mode it runs O(check_argv) instead of O(argv), a dry run of the same command (such
    as C(rsync --dry-run)), or is skipped when the task gives none. Check mode is the task's own,
    whoever set it (C(--check), or C(check_mode) on the play, a block or the task). A role that
    picked the dry run with C(ansible_check_mode) and ran the command with C(check_mode=false)
    ran it for real under a play's C(check_mode), since that variable only follows C(--check).
  - This is an action plugin; the module file only documents it.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  check_argv:
    description:
      - What runs in check mode instead of O(argv), in the same form (a dry run of the same
        command, which changes nothing). Without it the task is skipped in check mode.
    type: list
    elements: str
extends_documentation_fragment:
  - web2py.deploy.raw_command
attributes:
  check_mode:
    support: full
    description: Runs O(check_argv) in check mode (skipped without it).
seealso:
  - module: web2py.deploy.web2py_probe
  - module: ansible.builtin.command
  - module: ansible.builtin.raw
"""

EXAMPLES = r"""
- name: Sync the code from the stage (a dry run in check mode)
  web2py.deploy.web2py_command:
    argv: [rsync, -rlpt, --itemize-changes, /srv/stage/, /srv/app/]
    check_argv: [rsync, -rlpt, --itemize-changes, --dry-run, /srv/stage/, /srv/app/]
  register: sync
  changed_when: sync.stdout | length > 0
"""

RETURN = r"""
cmd:
  description: The program and its arguments.
  returned: always
  type: list
  elements: str
  sample: [rsync, -rlpt, /srv/stage/, /srv/app/]
rc:
  description: The exit status.
  returned: always
  type: int
  sample: 0
stdout:
  description: The standard output, trailing line breaks dropped.
  returned: always
  type: str
stdout_lines:
  description: RV(stdout) split into lines.
  returned: always
  type: list
  elements: str
stderr:
  description: The standard error, trailing line breaks dropped.
  returned: always
  type: str
stderr_lines:
  description: RV(stderr) split into lines.
  returned: always
  type: list
  elements: str
"""
