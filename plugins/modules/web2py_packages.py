#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_packages
short_description: Install Debian packages, asking dpkg first
version_added: 1.0.0
description:
  - Makes sure Debian packages are installed, as M(ansible.builtin.apt) with C(state=present) does,
    at a fraction of its cost when they already are.
  - First asks C(dpkg-query) on the host which of the packages are installed (one shell command,
    no Python). When all of them are, the task reports C(ok) without running apt, which would
    open the whole package cache (about a second per task).
  - When one of them is missing (never installed, removed, or left half-installed or
    half-configured), or a name is not a plain package name (an architecture, a version, a
    wildcard), or dpkg's answer cannot be read, it runs M(ansible.builtin.apt) with
    C(state=present) and the cache options given, and returns its result.
  - A package counts as installed only for the host's own architecture (or C(all)), as apt reads
    a plain name. A copy of another architecture alone (C(hello:i386) on an amd64 host) is
    missing.
  - Does not upgrade packages that are installed (as C(state=present)), and does not refresh
    apt's lists when none is missing.
  - This is an action plugin; the module file only documents it.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  name:
    description:
      - The packages (plain names such as C(nginx)).
    type: list
    elements: str
    required: true
  update_cache:
    description:
      - When apt runs, refresh its package lists first (see O(cache_valid_time)).
    type: bool
    default: true
  cache_valid_time:
    description:
      - When apt runs, the package lists are refreshed only when older than this many seconds.
    type: int
    default: 3600
attributes:
  action:
    support: full
    description: An action plugin (the query runs from the controller, apt as a module on the host).
  check_mode:
    support: full
    description: The dpkg query runs in check mode too (it changes nothing); apt then reports what it would install.
  diff_mode:
    support: none
    description: Nothing to show.
  platform:
    support: full
    platforms: debian
    description: Debian and its derivatives (dpkg and apt).
notes:
  - The host's C(dpkg-query) runs with the task's privilege escalation.
seealso:
  - module: ansible.builtin.apt
"""

EXAMPLES = r"""
- name: Install nginx and uWSGI
  web2py.deploy.web2py_packages:
    name: [nginx, uwsgi-core, uwsgi-plugin-python3]

- name: Install PostgreSQL, refreshing apt's lists when older than a day
  web2py.deploy.web2py_packages:
    name: [postgresql, python3-psycopg2]
    cache_valid_time: 86400
"""

RETURN = r"""
packages:
  description: The packages asked for.
  returned: always
  type: list
  elements: str
  sample: [nginx, uwsgi-core]
missing:
  description:
    - The packages dpkg did not report installed (apt ran for them); empty when apt did not run.
    - Every package when dpkg was not asked (a name that is not a plain package name) or its
      answer could not be read.
  returned: always
  type: list
  elements: str
  sample: [uwsgi-core]
cache_updated:
  description: Whether apt refreshed its package lists (returned by M(ansible.builtin.apt) when it ran).
  returned: when apt ran
  type: bool
  sample: true
"""
