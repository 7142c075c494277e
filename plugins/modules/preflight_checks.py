#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight_checks
short_description: Validate the inputs of this collection's roles in one task
version_added: 1.0.0
description:
  - Validates the inputs of some of this collection's roles, on the controller, with the variables
    the task sees, and fails naming every role's first problem. Nothing is sent to the host.
  - First the platform, for every role (each role names the releases it supports with a
    C(vars/<Distribution>-<major>.yml) file). Then, role by role, stopping at a role's first
    kind of problem (later checks read what an earlier one refused), in this order.
  - 1. the role's argument spec (C(meta/argument_specs.yml)), as M(ansible.builtin.validate_argument_spec)
    checks it; the values of its C(no_log) options are masked in the message;
  - 2. the types of the role's settings (a list, a mapping or a boolean given as a string, as
    C(-e name=value) gives one, is refused instead of converted);
  - 3. the role's own checks, the assert tasks of its C(tasks/validate.yml), each evaluated as
    Ansible would run it (its C(vars) over the task's, its C(when) and C(that) for every item of
    its C(loop), its C(fail_msg) rendered as the message); a task there that is not such an assert
    is an error (checks that run a module go in C(tasks/validate_modules.yml), which the preflight
    role includes after this task);
  - 4. line breaks and control characters in any of the role's settings (but settings ending in
    C(_extra_config), raw directives the servers check themselves).
  - Used by the C(web2py.deploy.preflight) role; one task instead of four or more per role.
  - This is an action plugin; the module file only documents it.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  roles:
    description:
      - The roles to validate, by their folder name in this collection (C(web2py), C(nginx_uwsgi)...).
    type: list
    elements: str
    required: true
  roles_dir:
    description:
      - The collection's C(roles) folder.
    type: path
    required: true
attributes:
  action:
    support: full
    description: An action plugin; it runs on the controller only.
  check_mode:
    support: full
    description: Runs in check mode too (it changes nothing).
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: posix
    description: Any host (nothing runs on it).
notes:
  - The messages are the roles' own (their C(fail_msg)), which name the setting and never print
    a secret. C(no_log) on a check is accepted and its message shown all the same, as
    ansible-core shows a failed assert's message in its error line.
  - A setting that cannot be rendered (it refers to a variable that is not defined, or its text
    is not a valid template) is named, never quoted. Before that, the defaults of the roles a role
    depends on fill in what is not defined where the task runs (under
    M(ansible.builtin.include_role) the first dependency does not see its siblings' defaults).
seealso:
  - module: ansible.builtin.validate_argument_spec
  - module: ansible.builtin.assert
"""

EXAMPLES = r"""
- name: Validate the inputs of the roles of this play
  web2py.deploy.preflight_checks:
    roles: [web2py, web2py_tls, nginx_uwsgi]
    roles_dir: "{{ role_path | dirname }}"
"""

RETURN = r"""
validated:
  description: The roles whose platform is supported (all of them were checked when the task passes).
  returned: always
  type: list
  elements: str
problems:
  description: Each role's first problem, one message per role.
  returned: failed
  type: list
  elements: str
"""
