#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_check_mode
short_description: Record whether the task runs in check mode, whoever set it
version_added: 1.0.0
description:
  - Sets the fact C(web2py_deploy_check_mode) to the task's check mode (true under C(--check),
    and under C(check_mode) set on the play, a block or the task).
  - C(ansible_check_mode) follows C(--check) only. In a play with C(check_mode=true) (such as
    C(playbooks/rolling.yml)'s check pass) it stays false while every task runs in check mode, so
    a role that chose its check-mode path with it took the real-run path there. The roles of
    web2py.deploy read this fact instead; their first dependency, C(web2py.deploy.preflight),
    sets it.
  - Nothing runs on the host. This is an action plugin; the module file only documents it.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options: {}
attributes:
  action:
    support: full
    description: An action plugin, run on the controller.
  check_mode:
    support: full
    description: Reports check mode; changes nothing.
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: all
    description: Reads the task only.
seealso:
  - module: web2py.deploy.web2py_command
"""

EXAMPLES = r"""
- name: Record whether this play runs in check mode
  web2py.deploy.web2py_check_mode:

- name: Only in a real run
  ansible.builtin.debug:
    msg: the real path
  when: not web2py_deploy_check_mode
"""

RETURN = r"""
check_mode:
  description: Whether the task ran in check mode.
  returned: always
  type: bool
  sample: true
ansible_facts:
  description: The fact set.
  returned: always
  type: dict
  contains:
    web2py_deploy_check_mode:
      description: Whether the task ran in check mode.
      type: bool
      sample: true
"""
