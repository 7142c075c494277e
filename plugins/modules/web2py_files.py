#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_files
short_description: Put several files in place in one module run, without following links
version_added: 1.0.0
description:
  - Writes a list of files (their content rendered on the controller, for example with the
    C(ansible.builtin.template) lookup) and gives each its owner, group and mode, in one run on
    the host. M(ansible.builtin.template) and M(ansible.builtin.copy) cost two module runs per
    file even when nothing changes; this module costs one for all of them.
  - Everything is checked before any file is written. The destinations, folders, owners, modes
    and validate commands are checked first. Then each changed file with O(files[].validate) is
    validated on a copy in the module's own temporary folder, as M(ansible.builtin.copy) does,
    against the files as they are. A refusal or a failed validation leaves every file of the
    task as it was.
  - A file that changes, in its content, owner, group or mode, is written to a temporary file in
    its folder and renamed over the old one (atomic). It is a new file, so a descriptor that
    the previous owner kept open cannot write into it.
  - Every changed file of the task is written to its temporary file first; only then are they
    renamed over the old ones. A failure while writing them (a full disk, say) removes the
    temporary files and leaves every file as it was, so the next run finds the same files
    changed and notifies the same handlers (a task that failed half-way through its files would
    have changed some for good while its handlers were never notified).
  - Root never follows a link here. Each folder holding a file, and every folder above it, must
    be a real folder owned by root that nobody else may write to (a root-owned folder with the
    sticky bit, such as C(/tmp), may be above it). Run as another user (C(become_user)), folders
    of that user count as root's, since what it could plant there it could write itself. A destination that is a symbolic link, not a
    regular file, or a file with more than one hard link is refused, naming it.
  - The current file is read only when it has the new content's size.
  - O(dirs) are made (or given their owner, group and mode) after every check and validation,
    before the files are written, so a task can put files into folders it makes.
  - In check mode nothing is written or validated. A file whose folder, owner or group does not
    exist yet, or whose folders are not root's alone yet, is reported as changing, with a warning
    for the folders (an earlier task of a real run would create or take them; the real run
    refuses what is still unsafe).
author:
  - web2py.deploy maintainers (@web2py-deploy)
