#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_service
short_description: Enable and start (or disable and stop) a systemd unit, asking systemctl first
version_added: 1.0.0
description:
  - Puts a systemd unit in the state asked, as M(ansible.builtin.systemd_service) does with the same
    options, at a fraction of its cost when the unit already is.
  - First asks C(systemctl is-enabled) and C(systemctl show) on the host (one shell command, no
    Python). When the unit is loaded and plainly C(enabled) or C(disabled) as asked, and
    C(active) for O(state=started) or C(inactive) or C(failed) for O(state=stopped), the task
    reports C(ok) without running the module.
  - Any other answer (a unit not found, masked, static, generated, C(enabled-runtime),
    activating, deactivating), a unit not as asked, or O(daemon_reload=true) runs
    M(ansible.builtin.systemd_service) with these options and returns its result.
  - This is an action plugin; the module file only documents it.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  name:
    description:
      - The unit, such as C(nginx.service) or C(postgres-backup.timer).
    type: str
    required: true
  enabled:
    description:
      - Whether the unit starts at boot. Not changed when not given.
    type: bool
  state:
    description:
      - C(started) or C(stopped). Not changed when not given. O(enabled), O(state) or both are
        required.
    type: str
    choices: [started, stopped]
  daemon_reload:
    description:
      - Make systemd read its unit files again first (the module then always runs).
    type: bool
    default: false
attributes:
  action:
    support: full
    description: An action plugin (the query runs from the controller, systemd_service as a module on the host).
  check_mode:
    support: full
    description: The systemctl query runs in check mode too (it changes nothing).
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: posix
    description: Hosts run by systemd.
notes:
  - The host's C(systemctl) runs with the task's privilege escalation.
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Start nginx at boot and now
  web2py.deploy.web2py_service:
    name: nginx.service
    enabled: true
    state: started

- name: Stop the backup timer
  web2py.deploy.web2py_service:
    name: postgres-backup.timer
    enabled: false
    state: stopped
"""

RETURN = r"""
name:
  description: The unit.
  returned: always
  type: str
  sample: nginx.service
enabled:
  description: Whether the unit starts at boot.
  returned: when O(enabled) is given
  type: bool
  sample: true
state:
  description: The state asked for.
  returned: when O(state) is given
  type: str
  sample: started
status:
  description: The unit's properties, as M(ansible.builtin.systemd_service) returns them.
  returned: when the module ran
  type: dict
  sample: {ActiveState: active}
"""
