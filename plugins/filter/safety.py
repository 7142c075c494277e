# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input guards shared by every role of web2py.deploy.

``unsafe_values`` names the variables whose value (strings anywhere inside lists and dicts, keys
included) carries a line break or another control character: no such value may reach a
configuration file, a unit or a command line, where it would end a directive and start another.
``path_problem`` says why a path cannot be a folder the roles own and change (empty when it can).
``type_problems`` names the settings a role's argument spec declares ``bool`` that hold something
else: ``-e name=true`` gives the string ``"true"``, which the argument spec accepts (it converts
only to check) while the role then sees a string, truthy even when it reads ``"false"``. It names
settings declared ``list`` or ``dict`` that hold something else too (``"name (a list)"``): the spec
splits ``-e name=a,b`` at its commas to check it, and the role then loops over the characters.
"""

from __future__ import annotations

import posixpath
import re
import stat
import typing as t

from ansible.errors import AnsibleFilterError

# C0 controls, DEL, and what Python's str.splitlines() also ends a line at.
_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
_PATH = re.compile(r"/[A-Za-z0-9._@+-]+(?:/[A-Za-z0-9._@+-]+)*\Z")
# Folders that are the system's own: a role must never take one of them over (chown, chmod,
# remove), only folders below them. Below /proc, /sys, /dev and /boot nothing is ours.
_SYSTEM = frozenset("""
/ /bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /media /mnt /opt /proc /root /run /sbin
/srv /sys /tmp /usr /usr/bin /usr/include /usr/lib /usr/lib64 /usr/libexec /usr/local
/usr/local/bin /usr/local/etc /usr/local/lib /usr/local/libexec /usr/local/sbin /usr/local/share
/usr/sbin /usr/share /usr/src /var /var/backups /var/cache /var/lib /var/local /var/lock /var/log
/var/mail /var/opt /var/run /var/spool /var/tmp /var/www /etc/ssl /etc/ssl/private /etc/ssl/certs
/etc/systemd /etc/systemd/system /etc/default /etc/init.d /etc/cron.d /etc/sudoers.d /etc/pam.d
/etc/security /etc/apt /etc/nginx /etc/apache2 /etc/haproxy /etc/redis /etc/postgresql
/etc/lighttpd /etc/uwsgi /var/lib/postgresql /var/lib/redis /run/systemd
""".split())
_NOTHING_BELOW = ("/proc/", "/sys/", "/dev/", "/boot/")


def _strings(value: t.Any) -> t.Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def unsafe_values(names: t.Sequence[str], values: t.Sequence[t.Any], allow: t.Sequence[str] = ()) -> t.List[str]:
    """Names (never values: many are secrets) whose value holds a control character."""
    if len(names) != len(values):
        raise AnsibleFilterError("unsafe_values: %d names but %d values" % (len(names), len(values)))
    return [name for name, value in zip(names, values)
            if name not in allow and any(_CONTROL.search(text) for text in _strings(value))]


def path_problem(path: t.Any) -> str:
    """Why path cannot be a folder a role owns ('' when it can)."""
    if not isinstance(path, str) or not path:
        return "must be a non-empty absolute path"
    if not _PATH.match(path):
        return "must be an absolute path of letters, digits and . _ @ + - (no spaces, no line breaks, no trailing /)"
    parts = path.split("/")[1:]
    if any(part in (".", "..") for part in parts) or posixpath.normpath(path) != path:
        return "must not hold . or .. parts"
    if path in _SYSTEM or path.startswith(_NOTHING_BELOW):
        return "is a system folder (use a folder of its own below it, such as /srv/web2py)"
    return ""


def _type_problems(name: str, value: t.Any, option: t.Mapping[str, t.Any], top: bool = False) -> t.Iterator[str]:
    kind = option.get("type", "str")
    if value is None:
        # "name:" with nothing after it: null passes the argument spec, then a loop or test fails
        # (or a bool reads as false) after changes. A setting is null only where its spec says
        # that is its default (an entry's sub-option may be left null: unset).
        if top and kind in ("bool", "boolean", "list", "dict") and not ("default" in option and option["default"] is None):
            yield "%s (null)" % name
        return
    suboptions = option.get("options") or {}
    if kind in ("bool", "boolean"):
        if not isinstance(value, bool):
            yield name
    elif kind == "list" and not isinstance(value, list):
        # "-e name=a" or "name: a": the spec splits a string at commas to check it, the role
        # then loops over its characters ("welcome" passed every check of web2py_remove_apps).
        yield "%s (a list)" % name
    elif kind == "dict" and not isinstance(value, dict):
        yield "%s (a mapping)" % name
    elif kind == "dict":
        for key, sub in suboptions.items():
            if key in value:
                yield from _type_problems("%s.%s" % (name, key), value[key], sub)
    elif kind == "list" and option.get("elements") == "dict":
        for index, item in enumerate(value):
            if isinstance(item, dict):
                label = item.get("name") if isinstance(item.get("name"), str) else index
                for key, sub in suboptions.items():
                    if key in item:
                        yield from _type_problems("%s[%s].%s" % (name, label, key), item[key], sub)


def type_problems(names: t.Sequence[str], values: t.Sequence[t.Any], spec: t.Mapping[str, t.Any]) -> t.List[str]:
    """Names whose value is not of the type the spec declares: bool (checked inside dict options
    and list-of-dict elements too, named var[name].key), list ("name (a list)"), dict ("name (a
    mapping)").

    spec is a role's parsed meta/argument_specs.yml; the options of all its entry points count.
    """
    if len(names) != len(values):
        raise AnsibleFilterError("type_problems: %d names but %d values" % (len(names), len(values)))
    if not isinstance(spec, dict) or not isinstance(spec.get("argument_specs"), dict):
        raise AnsibleFilterError("type_problems: the spec must be a parsed meta/argument_specs.yml")
    options: t.Dict[str, t.Any] = {}
    for entry in spec["argument_specs"].values():
        options.update((entry or {}).get("options") or {})
    problems: t.List[str] = []
    for name, value in zip(names, values):
        if name in options:
            problems.extend(_type_problems(name, value, options[name], top=True))
    return problems


def path_chain(path: str) -> t.List[str]:
    """'/', every folder above path, then path itself: what chain_problem needs stat results of."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise AnsibleFilterError("path_chain: an absolute path is required, not %r" % (path,))
    parts = [part for part in path.split("/") if part]
    return ["/"] + ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]


