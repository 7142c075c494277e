# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of web2py.deploy.web2py_packages (documentation: plugins/modules/web2py_packages.py).

Asks dpkg which of the packages are installed (one shell command on the host, no Python), and
runs ansible.builtin.apt (state present, the cache refreshed when older than cache_valid_time)
only when one of them is not, or when dpkg's answer cannot be read. apt itself opens the whole
package cache on every run: about a second on each role's install task of an idempotent run.
"""
from __future__ import annotations

import re
import shlex
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

# A plain Debian package name (Debian policy 5.6.1): anything else (an architecture, a version,
# a wildcard, a .deb path) goes to apt unchanged.
_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+\Z")

# ${db:Status-Abbrev}: desired action, package status, error flag; "ii " and "hi " are installed
# with no error. One line per package and architecture dpkg knows: apt's plain name means the
# host's own architecture (or "all"), so a copy of another architecture does not count.
_QUERY_FORMAT = "${Package} ${Architecture} ${db:Status-Abbrev}\\n"
_ARCH_LINE = "Native-Architecture="


def installed_packages(output: str) -> set[str]:
    """The names dpkg-query's lines (``<name> <arch> <abbrev>``) report installed without error,
    for the host's architecture (the ``Native-Architecture=`` line) or ``all``. Terminal carriage
    returns are ignored; without the architecture line nothing counts as installed."""
    lines = [line.rstrip("\r") for line in output.splitlines()]
    native = next((line[len(_ARCH_LINE):] for line in lines if line.startswith(_ARCH_LINE)), "")
    found = set()
    for line in lines:
        if line.startswith(_ARCH_LINE):
            continue
        fields = line.split(" ", 2)
        if len(fields) < 3 or not native or fields[1] not in (native, "all"):
            continue
        status = fields[2]
        if len(status) >= 2 and status[1] == "i" and status[2:3] in ("", " "):
            found.add(fields[0])
    return found


def missing_packages(names: list[str], output: str) -> list[str]:
    """The names, in the order given, that dpkg-query's output does not report installed."""
    found = installed_packages(output)
    return [name for name in names if name not in found]


def query_command(names: list[str]) -> str:
    """The shell command that prints the host's architecture, then one status line per package
    and architecture dpkg knows of ``names``; its status is dpkg-query's."""
    return "LC_ALL=C; export LC_ALL; echo %s\"$(dpkg --print-architecture)\"; dpkg-query -W -f=%s -- %s" % (
        _ARCH_LINE, shlex.quote(_QUERY_FORMAT), " ".join(shlex.quote(n) for n in names))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("name", "update_cache", "cache_valid_time"))

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        del tmp
        names = self._task.args.get("name")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise AnsibleActionFail("name: a non-empty list of package names")
        names = list(names)
        update_cache = self._task.args.get("update_cache", True)
        cache_valid_time = self._task.args.get("cache_valid_time", 3600)

        missing = names
        if all(_NAME.match(n) for n in names):
            # dpkg-query exits 1 when a name is unknown to dpkg (never installed): that name is
            # missing, the others' lines are still printed.
            out = self._low_level_execute_command(query_command(names), sudoable=True)
            if out.get("rc") in (0, 1):
                missing = missing_packages(names, to_text(out.get("stdout", ""), errors="surrogate_or_strict"))
        if not missing:
            result.update(changed=False, packages=names, missing=[])
            return result

        apt = self._execute_module(
            module_name="ansible.builtin.apt",
            module_args={"name": names, "state": "present", "update_cache": update_cache, "cache_valid_time": cache_valid_time},
            task_vars=task_vars,
        )
        result.update(apt)
        result.update(packages=names, missing=missing)
        return result