options:
  files:
    description:
      - The files, in the order they are written.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description:
          - Absolute path of the file, without C(.) or C(..) parts or control characters; its
            name at most 200 bytes. Not expanded (C($HOME) stays as written).
        type: str
        required: true
      content:
        description:
          - The whole content of the file (UTF-8). End it with a line break. Ansible masks this
            value wherever it appears in the task's output, so a one-line content without one
            could mask a path that contains it.
        type: str
        required: true
      owner:
        description: Owner of the file (a name, or digits for a uid); O(owner) when not set.
        type: str
      group:
        description: Group of the file (a name, or digits for a gid); O(group) when not set.
        type: str
      mode:
        description:
          - Mode of the file, an octal string such as V('0640'); an integer is the mode itself
            (an unquoted C(0640) in YAML is read as that mode). Permission bits only. O(mode)
            when not set.
        type: raw
      validate:
        description:
          - Command checking the new content before any file is written, with C(%s) where the
            path of a copy of the new content goes (in the module's temporary folder). It is
            split like a shell would split it, and never run by a shell. A non-zero status fails
            the task and leaves every file of it in place.
        type: str
      diff:
        description:
          - Show the change as a unified diff with C(--diff), and the validator's output when it
            refuses. Set V(false) for files holding secrets.
        type: bool
        default: true
  dirs:
    description:
      - Folders to make, or to give their owner, group and mode, in the order given. Missing
        folders above one are made first (root's, mode 0755), as C(mkdir -p) would; the
        existing folders above it must be root's alone (as for files). An existing folder must
        be a real folder (a link is refused). A file may go into one of them when the folder is
        root's and nobody else may write to it.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the folder, with the rules of O(files[].dest).
        type: str
        required: true
      owner:
        description: Owner of the folder; O(owner) when not set.
        type: str
      group:
        description: Group of the folder; O(group) when not set.
        type: str
      mode:
        description: Mode of the folder, as O(files[].mode) (permission bits only).
        type: raw
        default: "0755"
  owner:
    description: Default owner of the files.
    type: str
    default: root
  group:
    description: Default group of the files.
    type: str
    default: root
  mode:
    description: Default mode of the files.
    type: raw
    default: "0644"
attributes:
  check_mode:
    support: full
    description: Reports the files it would write or change, without writing or validating any.
  diff_mode:
    support: full
    description: A unified diff per changed file, except files with O(files[].diff=false).
  platform:
    support: full
    platforms: posix
    description: Linux (directory descriptors, C(O_NOFOLLOW)).
notes:
  - The content travels in the module's arguments and is marked C(no_log), so C(-vvv) does not
    print it. For secrets, use O(files[].diff=false). Use C(no_log) on the task when the
    destination paths themselves must not be shown.
seealso:
  - module: ansible.builtin.template
  - module: web2py.deploy.web2py_tree
"""

EXAMPLES = r"""
- name: Install the units and the helper script (its folder made first)
  web2py.deploy.web2py_files:
    dirs:
      - path: /usr/local/lib/web2py-deploy
    files:
      - dest: /etc/systemd/system/web2py-worker@.service
        content: "{{ lookup('ansible.builtin.template', 'worker@.service.j2') }}"
      - dest: /usr/local/lib/web2py-deploy/check-candidate
        content: "{{ lookup('ansible.builtin.file', 'check-candidate', rstrip=false) }}"
        mode: "0755"
      - dest: /etc/app/secret.ini
        content: "{{ lookup('ansible.builtin.template', 'secret.ini.j2') }}"
        group: web2py
        mode: "0640"
        diff: false
  register: installed
  notify: Reload systemd

- name: Restart the worker when its unit changed
  ansible.builtin.systemd_service:
    name: web2py-worker@app.service
    state: restarted
  when: "'/etc/systemd/system/web2py-worker@.service' in installed.changed_files"
"""

RETURN = r"""
dirs:
  description: Each folder of O(dirs) in the order given, with what was done to it.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The folder's path.
      type: str
    changed:
      description: Whether it was (or in check mode would be) made, or its owner, group or mode changed.
      type: bool
    created:
      description: Whether the folder did not exist.
      type: bool
  sample: [{path: /usr/local/libexec/web2py-deploy, changed: false, created: false}]
files:
  description: Each file in the order given, with what was done to it.
  returned: always
  type: list
  elements: dict
  contains:
    dest:
      description: The file's path.
      type: str
    changed:
      description: Whether its content, owner, group or mode was (or in check mode would be) changed.
      type: bool
    content_changed:
      description: Whether its content was (or would be) written; also true for a new file.
      type: bool
    created:
      description: Whether the file did not exist.
      type: bool
  sample: [{dest: /etc/systemd/system/web2py-worker@.service, changed: true, content_changed: true, created: false}]
changed_files:
  description: The paths of the files that changed, in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/web2py-worker@.service]
"""

import difflib
import grp
import os
import pwd
import re
import shlex
import stat
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text

# Diffs of files larger than this are not shown (the file is still compared byte for byte).
DIFF_LIMIT = 256 * 1024
# A line break or another control character in a path, a name or a command.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NAME_MAX = 200  # leaves room for the temporary file's prefix and suffix within NAME_MAX (255)


def trusted_uids() -> t.FrozenSet[int]:
    """Who may own the folders above a file: root, and the user this module runs as (become_user):
    what that user could plant, it could write itself, so nothing is gained by it. Run as root
    (the rule for every root task), root alone."""
    euid = os.geteuid()
    return frozenset((0, euid))


def unsafe_folders(folder: str) -> t.List[str]:
    """Problems of folder and the folders above it: each must be a real folder owned by root and
    writable by nobody else; a root-owned sticky folder may be above it (others cannot rename
    root's entries in it). The walk of _walk_problem, with no folder of dirs."""
    problem, missing, _absent = _walk_problem(os.path.join(folder, "_"), {})
    if problem:
        return [problem]
    return ["%s does not exist" % missing[0]] if missing else []


def check_dest(dest: t.Any) -> t.Optional[str]:
    """Why dest is not an acceptable path, or None."""
    if not isinstance(dest, str) or not dest.startswith("/") or dest.endswith("/"):
        return "must be an absolute path to a file"
    if CONTROL.search(dest):
        return "must not hold a line break or another control character"
    if any(part in (".", "..") for part in dest.split("/")) or "//" in dest:
        return "must not hold '.', '..' or empty parts"
    if len(os.path.basename(dest).encode("utf-8", "surrogateescape")) > NAME_MAX:
        return "its name is longer than %d bytes" % NAME_MAX
    return None


def parse_mode(value: t.Any) -> t.Optional[int]:
    """An integer is the mode itself (YAML reads an unquoted 0640 as 416, which is 0o640); a
    string is octal ('0640'). Only permission bits: no set-user-ID, set-group-ID or sticky bit."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        mode = value
    elif isinstance(value, str) and re.fullmatch(r"0?[0-7]{3}", value):
        mode = int(value, 8)
    else:
        return None
    return mode if 0 <= mode <= 0o777 else None


def lookup_id(name: str, database: t.Any, attribute: str) -> t.Optional[int]:
    """A user's or group's id: its name, or digits as the id itself."""
    if name.isdigit():
        return int(name)
    try:
        return getattr(database(name), attribute)
    except KeyError:
        return None


def resolve(module: AnsibleModule, entry: t.Dict[str, t.Any], path: str) -> t.Tuple[int, int, int]:
    """The uid, gid and mode of an entry of files or dirs (its own or the module's defaults). In
    check mode a user or group that does not exist yet (an earlier task would create it) is -1:
    the entry is reported as changing."""
    owner = entry.get("owner") or module.params["owner"]
    group = entry.get("group") or module.params["group"]
    value = entry.get("mode") if entry.get("mode") is not None else module.params["mode"]
    uid = lookup_id(owner, pwd.getpwnam, "pw_uid")
    gid = lookup_id(group, grp.getgrnam, "gr_gid")
    if uid is None and not module.check_mode:
        module.fail_json(msg="%s: no user %s" % (path, owner))
    if gid is None and not module.check_mode:
        module.fail_json(msg="%s: no group %s" % (path, group))
    mode = parse_mode(value)
    if mode is None:
        module.fail_json(msg="%s: mode must be an octal string such as '0644' (permission bits only), not %r"
                         % (path, value))
    return (-1 if uid is None else uid), (-1 if gid is None else gid), mode


def _walk_problem(path: str, planned: t.Dict[str, t.Dict[str, t.Any]]) -> t.Tuple[t.Optional[str], t.List[str], bool]:
    """(problem, missing folders, whether some folder above is missing) for the folders above
    path, each judged as this task leaves it: a folder of dirs must be root's alone as planned
    and, if it exists, already now (nobody else may have swapped what is below it); any other
    folder must be a real folder owned by root that nobody else may write to (a root-owned
    sticky folder may be above the one holding path). Folders missing below the deepest existing
    one are returned, to be made as mkdir -p would."""
    parts = path.strip("/").split("/")[:-1]
    missing: t.List[str] = []
    absent = False
    current = "/"
    for index in range(len(parts) + 1):
        if index:
            current = os.path.join(current, parts[index - 1])
        holding = index == len(parts)
        if current in planned:
            plan = planned[current]
            if not plan["root_alone"]:
                return "%s would not be root's alone" % current, missing, absent
            if plan["st"] is not None and not plan["safe_now"]:
                return "%s is not root's alone yet (fix it in an earlier task)" % current, missing, absent
            absent = absent or plan["st"] is None
            continue
        if absent:
            missing.append(current)
            continue
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            absent = True
            missing.append(current)
            continue
        if stat.S_ISLNK(st.st_mode):
            return "%s is a symbolic link" % current, missing, absent
        if not stat.S_ISDIR(st.st_mode):
            return "%s is not a folder" % current, missing, absent
        if st.st_uid not in trusted_uids():
            return "%s is owned by uid %d, not root%s" % (
                current, st.st_uid, "" if os.geteuid() == 0 else " or the user this runs as"), missing, absent
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not (st.st_mode & stat.S_ISVTX and not holding):
            return "%s is writable by others than root (mode %04o)" % (current, stat.S_IMODE(st.st_mode)), missing, absent
    return None, missing, absent


def plan_dirs(module: AnsibleModule) -> t.Dict[str, t.Dict[str, t.Any]]:
    """path -> plan of each folder of dirs (and of the missing folders above them): everything
    checked, nothing made yet."""
    planned: t.Dict[str, t.Dict[str, t.Any]] = {}
    for entry in module.params["dirs"]:
        path = entry["path"]
        problem = check_dest(path)
        if problem is None and any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in path.split("/")):
            problem = "a name in it is longer than 255 bytes"
        if problem:
            module.fail_json(msg="%s: %s" % (path, problem.replace("to a file", "to a folder")))
        if path in planned:
            module.fail_json(msg="dirs: each path once, each listed before the folders below it; %s comes again" % path)
        uid, gid, mode = resolve(module, dict(entry, mode=entry.get("mode") or "0755"), path)
        problem, missing, absent = _walk_problem(path, planned)
        if problem and module.check_mode:
            # An earlier task of a real run would make or fix it (the real run refuses what is
            # still unsafe then): reported as a change.
            module.warn("%s: %s (a real run refuses it unless an earlier task fixes it)" % (path, problem))
            absent = True
        elif problem:
            module.fail_json(msg="%s: refused, %s" % (path, problem))
        for folder in missing:
            planned[folder] = dict(path=folder, uid=0, gid=0, mode=0o755, st=None, root_alone=True, safe_now=True, changed=True)
        st = None
        if not absent:
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                st = None
            if st is not None and not stat.S_ISDIR(st.st_mode):
                module.fail_json(msg="%s: refused, it is %s (root never makes a folder through it)"
                                 % (path, "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"))
        planned[path] = dict(path=path, uid=uid, gid=gid, mode=mode, st=st,
                             root_alone=uid in trusted_uids() and not mode & (stat.S_IWGRP | stat.S_IWOTH),
                             safe_now=st is None or (st.st_uid in trusted_uids() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)),
                             changed=st is None or st.st_uid != uid or st.st_gid != gid or stat.S_IMODE(st.st_mode) != mode)
    return planned


def make_dir(plan: t.Dict[str, t.Any]) -> int:
    """Make the folder of a plan or open it (every folder above it is root's alone: nobody else
    can swap it), give it its owner, group and mode; returns a descriptor of it."""
    if plan["st"] is None:
        os.mkdir(plan["path"], 0o700)
    fd = os.open(plan["path"], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        st = os.fstat(fd)
        if plan["st"] is not None and (st.st_dev, st.st_ino) != (plan["st"].st_dev, plan["st"].st_ino):
            raise OSError("%s changed while this task ran" % plan["path"])
        if plan["changed"]:
            os.fchown(fd, plan["uid"], plan["gid"])
            os.fchmod(fd, plan["mode"])
    except OSError:
        os.close(fd)
        raise
    return fd


def read_current(dir_fd: int, name: str, size: int) -> t.Tuple[t.Optional[os.stat_result], t.Optional[bytes], t.Optional[str]]:
    """(stat, content, problem) of name in dir_fd, links never followed. The content is read
    only when the file has the new content's size (else it differs anyway), and never more than
    that size plus one byte."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None, None, None
    if stat.S_ISLNK(st.st_mode):
        return st, None, "is a symbolic link"
    if not stat.S_ISREG(st.st_mode):
        return st, None, "is not a regular file"
    if st.st_nlink > 1:
        return st, None, "has %d hard links" % st.st_nlink
    if st.st_size != size:
        return st, None, None
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        chunks, left = [], size + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    return st, b"".join(chunks), None


def read_for_diff(dir_fd: int, name: str) -> bytes:
    """The start of the current file, for the diff only."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        return os.read(fd, DIFF_LIMIT + 1)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def validate_candidate(module: AnsibleModule, dest: str, data: bytes, argv: t.List[str], show_output: bool) -> None:
    """Run argv (%s: a copy of data in the module's own temporary folder, root's, 0700; as
    ansible.builtin.copy does) and fail when it refuses. Never beside dest, where a
    configuration's include glob could read it."""
    candidate = os.path.join(module.tmpdir, "candidate")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        rc, out, err = module.run_command([arg.replace("%s", candidate) for arg in argv])
    finally:
        os.unlink(candidate)
    if rc != 0:
        details: t.Dict[str, t.Any] = dict(rc=rc, stdout=out, stderr=err) if show_output else dict(
            rc=rc, output_hidden="the validator's output may quote the file (diff: false)")
        module.fail_json(msg="%s: failed to validate (%s), the old file is kept; no file of this task was written"
                         % (dest, " ".join(argv)), changed=False, changed_files=[], **details)


def stage_new(dir_fd: int, name: str, data: bytes, uid: int, gid: int, mode: int) -> str:
    """Write data, owner, group and mode to a new temporary file beside name and return its name
    (renamed over name once every file of the task is staged: a new inode, so no descriptor
    another user kept open on the old file writes into the new one). Removed again on failure."""
    tmp = ".%s.web2py-files-%s" % (name, os.urandom(6).hex())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    try:
        try:
            write_all(fd, data)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        remove_quietly(dir_fd, tmp)
        raise
    return tmp


def remove_quietly(dir_fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def unified(dest: str, before: t.Optional[bytes], after: bytes) -> str:
    """A unified diff (the callback prints it as it is: a whole content, which Ansible masks as a
    no_log value, never appears in it verbatim when it has more than one line)."""
    if (before is not None and len(before) > DIFF_LIMIT) or len(after) > DIFF_LIMIT:
        return "--- %s\n+++ %s\n(larger than %d bytes, not shown)\n" % (dest, dest, DIFF_LIMIT)
    old = to_text(before or b"", errors="surrogate_or_replace").splitlines(True)
    new = to_text(after, errors="surrogate_or_replace").splitlines(True)
    text = "".join(difflib.unified_diff(old, new, "before: " + dest, "after: " + dest))
    return text if text.endswith("\n") or not text else text + "\n"


def run_module() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", required=True, options=dict(
                dest=dict(type="str", required=True),
                content=dict(type="str", required=True, no_log=True),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="raw"),
                validate=dict(type="str"),
                diff=dict(type="bool", default=True),
            )),
            dirs=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="str", required=True),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="raw", default="0755"),
            )),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
            mode=dict(type="raw", default="0644"),
        ),
        supports_check_mode=True,
    )
    entries = module.params["files"]
    dests = [entry["dest"] for entry in entries]
    duplicates = sorted({dest for dest in dests if dests.count(dest) > 1})
    if duplicates:
        module.fail_json(msg="files: each dest once; repeated: %s" % ", ".join(duplicates))

    # Everything is checked before anything is written: a refused file, a bad argument or a
    # failed validation leaves every file of the task as it was.
    plans = []
    folders: t.Dict[str, t.Optional[int]] = {}
    written: t.List[str] = []
    made: t.List[str] = []
    # (folder descriptor, temporary name, name, dest) of the new files not renamed into place yet.
    staged: t.List[t.Tuple[int, str, str, str]] = []
    try:
        dirs = plan_dirs(module)
        for dest in dests:
            if any(path == dest or path.startswith(dest + "/") for path in dirs):
                module.fail_json(msg="%s: a file of files and a folder of dirs (or a folder below it)" % dest)
        for entry in entries:
            dest = entry["dest"]
            problem = check_dest(dest)
            if problem:
                module.fail_json(msg="%s: %s" % (dest, problem))
            argv = None
            if entry.get("validate") is not None:
                if "%s" not in entry["validate"] or CONTROL.search(entry["validate"]):
                    module.fail_json(msg="%s: validate must contain %%s (the new content's path) and no control character" % dest)
                try:
                    argv = shlex.split(entry["validate"])
                except ValueError as error:
                    module.fail_json(msg="%s: validate cannot be split into arguments: %s" % (dest, to_text(error)))
            try:
                data = entry["content"].encode("utf-8")
            except UnicodeEncodeError:
                module.fail_json(msg="%s: the content is not valid UTF-8 text" % dest)
            uid, gid, mode = resolve(module, entry, dest)
            folder, name = os.path.split(dest)
            if folder not in folders and any(path == folder or folder.startswith(path + "/") for path in dirs):
                # Below a folder of this task: judged as the task leaves it, made or fixed before
                # the files are written (opened then when it is missing now).
                problem, missing, absent = _walk_problem(dest, dirs)
                if missing and not problem:
                    problem = "%s does not exist and is not in dirs" % missing[0]
                if problem and module.check_mode:
                    module.warn("%s: %s (a real run refuses it unless an earlier task fixes it)" % (dest, problem))
                    absent = True
                elif problem:
                    module.fail_json(msg="%s: refused, %s" % (dest, problem))
                folders[folder] = None if absent else os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            if folder not in folders:
                problems = unsafe_folders(folder)
                if problems and module.check_mode:
                    # An earlier task of a real run would make or take the folder (reported as a
                    # change; the real run refuses what is still unsafe then).
                    module.warn("%s: %s (a real run refuses it unless an earlier task fixes it)" % (folder, "; ".join(problems)))
                    folders[folder] = None
                elif problems:
                    module.fail_json(msg="%s: refused, the folders holding it are not root's alone: %s"
                                     % (dest, "; ".join(problems)))
                else:
                    folders[folder] = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            dir_fd = folders[folder]
            st, current, problem = (None, None, None) if dir_fd is None else read_current(dir_fd, name, len(data))
            if problem:
                module.fail_json(msg="%s: refused, it %s (root never writes through it)" % (dest, problem))
            content_changed = dir_fd is None or current != data
            attrs_changed = st is not None and (st.st_uid != uid or st.st_gid != gid or stat.S_IMODE(st.st_mode) != mode)
            plans.append(dict(entry=entry, folder=folder, name=name, data=data, uid=uid, gid=gid, mode=mode, argv=argv,
                              st=st, created=st is None, content_changed=content_changed,
                              changed=content_changed or attrs_changed))

        if not module.check_mode:
            for plan in plans:
                if plan["content_changed"] and plan["argv"]:
                    validate_candidate(module, plan["entry"]["dest"], plan["data"], plan["argv"], plan["entry"]["diff"])

        if not module.check_mode:
            for path, plan in dirs.items():
                if plan["changed"]:
                    fd = make_dir(plan)
                    made.append(path)
                    if path in folders and folders[path] is None:
                        folders[path] = fd
                    else:
                        os.close(fd)

        results = []
        diffs = []
        for plan in plans:
            entry = plan["entry"]
            dir_fd = folders[plan["folder"]]
            if plan["content_changed"] and module._diff:
                if entry["diff"]:
                    before = None if plan["created"] or dir_fd is None else read_for_diff(dir_fd, plan["name"])
                    diffs.append(dict(prepared=unified(entry["dest"], before, plan["data"])))
                else:
                    diffs.append(dict(prepared="--- %s\n+++ %s\n(content not shown: diff is false)\n" % (entry["dest"], entry["dest"])))
            if plan["changed"] and not module.check_mode:
                # A change of owner, group or mode is written as a new file too: a descriptor
                # the previous owner kept open must not write into a file root now vouches for.
                tmp = stage_new(dir_fd, plan["name"], plan["data"], plan["uid"], plan["gid"], plan["mode"])
                staged.append((dir_fd, tmp, plan["name"], entry["dest"]))
            results.append(dict(dest=entry["dest"], changed=plan["changed"], content_changed=plan["content_changed"],
                                created=plan["created"]))
        # Every new file is written: now they replace the old ones (renames in their own folders).
        while staged:
            dir_fd, tmp, name, dest = staged[0]
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            staged.pop(0)
            written.append(dest)
    except OSError as error:
        for dir_fd, tmp, _name, _dest in staged:
            remove_quietly(dir_fd, tmp)
        staged = []
        module.fail_json(msg="web2py_files: %s%s" % (to_text(error), "" if written else "; no file of this task was changed"),
                         changed=bool(written or made), changed_files=written, made_dirs=made)
    finally:
        for dir_fd, tmp, _name, _dest in staged:
            remove_quietly(dir_fd, tmp)
        for dir_fd in folders.values():
            if dir_fd is not None:
                os.close(dir_fd)

    changed_files = [result["dest"] for result in results if result["changed"]]
    dir_results = [dict(path=path, changed=plan["changed"], created=plan["st"] is None) for path, plan in dirs.items()]
    output: t.Dict[str, t.Any] = dict(changed=bool(changed_files) or any(plan["changed"] for plan in dirs.values()),
                                      dirs=dir_results, files=results, changed_files=changed_files)
    if diffs:
        output["diff"] = diffs
    module.exit_json(**output)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
