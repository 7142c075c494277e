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
options:
  argv:
    description:
      - The program, then its arguments, one entry each (strings or numbers); never split again
        on the host, whatever they hold.
    type: list
    elements: str
    required: true
  stdin:
    description:
      - Text given to the command on its standard input.
    type: str
attributes:
  action:
    support: full
    description: An action plugin (the command goes through the connection as a raw command).
  check_mode:
    support: none
    description: Skipped in check mode unless the task sets C(check_mode) to V(false).
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: posix
    description: Hosts with a POSIX shell.
notes:
  - A non-zero exit status fails the task, as with M(ansible.builtin.command); use C(failed_when) to
    accept others.
  - The trailing line breaks of RV(stdout) and RV(stderr) are dropped, as
    M(ansible.builtin.command) drops them.
  - The task's C(environment) and C(chdir) do not apply (there is no module to apply them). The
    command runs with C(PAGER), C(SYSTEMD_PAGER) and C(DPKG_PAGER) set to C(cat) and
    C(SYSTEMD_COLORS=0), never on a terminal; without O(stdin) it reads C(/dev/null).
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
