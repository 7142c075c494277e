# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``pip_pinned_installed``: whether every requirement is an exact pin (``name==version``) that a
virtualenv already holds, judged from its ``*.dist-info`` folder names; the base role then skips
the pip module run (which would find the same and change nothing)."""

from __future__ import annotations

import re
import typing as t

from ansible.errors import AnsibleFilterError

# name==version, nothing else (no extras, markers, ranges, URLs or options): anything else is
# left to pip.
_PIN = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)\Z")
# <escaped name>-<version>.dist-info, as pip writes it (the name's runs of -_. are one _).
_DIST = re.compile(r"([A-Za-z0-9][A-Za-z0-9._]*)-([A-Za-z0-9][A-Za-z0-9.+!_]*)\.dist-info\Z")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def pip_pinned_installed(requirements: t.Iterable[t.Any], dist_infos: t.Iterable[t.Any]) -> bool:
    """True when each requirement is name==version and a dist-info of that name and exactly that
    version is listed; False for anything else (pip then decides)."""
    if isinstance(requirements, (str, bytes, t.Mapping)) or not isinstance(requirements, t.Iterable):
        raise AnsibleFilterError("pip_pinned_installed: the requirements must be a list")
    if isinstance(dist_infos, (str, bytes, t.Mapping)) or not isinstance(dist_infos, t.Iterable):
        raise AnsibleFilterError("pip_pinned_installed: the dist-info names must be a list")
    installed = set()
    for entry in dist_infos:
        match = _DIST.match(str(entry))
        if match:
            installed.add((_name(match.group(1)), match.group(2)))
    for requirement in requirements:
        match = _PIN.match(requirement) if isinstance(requirement, str) else None
        if not match or (_name(match.group(1)), match.group(2)) not in installed:
            return False
    return True


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"pip_pinned_installed": pip_pinned_installed}
