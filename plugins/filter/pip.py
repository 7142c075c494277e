# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``pip_pinned_installed``: whether every requirement is an exact pin (``name==version``) that a
virtualenv already holds, judged from its ``*.dist-info`` folder names; the base role then skips
the pip module run (which would find the same and change nothing).
``requirement_problems``: the settings whose value is not one pip requirement (a name, extras,
version specifiers): a value starting with - would be an option of pip, a space another word."""

from __future__ import annotations

import re
import typing as t

from ansible.errors import AnsibleFilterError

# name==version, nothing else (no extras, markers, ranges, URLs or options): anything else is
# left to pip.
_PIN = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)\Z")
# <escaped name>-<version>.dist-info, as pip writes it (the name's runs of -_. are one _).
_DIST = re.compile(r"([A-Za-z0-9][A-Za-z0-9._]*)-([A-Za-z0-9][A-Za-z0-9.+!_]*)\.dist-info\Z")


# name[extras] and optional comma-separated version specifiers (PEP 508 without markers or URLs).
_SPEC = r"(?:===|==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_-]+"
_REQUIREMENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._-]+(?:,[A-Za-z0-9._-]+)*\])?"
                          r"(?:%s(?:,%s)*)?\Z" % (_SPEC, _SPEC))


def requirement_problems(values: t.Any, names: t.Any) -> t.List[str]:
    """For each value that is not one pip requirement, "<name>: not a pip requirement: <value>"."""
    if not isinstance(values, (list, tuple)) or not isinstance(names, (list, tuple)) or len(values) != len(names):
        raise AnsibleFilterError("requirement_problems: a list of values and a list of as many names")
    return ["%s: not a pip requirement (a name, [extras] and version specifiers such as ==1.2): %r" % (name, value)
            for name, value in zip(names, values)
            if not isinstance(value, str) or not _REQUIREMENT.match(value)]


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
        return {"pip_pinned_installed": pip_pinned_installed, "requirement_problems": requirement_problems}
