#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_password
short_description: Set the web2py admin password (parameters_<port>.py)
version_added: 1.0.0
description:
  - Writes C(parameters_<port>.py) in the web2py root exactly as web2py's C(gluon.main.save_password)
    does. The file holds one line, V(password="pbkdf2(1000,20,sha512\)$<salt>$<hash>") (PBKDF2-HMAC-SHA512,
    1000 rounds, a 20 bytes key, a salt of 16 random hex characters), or V(password=None).
  - web2py's admin application reads the file named after the port the backend sees as
    C(SERVER_PORT). Behind a front end that is the front end's port (443 for nginx + uWSGI),
    behind a proxy the backend's port (for example 8000).
  - Idempotent. An existing pbkdf2 hash that verifies the given password (with the salt, rounds,
    key length and digest stored in the file) is left alone; anything else is replaced by a new
    hash with a new random salt.
  - The password, the salt and the hash are never shown in the diff, the result or on a command line.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  path:
    description:
      - The web2py root directory, the folder holding C(web2py.py). It must exist.
    type: path
    required: true
  port:
    description:
      - The port whose C(parameters_<port>.py) is written (1-65535).
    type: int
    required: true
  password:
    description:
      - The admin password. Required when O(state=present), ignored otherwise.
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
  - O(mode) defaults to C(0600) when not given. A new file is created with mode C(0600) and moved
    into place atomically; an existing file gets its owner and mode fixed before its content is
    replaced, so the hash is never readable by others, not even briefly.
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

- name: Remove the parameters file of an old port
  web2py.deploy.web2py_password:
    path: /srv/web2py/web2py
    port: 8080
    state: absent
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

# What gluon.main.save_password writes: 'password="%s"\n' % CRYPT()(password)[0], where CRYPT's
# default digest_alg is pbkdf2(1000,20,sha512) and its salt 16 hex characters.
ROUNDS = 1000
KEY_LENGTH = 20
ALGORITHM = "sha512"
SALT_BYTES = 8  # 16 hex characters

HASH_RE = re.compile(
    r'^password\s*=\s*(?P<quote>["\'])'
    r"(?P<digest_alg>pbkdf2\((?P<rounds>\d+),(?P<length>\d+),(?P<alg>\w+)\))"
    r"\$(?P<salt>[^$\"'\\]*)\$(?P<hash>[0-9a-fA-F]+)(?P=quote)\s*$"
)
DISABLED_RE = re.compile(r"^password\s*=\s*None\s*$")
# The digests web2py's get_digest() accepts (case-insensitive).
WEB2PY_DIGESTS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
# A stored hash with absurd parameters is not worth verifying: it is replaced.
MAX_ROUNDS = 1000000
MAX_KEY_LENGTH = 512

DISABLED_LINE = "password=None\n"
DIFF_TEXT = {
    "absent": "",
    "disabled": DISABLED_LINE,
    "hash": "password=<pbkdf2 hash, redacted>\n",
    "other": "<unrecognised content, redacted>\n",
}
DEFAULT_MODE = "0600"


def pbkdf2_hex(password: str, salt: str, rounds: int = ROUNDS, length: int = KEY_LENGTH, alg: str = ALGORITHM) -> str:
    """The hex digest web2py's CRYPT computes for pbkdf2(rounds,length,alg) and this salt."""
    return hashlib.pbkdf2_hmac(alg, to_bytes(password), to_bytes(salt), rounds, length).hex()


def make_line(password: str) -> str:
    """The line gluon.main.save_password writes for password, with a new random salt."""
    salt = secrets.token_hex(SALT_BYTES)
    return 'password="pbkdf2(%d,%d,%s)$%s$%s"\n' % (ROUNDS, KEY_LENGTH, ALGORITHM, salt, pbkdf2_hex(password, salt))


def classify(content: str | None) -> str:
    """'absent', 'disabled', 'hash' or 'other' for a parameters file's content (None: no file)."""
    if content is None:
        return "absent"
    text = content.strip()
    if DISABLED_RE.match(text):
        return "disabled"
    if HASH_RE.match(text):
        return "hash"
    return "other"


