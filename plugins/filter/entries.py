# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``entries``: each item of a list as a mapping under one key, with the same other keys; the
``files`` and ``dirs`` of web2py.deploy.web2py_files built from a list of paths, without
community.general's ``dict_kv``."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError


def entries(items: t.Iterable[t.Any], key: str, extra: t.Optional[t.Mapping[str, t.Any]] = None) -> t.List[t.Dict[str, t.Any]]:
    """[{key: item, **extra} for item in items]; items is a list (or what map() gives)."""
    if isinstance(items, (str, bytes, t.Mapping)) or not isinstance(items, t.Iterable):
        raise AnsibleFilterError("entries: a list is required, not %s" % type(items).__name__)
    if not isinstance(key, str) or not key:
        raise AnsibleFilterError("entries: the key must be a non-empty string")
    if extra is not None and not isinstance(extra, t.Mapping):
        raise AnsibleFilterError("entries: the other keys must be a mapping")
    if extra and key in extra:
        raise AnsibleFilterError("entries: %s is both the key and one of the other keys" % key)
    return [dict(extra or {}, **{key: item}) for item in items]


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"entries": entries}
