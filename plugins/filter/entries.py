# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``entries``: each item of a list as a mapping under one key, with the same other keys; the
``files`` and ``dirs`` of web2py.deploy.web2py_files built from a list of paths, without
community.general's ``dict_kv``."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError


def entries(items: t.Iterable[t.Any], key: t.Union[str, t.Sequence[str]],
            extra: t.Optional[t.Mapping[str, t.Any]] = None) -> t.List[t.Dict[str, t.Any]]:
    """[{key: item, **extra} for item in items]; items is a list (or what map() gives). With a
    list of keys, each item is a sequence of as many values (what zip() gives), one per key."""
    if isinstance(items, (str, bytes, t.Mapping)) or not isinstance(items, t.Iterable):
        raise AnsibleFilterError("entries: a list is required, not %s" % type(items).__name__)
    keys = [key] if isinstance(key, str) else list(key) if isinstance(key, (list, tuple)) else []
    if not keys or any(not isinstance(one, str) or not one for one in keys) or len(set(keys)) != len(keys):
        raise AnsibleFilterError("entries: the key must be a non-empty string, or a list of distinct ones")
    if extra is not None and not isinstance(extra, t.Mapping):
        raise AnsibleFilterError("entries: the other keys must be a mapping")
    if extra and set(keys) & set(extra):
        raise AnsibleFilterError("entries: %s is both a key and one of the other keys" % ", ".join(sorted(set(keys) & set(extra))))
    if isinstance(key, str):
        return [dict(extra or {}, **{key: item}) for item in items]
    result = []
    for item in items:
        if isinstance(item, (str, bytes, t.Mapping)) or not isinstance(item, t.Sequence) or len(item) != len(keys):
            raise AnsibleFilterError("entries: each item must hold %d values, one per key (%s)" % (len(keys), ", ".join(keys)))
        result.append(dict(extra or {}, **dict(zip(keys, item))))
    return result


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"entries": entries}
