#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_command
short_description: Run a command on the host without a Python module
version_added: 0.3.0
description:
  - Runs one program with its arguments on the host, as M(ansible.builtin.command) does with
    O(argv), and returns the same keys (RV(rc), RV(stdout), RV(stderr) and their lines).
  - The command runs the way M(ansible.builtin.raw) runs one (a POSIX shell, with the task's
    privilege escalation), each argument quoted. No Python module is sent or started, so a run
    costs the connection alone. It is M(web2py.deploy.web2py_probe) for commands that may change
    the host.
  - Like M(ansible.builtin.command) it reports C(ok); say what counts as a change with
    C(changed_when). In check mode it is skipped, unless the task sets C(check_mode) to V(false)
    (for a command that only compares in check mode, such as C(rsync --dry-run)).
  - This is an action plugin; the module file only documents it.
author:
  - web2py.deploy maintainers (@web2py-deploy)
extends_documentation_fragment:
  - web2py.deploy.raw_command
attributes:
  check_mode:
    support: none
    description: Skipped in check mode unless the task sets C(check_mode) to V(false).
seealso:
  - module: web2py.deploy.web2py_probe
  - module: ansible.builtin.command
  - module: ansible.builtin.raw
"""

EXAMPLES = r"""
- name: Sync the code from the stage (a dry run in check mode)
  web2py.deploy.web2py_command:
    argv: "{{ ['rsync', '-rlpt', '--itemize-changes'] + (['--dry-run'] if ansible_check_mode else []) + ['/srv/stage/', '/srv/app/'] }}"
  register: sync
  changed_when: sync.stdout | length > 0
  check_mode: false
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
