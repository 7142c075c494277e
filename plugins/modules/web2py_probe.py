#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_probe
short_description: Run a read-only command on the host without a Python module
version_added: 1.0.0
description:
  - Runs one program with its arguments on the host, as M(ansible.builtin.command) does with
    O(argv), and returns the same keys (RV(rc), RV(stdout), RV(stderr) and their lines).
  - The command runs the way M(ansible.builtin.raw) runs one (a POSIX shell, with the task's
    privilege escalation), each argument quoted. No Python module is sent or started, so a run
    costs the connection alone (about a quarter of a module run in the collection's lab).
  - Meant for probes, commands that only read (what is installed, who owns a folder). It runs in
    check mode as in a real run and always reports C(ok); a command that changes the host
    belongs in M(ansible.builtin.command).
  - This is an action plugin; the module file only documents it.
author:
  - web2py.deploy maintainers (@web2py-deploy)
extends_documentation_fragment:
  - web2py.deploy.raw_command
attributes:
  check_mode:
    support: full
    description: Runs in check mode too (it is for commands that change nothing).
seealso:
  - module: ansible.builtin.command
  - module: ansible.builtin.raw
"""

EXAMPLES = r"""
- name: Look at the folders (links never followed)
  web2py.deploy.web2py_probe:
    argv: [stat, -c, "%F %U %G %a %n", --, /srv/web2py, /srv/web2py/downloads]
  register: folders
  changed_when: false
  check_mode: false
"""

RETURN = r"""
cmd:
  description: The program and its arguments.
  returned: always
  type: list
  elements: str
  sample: [stat, -c, "%U", /srv]
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
