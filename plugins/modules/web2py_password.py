#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_password
short_description: Set the web2py admin password (parameters_<port>.py)
version_added: 0.1.0
description:
  - Writes C(parameters_<port>.py) in the web2py root exactly as web2py's C(gluon.main.save_password)
    does. The file holds one line, C(password="pbkdf2...") with 1000 rounds, a 20 bytes key and
    SHA-512, a salt of 16 hex characters and the hex digest, or C(password=None).
  - web2py's admin application reads the file named after the port the backend sees as
    C(SERVER_PORT). Behind a front end that is the front end's port (443 for nginx + uWSGI),
    behind a proxy the backend's port (for example 8000).
  - Idempotent. An existing hash that verifies the given password is left alone.
  - The password is never written to the diff, the result or a command line.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  path:
    description:
      - The web2py root directory, the folder holding C(web2py.py).
    type: path
    required: true
  port:
    description:
      - The port whose C(parameters_<port>.py) is written (1-65535).
    type: int
    required: true
  password:
    description:
      - The admin password. Required when O(state=present).
    type: str
  state:
    description:
      - V(present) sets the password, V(disabled) writes C(password=None) which disables
        the admin interface, V(absent) removes the file.
    type: str
    choices: [present, disabled, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    description: Reports what would change without writing.
  diff_mode:
    support: full
    description: Shows the change with the hash and salt redacted.
  platform:
    support: full
    platforms: posix
    description: Any POSIX host.
notes:
  - O(mode) defaults to C(0600) when not given; the file is created with that mode and
    replaced atomically, so it is never readable by others, even briefly.
"""

EXAMPLES = r"""
- name: Admin password for nginx + uWSGI (the backend sees SERVER_PORT 443)
  web2py.deploy.web2py_password:
    path: /srv/web2py/web2py
    port: 443
    password: "{{ vault_web2py_admin_password }}"
    owner: web2py
    group: web2py

- name: Disable the admin interface for the built-in server on port 8000
  web2py.deploy.web2py_password:
    path: /srv/web2py/web2py
    port: 8000
    state: disabled
"""

RETURN = r"""
path:
  description: The parameters file.
  returned: always
  type: str
  sample: /srv/web2py/web2py/parameters_443.py
port:
  description: The port of the parameters file.
  returned: always
  type: int
  sample: 443
state:
  description: The state requested.
  returned: always
  type: str
  sample: present
"""

import hashlib
import hmac
import os
import re
import secrets
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

HASH_RE = re.compile(
    r'^password\s*=\s*["\']pbkdf2\((?P<rounds>\d+),(?P<length>\d+),(?P<alg>\w+)\)'
    r'\$(?P<salt>[^$"\']*)\$(?P<hash>[0-9a-fA-F]+)["\']\s*$'
)
DISABLED_RE = re.compile(r"^password\s*=\s*None\s*$")
ROUNDS = 1000
KEY_LENGTH = 20
ALGORITHM = "sha512"
REDACTED = "password=<pbkdf2 hash, redacted>\n"
DISABLED = "password=None"


def pbkdf2_hex(password: str, salt: str, rounds: int = ROUNDS, length: int = KEY_LENGTH, alg: str = ALGORITHM) -> str:
    """The hash web2py's CRYPT validator computes for pbkdf2(rounds,length,alg)."""
    return hashlib.pbkdf2_hmac(alg, to_bytes(password), to_bytes(salt), rounds, length).hex()


def make_line(password: str) -> str:
    """One line as gluon.main.save_password writes it."""
    salt = secrets.token_hex(8)
    return 'password="pbkdf2(%d,%d,%s)$%s$%s"' % (ROUNDS, KEY_LENGTH, ALGORITHM, salt, pbkdf2_hex(password, salt))


def classify(content: str | None) -> str:
    """'absent', 'disabled', 'hash' or 'other' for a parameters file's content."""
    if content is None:
        return "absent"
    text = content.strip()
    if DISABLED_RE.match(text):
        return "disabled"
    if HASH_RE.match(text):
        return "hash"
    return "other"


def verifies(content: str, password: str) -> bool:
    """True when content holds a pbkdf2 hash of password (any rounds/length/algorithm)."""
    match = HASH_RE.match(content.strip())
    if not match:
        return False
    alg = match.group("alg")
    if alg not in hashlib.algorithms_available:
        return False
    computed = pbkdf2_hex(password, match.group("salt"), int(match.group("rounds")), int(match.group("length")), alg)
    return hmac.compare_digest(computed, match.group("hash").lower())


def redact(kind: str) -> str:
    return {"absent": "", "disabled": DISABLED + "\n", "hash": REDACTED, "other": "<unrecognised content, redacted>\n"}[kind]


def write_atomically(module: AnsibleModule, path: str, content: str) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".parameters-", dir=directory)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def run_module() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            port=dict(type="int", required=True),
            password=dict(type="str", no_log=True),
            state=dict(type="str", default="present", choices=["present", "disabled", "absent"]),
        ),
        required_if=[("state", "present", ["password"])],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    root = module.params["path"]
    port = module.params["port"]
    state = module.params["state"]
    password = module.params["password"]
    if not 1 <= port <= 65535:
        module.fail_json(msg="port must be a TCP port between 1 and 65535, got %d" % port)
    if not os.path.isdir(root):
        module.fail_json(msg="path %s is not a directory: give the web2py root (the folder holding web2py.py)" % root)
    if state == "present" and password == "":
        module.fail_json(msg="password must not be empty with state=present (use state=disabled to disable admin)")

    target = os.path.join(root, "parameters_%d.py" % port)
    result = dict(changed=False, path=target, port=port, state=state)
    try:
        with open(target, "r") as handle:
            current = handle.read()
    except FileNotFoundError:
        current = None
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (target, to_native(exc)), **result)
    kind = classify(current)

    if state == "absent":
        wanted_kind, needs_write = "absent", False
        changed = kind != "absent"
    elif state == "disabled":
        wanted_kind = "disabled"
        changed = needs_write = kind != "disabled"
    else:
        wanted_kind = "hash"
        changed = needs_write = not (kind == "hash" and verifies(current, password))

    if changed:
        result["changed"] = True
        if module._diff:
            before = redact(kind)
            after = redact(wanted_kind)
            if before == after:  # same shape, other password
                after = "password=<new pbkdf2 hash, redacted>\n"
            result["diff"] = dict(before=before, after=after, before_header=target, after_header=target)
        if not module.check_mode:
            try:
                if state == "absent":
                    os.unlink(target)
                elif needs_write:
                    write_atomically(module, target, (make_line(password) if state == "present" else DISABLED) + "\n")
            except OSError as exc:
                module.fail_json(msg="cannot write %s: %s" % (target, to_native(exc)), **result)

    if state != "absent" and (os.path.exists(target) or module.check_mode):
        file_args = module.load_file_common_arguments(module.params, path=target)
        if file_args.get("mode") is None:
            file_args["mode"] = "0600"
        if os.path.exists(target):
            result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"])
    module.exit_json(**result)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
