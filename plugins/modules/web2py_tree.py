#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_tree
short_description: Give a service's tree its owners and modes without following links
version_added: 1.0.0
description:
  - Walks a tree root manages for a service user (web2py's, the folder holding C(web2py.py); the
    redis role's C(/etc/redis)) as root and gives every entry the owner
    and mode of its zone. B(Code) (everything not named below) belongs to O(owner) (root) and
    O(group), directories C(0750), files C(0640) (C(0750) when any execute bit is set), so the
    service user reads it through its group and cannot change it.
    B(Service folders) (O(service_dirs), such as databases, sessions, uploads) belong to O(user) and
    O(group) with the mode given, and the module never enters them.
    B(Service files) (O(service_files), such as appconfig.ini and parameters_<port>.py) belong to O(user).
    B(User trees) (O(user_trees), e.g. C(applications) when the admin app may edit code) belong
    to O(user), which means root-owned entries in them are handed over and the user's own entries
    are left as they are.
  - Safe against a service user who planted links. Every change is made through a file
    descriptor opened relative to its parent's descriptor without following symbolic links
    (C(os.fwalk), C(O_NOFOLLOW), C(fchown), C(fchmod)); the tree's top folder and every folder
    above it must be real folders owned by root and writable by nobody else.
  - Refuses, and names the paths, instead of changing an entry that could belong to something
    outside the tree. Those are a symbolic link in code or in a service folder's place that root
    did not make, a file with more than one hard link, an entry owned by another user, a device,
    FIFO or socket in code. Everything it can repair safely is repaired before it fails.
  - Creates missing service folders marked O(service_dirs[].create) under existing parents.
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  path:
    description:
      - The tree's top folder, an absolute path. It and every folder above it must be real folders
        owned by root and not writable by group or others.
    type: path
    required: true
  owner:
    description:
      - Owner of the code zone.
    type: str
    default: root
  group:
    description:
      - Group of every entry the module changes (the service user's group, which the front ends
        join to read static files).
    type: str
    required: true
  user:
    description:
      - The service user (web2py's processes), owner of service folders, service files and user
        trees.
    type: str
    required: true
  service_dirs:
    description:
      - Folders that belong to O(user). Each O(service_dirs[].path) is relative to O(path), its
        C(/)-separated parts matched one by one with shell wildcards (C(*) never crosses a C(/)).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Relative path pattern.
        type: str
        required: true
      mode:
        description: Mode of the folder, an octal string such as V(0700).
        type: str
        required: true
      create:
        description:
          - Create the folder when its parent exists (only for patterns without wildcards).
        type: bool
        default: false
  service_files:
    description:
      - Files that belong to O(user) (secrets only it reads). Not created. Same pattern rules as
        O(service_dirs).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Relative path pattern.
        type: str
        required: true
      mode:
        description: Mode of the file, an octal string such as V(0600).
        type: str
        required: true
  user_trees:
    description:
      - Relative paths of folders whose whole content belongs to O(user).
    type: list
    elements: str
    default: []
  setgid:
    description:
      - Code folders get the set-group-ID bit (C(2750)), so that what a later task creates in them
        (a package pip installs into a virtualenv) belongs to O(group) too.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what it would change and what it would refuse, without changing anything.
  diff_mode:
    support: none
    description: Lists the entries it changed in RV(changes) instead of a diff.
  platform:
    support: full
    platforms: posix
    description: Linux (C(os.fwalk) with directory descriptors, C(O_NOFOLLOW)).
notes:
  - Runs as root. On a tree it made itself (the web2py role unpacks and deploys as root) it finds
    nothing to do; on a tree an older version left to the service user it takes the code back.
"""

EXAMPLES = r"""
- name: Give web2py's tree its owners (code root's, runtime folders web2py's)
  web2py.deploy.web2py_tree:
    path: /srv/web2py/web2py
    group: web2py
    user: web2py
    service_dirs:
      - {path: logs, mode: "0750", create: true}
      - {path: "applications/*/databases", mode: "0700"}
      - {path: applications/notes/databases, mode: "0700", create: true}
    service_files:
      - {path: "applications/*/private/appconfig.ini", mode: "0600"}
      - {path: "parameters_*.py", mode: "0600"}

- name: Take /etc/redis back from the redis user (root:redis 0750, files 0640)
  web2py.deploy.web2py_tree:
    path: /etc/redis
    group: redis
    user: redis
"""

RETURN = r"""
changes:
  description: The entries changed (or, in check mode, that would be), at most 50, each a path and what changed.
  returned: always
  type: list
  elements: str
  sample: ["applications/notes/databases: created", "gluon/main.py: owner web2py -> root"]
changed_count:
  description: How many entries were changed (or would be).
  returned: always
  type: int
  sample: 2
refused:
  description: Entries refused (links planted, hard links, foreign owners), at most 50.
  returned: always
  type: list
  elements: str
  sample: ["applications/notes/cache: symbolic link where a service folder belongs"]
"""

import fnmatch
import grp
import os
import pwd
import stat
from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule

LIST_CAP = 50
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def split(pattern: str) -> Tuple[str, ...]:
    return tuple(part for part in pattern.split("/") if part not in ("", "."))


def matches(parts: Tuple[str, ...], pattern: Tuple[str, ...]) -> bool:
    return len(parts) == len(pattern) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern))


def code_mode(st_mode: int, setgid: bool = False) -> int:
    if stat.S_ISDIR(st_mode):
        return 0o2750 if setgid else 0o750
    return 0o750 if st_mode & 0o111 else 0o640


class Tree:
    """One pass over the tree; collects changes and refusals."""

    def __init__(self, params: Dict[str, Any], check: bool) -> None:
        self.check = check
        self.root = params["path"]
        self.owner_uid = pwd.getpwnam(params["owner"]).pw_uid
        self.user_uid = pwd.getpwnam(params["user"]).pw_uid
        self.gid = grp.getgrnam(params["group"]).gr_gid
        self.names = {self.owner_uid: params["owner"], self.user_uid: params["user"]}
        self.service_dirs = [(split(d["path"]), int(d["mode"], 8), d["create"]) for d in params["service_dirs"]]
        self.service_files = [(split(f["path"]), int(f["mode"], 8)) for f in params["service_files"]]
        self.user_trees = [split(t) for t in params["user_trees"]]
        self.setgid = params["setgid"]
        self.changes: List[str] = []
        self.changed_count = 0
        self.refused: List[str] = []
        self.refused_count = 0

    # -- bookkeeping -------------------------------------------------------------------------
    def note(self, rel: Tuple[str, ...], what: str) -> None:
        self.changed_count += 1
        if len(self.changes) < LIST_CAP:
            self.changes.append("%s: %s" % ("/".join(rel) or ".", what))

    def refuse(self, rel: Tuple[str, ...], why: str) -> None:
        self.refused_count += 1
        if len(self.refused) < LIST_CAP:
            self.refused.append("%s: %s" % ("/".join(rel) or ".", why))

    def uname(self, uid: int) -> str:
        if uid not in self.names:
            try:
                self.names[uid] = pwd.getpwuid(uid).pw_name
            except KeyError:
                self.names[uid] = str(uid)
        return self.names[uid]

    # -- zones -------------------------------------------------------------------------------
    def service_dir(self, rel: Tuple[str, ...]) -> Optional[int]:
        for pattern, mode, _create in self.service_dirs:
            if matches(rel, pattern):
                return mode
        return None

    def service_file(self, rel: Tuple[str, ...]) -> Optional[int]:
        for pattern, mode in self.service_files:
            if matches(rel, pattern):
                return mode
        return None

    def in_user_tree(self, rel: Tuple[str, ...]) -> bool:
        return any(rel[: len(tree)] == tree for tree in self.user_trees)

    # -- changes through descriptors ---------------------------------------------------------
    def settle(self, fd: int, rel: Tuple[str, ...], uid: int, mode: int) -> None:
        """Give the open entry uid:gid and mode (fchown/fchmod: never a path)."""
        st = os.fstat(fd)
        what = []
        if st.st_uid != uid or st.st_gid != self.gid:
            what.append("owner %s -> %s:%s" % (self.uname(st.st_uid), self.uname(uid), self.gid_name))
        if stat.S_IMODE(st.st_mode) != mode:
            what.append("mode %04o -> %04o" % (stat.S_IMODE(st.st_mode), mode))
        if not what:
            return
        self.note(rel, ", ".join(what))
        if self.check:
            return
        if st.st_uid != uid or st.st_gid != self.gid:
            os.fchown(fd, uid, self.gid)
        os.fchmod(fd, mode)

    @property
    def gid_name(self) -> str:
        try:
            return grp.getgrgid(self.gid).gr_name
        except KeyError:
            return str(self.gid)

    def open_entry(self, dir_fd: int, name: str, st: os.stat_result, directory: bool) -> Optional[int]:
        """Open name (lstat'ed as st) without following links; None if it changed meanwhile."""
        flags = OPEN_FLAGS | (os.O_DIRECTORY if directory else 0)
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError:
            return None
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)
            return None
        return fd

    def handle_entry(self, dir_fd: int, name: str, rel: Tuple[str, ...]) -> bool:
        """Check or fix one entry below the top; True when the walk may descend into it."""
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        dir_mode = self.service_dir(rel)
        if dir_mode is not None:
            if not stat.S_ISDIR(st.st_mode):
                self.refuse(rel, "%s where a service folder belongs" % kind(st))
            elif st.st_uid not in (self.owner_uid, self.user_uid):
                self.refuse(rel, "service folder owned by %s" % self.uname(st.st_uid))
            else:
                self.with_fd(dir_fd, name, st, rel, self.user_uid, dir_mode)
            return False  # the service user's own content: never entered
        file_mode = self.service_file(rel)
        if file_mode is not None:
            if not stat.S_ISREG(st.st_mode):
                self.refuse(rel, "%s where a service file belongs" % kind(st))
            elif st.st_nlink > 1:
                self.refuse(rel, "service file with %d hard links" % st.st_nlink)
            elif st.st_uid not in (self.owner_uid, self.user_uid):
                self.refuse(rel, "service file owned by %s" % self.uname(st.st_uid))
            else:
                self.with_fd(dir_fd, name, st, rel, self.user_uid, file_mode)
            return False
        if self.in_user_tree(rel):
            return self.user_entry(dir_fd, name, st, rel)
        return self.code_entry(dir_fd, name, st, rel)

    def code_entry(self, dir_fd: int, name: str, st: os.stat_result, rel: Tuple[str, ...]) -> bool:
        if stat.S_ISLNK(st.st_mode):
            if st.st_uid != self.owner_uid:
                self.refuse(rel, "symbolic link made by %s" % self.uname(st.st_uid))
            return False
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            self.refuse(rel, "%s in the code" % kind(st))
            return False
        want = code_mode(st.st_mode, self.setgid)
        up_to_date = st.st_uid == self.owner_uid and st.st_gid == self.gid and stat.S_IMODE(st.st_mode) == want
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and not up_to_date:
            self.refuse(rel, "file with %d hard links" % st.st_nlink)
            return False
        if st.st_uid not in (self.owner_uid, self.user_uid) and not up_to_date:
            self.refuse(rel, "owned by %s" % self.uname(st.st_uid))
            return False
        if not up_to_date:
            self.with_fd(dir_fd, name, st, rel, self.owner_uid, want)
        return stat.S_ISDIR(st.st_mode)

    def user_entry(self, dir_fd: int, name: str, st: os.stat_result, rel: Tuple[str, ...]) -> bool:
        # The user's own entries (links included) are its business; root only hands over its own.
        if stat.S_ISLNK(st.st_mode) or st.st_uid == self.user_uid:
            return stat.S_ISDIR(st.st_mode)
        if st.st_uid != self.owner_uid:
            self.refuse(rel, "owned by %s" % self.uname(st.st_uid))
            return False
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            self.refuse(rel, "%s in a user tree" % kind(st))
            return False
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            self.refuse(rel, "file with %d hard links" % st.st_nlink)
            return False
        self.with_fd(dir_fd, name, st, rel, self.user_uid, code_mode(st.st_mode))
        return stat.S_ISDIR(st.st_mode)

    def with_fd(self, dir_fd: int, name: str, st: os.stat_result, rel: Tuple[str, ...], uid: int, mode: int) -> None:
        fd = self.open_entry(dir_fd, name, st, stat.S_ISDIR(st.st_mode))
        if fd is None:
            self.refuse(rel, "replaced while being checked")
            return
        try:
            self.settle(fd, rel, uid, mode)
        finally:
            os.close(fd)

    def create_missing(self, dir_fd: int, rel: Tuple[str, ...], present: set) -> None:
        for pattern, mode, create in self.service_dirs:
            if not create or len(pattern) != len(rel) + 1 or pattern[:-1] != rel or pattern[-1] in present:
                continue
            name = pattern[-1]
            self.note(pattern, "created")
            if self.check:
                continue
            os.mkdir(name, 0o700, dir_fd=dir_fd)
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            fd = self.open_entry(dir_fd, name, st, True)
            if fd is None:
                self.refuse(pattern, "replaced right after it was created")
                continue
            try:
                os.fchown(fd, self.user_uid, self.gid)
                os.fchmod(fd, mode)
            finally:
                os.close(fd)

    # -- the walk ----------------------------------------------------------------------------
    def run(self) -> None:
        top_fd = os.open(self.root, OPEN_FLAGS | os.O_DIRECTORY)
        try:
            top = os.fstat(top_fd)
            want = 0o2750 if self.setgid else 0o750
            if top.st_uid != self.owner_uid or top.st_gid != self.gid or stat.S_IMODE(top.st_mode) != want:
                if top.st_uid not in (self.owner_uid, self.user_uid):
                    self.refuse((), "owned by %s" % self.uname(top.st_uid))
                    return
                self.settle(top_fd, (), self.owner_uid, want)
        finally:
            os.close(top_fd)
        planned_dirs = {p for p, _m, c in self.service_dirs if c}
        for dirpath, dirnames, filenames, dir_fd in os.fwalk(self.root, follow_symlinks=False):
            rel = split(os.path.relpath(dirpath, self.root))
            descend = []
            for name in sorted(dirnames):
                if self.handle_entry(dir_fd, name, rel + (name,)):
                    descend.append(name)
            for name in sorted(filenames):
                self.handle_entry(dir_fd, name, rel + (name,))
            if any(len(p) == len(rel) + 1 and p[:-1] == rel for p in planned_dirs):
                self.create_missing(dir_fd, rel, set(dirnames) | set(filenames))
            dirnames[:] = descend


def kind(st: os.stat_result) -> str:
    mode = st.st_mode
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISREG, "file"), (stat.S_ISDIR, "folder"),
                       (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def unsafe_ancestors(path: str) -> List[str]:
    """Folders at or above path that are not root's alone (links, other owners, group/other write)."""
    problems = []
    current = path
    while True:
        try:
            st = os.lstat(current)
        except OSError as exc:
            return ["%s: %s" % (current, exc.strerror)]
        if stat.S_ISLNK(st.st_mode):
            problems.append("%s: symbolic link" % current)
        elif not stat.S_ISDIR(st.st_mode):
            problems.append("%s: not a folder" % current)
        elif st.st_uid != 0:
            problems.append("%s: owned by uid %d" % (current, st.st_uid))
        elif st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            problems.append("%s: writable by group or others" % current)
        parent = os.path.dirname(current)
        if parent == current:
            return problems
        current = parent


def check_params(module: AnsibleModule) -> None:
    params = module.params
    path = params["path"]
    if not os.path.isabs(path) or path != os.path.normpath(path) or path == "/":
        module.fail_json(msg="path: %r must be an absolute, normalised path other than /" % path)
    for key in ("service_dirs", "service_files"):
        for entry in params[key]:
            parts = split(entry["path"])
            if not parts or ".." in parts or entry["path"].startswith("/"):
                module.fail_json(msg="%s: %r must be a relative path without '..'" % (key, entry["path"]))
            try:
                mode = int(entry["mode"], 8)
            except (TypeError, ValueError):
                mode = -1
            if not 0 <= mode <= 0o777:
                module.fail_json(msg="%s: mode %r of %r is not an octal mode" % (key, entry["mode"], entry["path"]))
            if entry.get("create") and any(c in part for part in parts for c in "*?["):
                module.fail_json(msg="service_dirs: %r has wildcards and cannot be created" % entry["path"])
    for tree in params["user_trees"]:
        if not split(tree) or ".." in split(tree) or tree.startswith("/"):
            module.fail_json(msg="user_trees: %r must be a relative path without '..'" % tree)
    for key in ("owner", "user"):
        try:
            pwd.getpwnam(params[key])
        except KeyError:
            module.fail_json(msg="%s: no user %r on this host" % (key, params[key]))
    try:
        grp.getgrnam(params["group"])
    except KeyError:
        module.fail_json(msg="group: no group %r on this host" % params["group"])


def run_module() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            owner=dict(type="str", default="root"),
            group=dict(type="str", required=True),
            user=dict(type="str", required=True),
            service_dirs=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="str", required=True),
                mode=dict(type="str", required=True),
                create=dict(type="bool", default=False),
            )),
            service_files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="str", required=True),
                mode=dict(type="str", required=True),
            )),
            user_trees=dict(type="list", elements="str", default=[]),
            setgid=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    check_params(module)
    path = module.params["path"]
    problems = unsafe_ancestors(os.path.dirname(path))
    if not os.path.isdir(path) or os.path.islink(path):
        problems.append("%s: not a folder (or a symbolic link)" % path)
    if problems:
        module.fail_json(msg="path: %s must lie in folders only root can change: %s" % (path, "; ".join(problems)),
                         changed=False, changes=[], changed_count=0, refused=problems)
    tree = Tree(module.params, module.check_mode)
    try:
        tree.run()
    except OSError as exc:
        module.fail_json(msg="path: %s: %s (%s)" % (path, exc.strerror, exc.filename or ""),
                         changed=tree.changed_count > 0, changes=tree.changes,
                         changed_count=tree.changed_count, refused=tree.refused)
    result = dict(changed=tree.changed_count > 0, changes=tree.changes, changed_count=tree.changed_count,
                  refused=tree.refused)
    if tree.refused_count:
        module.fail_json(
            msg="%s: %d entries were refused: they may be links or files the service user %s planted "
                "to make root change something outside the tree. Nothing outside the tree was touched; "
                "inspect and remove them, then run again: %s" % (
                    path, tree.refused_count, module.params["user"], "; ".join(tree.refused[:10])),
            **result)
    module.exit_json(**result)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
