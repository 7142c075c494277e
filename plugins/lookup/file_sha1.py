# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup web2py.deploy.file_sha1: the SHA-1 of files on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
name: file_sha1
author: web2py.deploy maintainers (@web2py-deploy)
version_added: 1.0.0
short_description: The SHA-1 of files on the controller
description:
  - Returns the hexadecimal SHA-1 of each file's bytes, read on the controller (the checksum
    M(ansible.builtin.copy) reports for the copy of that file).
  - The base role names a release archive's staging folder after it, before the archive is
    copied, so a run that finds the release already unpacked copies nothing.
options:
  _terms:
    description: Paths of regular files on the controller (C(~) is expanded).
    type: list
    elements: path
    required: true
"""

EXAMPLES = r"""
- name: The checksum of the release archive
  ansible.builtin.debug:
    msg: "{{ lookup('web2py.deploy.file_sha1', '/srv/releases/web2py_src-3.3.3.zip') }}"
"""

RETURN = r"""
_raw:
  description: One SHA-1 (40 hexadecimal digits) per path.
  type: list
  elements: str
"""

import hashlib
import os
import typing as t

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase


def file_sha1(path: str) -> str:
    """SHA-1 of a regular file's bytes (links to regular files are read, as copy reads them)."""
    real = os.path.expanduser(path)
    if not os.path.isfile(real):
        raise AnsibleLookupError("file_sha1: %s is not a regular file on the controller" % path)
    digest = hashlib.sha1()  # nosec B324 (a checksum, as copy's, not a signature)
    with open(real, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LookupModule(LookupBase):
    def run(self, terms: t.List[t.Any], variables: t.Optional[t.Dict[str, t.Any]] = None, **kwargs: t.Any) -> t.List[str]:
        self.set_options(var_options=variables, direct=kwargs)
        result = []
        for term in terms:
            if not isinstance(term, str) or not term:
                raise AnsibleLookupError("file_sha1: each term is a path, not %r" % (term,))
            result.append(file_sha1(term))
        return result