# The probe of a path chain in one command (the roles' "Look at ... the folders above it"):
#   sh -c 'for p; do ...; done' sh <path_chain>
# prints "path<TAB>uid<TAB>user<TAB>raw mode in hex<TAB>group" per path, "path<TAB>-" when it is
# missing; it fails (status 3) when stat cannot read a path that is there: it never reports one
# missing. chain_ready reads the last line: the folder is there as the role would make it.
CHAIN_PROBE = (r'for p; do if [ -e "$p" ] || [ -L "$p" ]; then s=$(stat --printf "%u\t%U\t%f\t%G" -- "$p") || exit 3; '
               r'else s=-; fi; printf "%s\t%s\n" "$p" "$s"; done')


def chain_probe(paths: t.Sequence[str]) -> t.List[str]:
    """The argv of one command that looks at every path of path_chain(path) without following
    links; chain_problem reads its registered result."""
    if isinstance(paths, str) or not all(isinstance(path, str) and path.startswith("/") for path in paths):
        raise AnsibleFilterError("chain_probe: a list of absolute paths is required (path_chain's output)")
    return ["sh", "-c", CHAIN_PROBE, "sh", *paths]


def _probe_results(lines: t.Sequence[str]) -> t.List[t.Dict[str, t.Any]]:
    """The probe's lines as the loop results of ansible.builtin.stat (follow: false)."""
    results = []
    for line in lines:
        fields = line.split("\t")
        if len(fields) == 2 and fields[1] == "-":
            results.append({"item": fields[0], "stat": {"exists": False}})
            continue
        if len(fields) not in (4, 5) or not fields[1].isdigit():
            raise AnsibleFilterError("chain_problem: unexpected line from the probe: %r" % line)
        mode = int(fields[3], 16)
        results.append({"item": fields[0], "stat": {
            "exists": True, "islnk": stat.S_ISLNK(mode), "isdir": stat.S_ISDIR(mode), "uid": int(fields[1]),
            "pw_name": fields[2], "wgrp": bool(mode & stat.S_IWGRP), "woth": bool(mode & stat.S_IWOTH)}})
    return results