def verifies(content: str, password: str) -> bool:
    """True when content holds a pbkdf2 hash that web2py would accept for password."""
    match = HASH_RE.match(content.strip())
    if not match:
        return False
    alg = match.group("alg").lower()
    rounds = int(match.group("rounds"))
    length = int(match.group("length"))
    if alg not in WEB2PY_DIGESTS or not 0 < rounds <= MAX_ROUNDS or not 0 < length <= MAX_KEY_LENGTH:
        return False
    try:
        computed = pbkdf2_hex(password, match.group("salt"), rounds, length, alg)
    except ValueError:  # digest unavailable (FIPS) or similar: replace the hash
        return False
    # web2py compares the lowercase hex digest with the stored one as strings: an uppercase
    # stored digest would never let anybody in, so it does not count as verifying.
    return hmac.compare_digest(to_bytes(computed), to_bytes(match.group("hash")))


def read_current(module: AnsibleModule, target: str, result: dict) -> str | None:
    try:
        with open(target, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (target, to_native(exc)), **result)
    return None  # not reached


def write_atomically(module: AnsibleModule, target: str, content: str) -> None:
    """Write content to target through a 0600 temporary file in the same directory."""
    fd, tmp = tempfile.mkstemp(prefix=".parameters-", suffix=".tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # mkstemp creates the file 0600
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # atomic_move copies an existing target's owner and mode (already fixed by the caller)
        # and chmods a new file to 0666 & ~umask: with umask 077 that stays 0600.
        old_umask = os.umask(0o077)
        try:
            module.atomic_move(tmp, target, unsafe_writes=module.params["unsafe_writes"])
        finally:
            os.umask(old_umask)
    finally:
        if os.path.lexists(tmp):
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
        module.fail_json(msg="port must be a TCP port between 1 and 65535, got %d" % port, port=port, state=state)
    if not os.path.isdir(root):
        module.fail_json(
            msg="path %s is not an existing directory: give the web2py root (the folder holding web2py.py)" % root,
            port=port, state=state,
        )
    if state == "present" and password == "":
        module.fail_json(msg="password must not be empty with state=present (use state=disabled to disable admin)",
                         port=port, state=state)

    target = os.path.join(root, "parameters_%d.py" % port)
    result = dict(changed=False, path=target, port=port, state=state)
    current = read_current(module, target, result)
    kind = classify(current)

    if state == "absent":
        wanted = "absent"
        needs_write = False
        content_changed = kind != "absent"
    elif state == "disabled":
        wanted = "disabled"
        content_changed = needs_write = kind != "disabled"
    else:
        wanted = "hash"
        content_changed = needs_write = not (kind == "hash" and verifies(current, password))

    if content_changed and module._diff:
        before = DIFF_TEXT[kind]
        after = DIFF_TEXT[wanted]
        if before == after:  # a hash of another password
            after = "password=<new pbkdf2 hash, redacted>\n"
        result["diff"] = dict(before=before, after=after, before_header=target, after_header=target)
    changed = content_changed

    if state == "absent":
        if content_changed and not module.check_mode:
            try:
                os.unlink(target)
            except OSError as exc:
                module.fail_json(msg="cannot remove %s: %s" % (target, to_native(exc)), **result)
        result["changed"] = changed
        module.exit_json(**result)

    file_args = module.load_file_common_arguments(module.params, path=target)
    if file_args.get("mode") is None:
        file_args["mode"] = DEFAULT_MODE
    if current is not None:
        # Owner, group and mode first: the new content inherits them from the file it replaces.
        changed = module.set_fs_attributes_if_different(file_args, changed)
    if needs_write and not module.check_mode:
        content = make_line(password) if state == "present" else DISABLED_LINE
        try:
            write_atomically(module, target, content)
        except Exception as exc:  # atomic_move raises plain Exception too; messages hold paths only
            module.fail_json(msg="cannot write %s: %s" % (target, to_native(exc)), **result)
        # A new file is owned by the connecting user: apply owner, group and mode now.
        changed = module.set_fs_attributes_if_different(file_args, changed)
    result["changed"] = changed
    module.exit_json(**result)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
