# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What web2py.deploy.web2py_probe and web2py.deploy.web2py_command share: both run one
command through the connection the way ansible.builtin.raw does (plugins/action/web2py_probe.py)."""
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
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
    C(SYSTEMD_COLORS=0), and never on a terminal (the ssh connection asks for one when it has
    nothing to send on the command's input; a line break is sent, and without O(stdin) the
    command reads C(/dev/null)). Output that is not UTF-8 comes back with U+FFFD in place of
    the bytes, as from M(ansible.builtin.command).
"""