def chain_problem(results: t.Any, user: t.Optional[str] = None) -> t.Dict[str, str]:
    """Who may create the last path of a chain without following a link someone planted.

    results: the loop results of ansible.builtin.stat (follow: false) over path_chain(path), or
    the registered result of CHAIN_PROBE run over path_chain(path) (one module run).
    Every existing folder above the path must be a real folder that neither its group nor
    others may write, owned by root, or (when user is given) by user from some level down; the
    path itself, when it exists, must be a real folder. Returns {'writer': 'root' or user,
    'problem': '' or why nobody may}.
    """
    if isinstance(results, t.Mapping):
        if results.get("skipped"):
            return {"writer": "root", "problem": ""}
        results = _probe_results(results.get("stdout_lines") or [])
        # Fail closed: the lines must be a whole chain from / down (path_chain's output), / there.
        items = [r["item"] for r in results]
        if not items or items[0] != "/" or not results[0]["stat"]["exists"] or any(
                posixpath.dirname(child) != parent for parent, child in zip(items, items[1:])):
            raise AnsibleFilterError("chain_problem: the probe did not report a whole chain of folders from /: %r" % items)
    writer, problem = "root", ""
    stats = [(r.get("item"), r.get("stat") or {}) for r in results]
    for item, st in stats[:-1]:
        if not st.get("exists"):
            continue
        if st.get("islnk") or not st.get("isdir"):
            problem = "%s is a link or not a folder" % item
        elif st.get("wgrp") or st.get("woth"):
            problem = "%s is writable by its group or by others" % item
        elif user and st.get("pw_name") == user:
            writer = user
        elif writer != "root":
            problem = "%s belongs to %s, below a folder of %s" % (item, st.get("pw_name"), writer)
        elif st.get("uid") != 0:
            problem = "%s belongs to %s" % (item, st.get("pw_name"))
        if problem:
            break
    if not problem and stats:
        item, st = stats[-1]
        if st.get("exists") and (st.get("islnk") or not st.get("isdir")):
            problem = "%s is a link or not a folder" % item
    return {"writer": writer, "problem": problem}


def chain_ready(results: t.Any, owner: str, group: str, mode: t.Union[str, int]) -> bool:
    """True when the last path of the chain_probe result is a real folder (not a link) of owner
    and group with exactly mode (permission bits): the role's "create the folder" task would
    change nothing. A skipped probe, a missing folder or anything unexpected is False."""
    if not isinstance(results, t.Mapping) or results.get("skipped") or results.get("rc", 0) != 0:
        return False
    lines = results.get("stdout_lines") or []
    if not lines:
        return False
    fields = lines[-1].split("\t")
    if len(fields) != 5 or not fields[1].isdigit():
        return False
    try:
        raw, wanted = int(fields[3], 16), int(str(mode), 8)
    except ValueError:
        return False
    return (stat.S_ISDIR(raw) and not stat.S_ISLNK(raw) and stat.S_IMODE(raw) == wanted
            and fields[2] == owner and fields[4] == group)


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"unsafe_values": unsafe_values, "path_problem": path_problem, "type_problems": type_problems,
                "path_chain": path_chain, "chain_problem": chain_problem, "chain_probe": chain_probe,
                "chain_ready": chain_ready}
