#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: web2py_files
short_description: Put several files in place in one module run, without following links
version_added: 0.3.0
description:
  - Writes a list of files (their content rendered on the controller, for example with the
    C(ansible.builtin.template) lookup) and gives each its owner, group and mode, in one run on
    the host. M(ansible.builtin.template) and M(ansible.builtin.copy) cost two module runs per
    file even when nothing changes; this module costs one for all of them.
  - A file whose content differs is optionally checked by O(files[].validate) (on a copy in the
    module's own temporary folder, as M(ansible.builtin.copy) does), then written to a temporary
    file in its folder and renamed over the old one (atomic). Files are written in the order
    given; a failed validation keeps that file and the ones after it as they were. A file whose content is
    the same only gets its owner, group and mode, through a descriptor opened without following
    links.
  - Root never follows a link here. Each folder holding a file, and every folder above it, must
    be a real folder owned by root that nobody else may write to (a root-owned folder with the
    sticky bit, such as C(/tmp), may be above it). A destination that is a symbolic link, not a
    regular file, or a file with more than one hard link is refused, naming it; nothing is
    written then.
  - In check mode nothing is written or validated; a file whose folder, owner or group does not
    exist yet (an earlier task would create it) is reported as changing.
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
          - Absolute path of the file, without C(.) or C(..) parts.
        type: path
        required: true
      content:
        description:
          - The whole content of the file (UTF-8).
        type: str
        required: true
      owner:
        description: Owner of the file; O(owner) when not set.
        type: str
      group:
        description: Group of the file; O(group) when not set.
        type: str
      mode:
        description: Mode of the file, an octal string such as V(0640); O(mode) when not set.
        type: str
      validate:
        description:
          - Command checking the new content before it replaces the file, with C(%s) where the
            path of a copy of the new content goes (in the module's temporary folder) (split like a shell would, never run by a shell). A
            non-zero status leaves the old file in place and fails the task.
        type: str
      diff:
        description:
          - Show the old and new content with C(--diff). V(false) for files holding secrets.
        type: bool
        default: true
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
    type: str
    default: "0644"
attributes:
  check_mode:
    support: full
    description: Reports the files it would write or change, without writing or validating any.
  diff_mode:
    support: full
    description: Shows each changed file's old and new content, except files with O(files[].diff=false).
  platform:
    support: full
    platforms: posix
    description: Linux (directory descriptors, C(O_NOFOLLOW)).
notes:
  - The content travels in the module's arguments; they are marked C(no_log), so C(-vvv) does
    not print them. Use O(files[].diff=false) for secrets, and C(no_log) on the task when the
    destination paths themselves must not be shown.
seealso:
  - module: ansible.builtin.template
  - module: web2py.deploy.web2py_tree
"""

EXAMPLES = r"""
- name: Install the units and the helper script
  web2py.deploy.web2py_files:
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

import grp
import os
import pwd
import shlex
import stat
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

# Diffs of files larger than this are not shown (the file is still compared byte for byte).
DIFF_LIMIT = 256 * 1024


def unsafe_folders(folder: str) -> t.List[str]:
    """Problems of folder and the folders above it: each must be a real folder owned by root and
    writable by nobody else; a root-owned sticky folder may be above it (others cannot rename
    root's entries in it)."""
    problems = []
    parts = folder.strip("/").split("/") if folder != "/" else []
    path = "/"
    for index in range(len(parts) + 1):
        if index:
            path = os.path.join(path, parts[index - 1])
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return problems + ["%s does not exist" % path]
        if stat.S_ISLNK(st.st_mode):
            problems.append("%s is a symbolic link" % path)
            break
        if not stat.S_ISDIR(st.st_mode):
            problems.append("%s is not a folder" % path)
            break
        if st.st_uid != 0:
            problems.append("%s is owned by uid %d, not root" % (path, st.st_uid))
        writable_by_others = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        sticky_above = st.st_mode & stat.S_ISVTX and index < len(parts)
        if writable_by_others and not sticky_above:
            problems.append("%s is writable by others than root (mode %04o)" % (path, stat.S_IMODE(st.st_mode)))
    return problems


def check_dest(dest: str) -> t.Optional[str]:
    """Why dest is not an acceptable path, or None."""
    if not dest.startswith("/") or dest.endswith("/"):
        return "must be an absolute path to a file"
    if any(part in (".", "..") for part in dest.split("/")) or "//" in dest:
        return "must not hold '.', '..' or empty parts"
    if "\0" in dest or "\n" in dest:
        return "must not hold a NUL or a line break"
    return None


def resolve(module: AnsibleModule, entry: t.Dict[str, t.Any]) -> t.Tuple[int, int, int]:
    """The uid, gid and mode of an entry (its own or the module's defaults). In check mode a
    user or group that does not exist yet (an earlier task would create it) is -1: the file is
    reported as changing."""
    owner = entry.get("owner") or module.params["owner"]
    group = entry.get("group") or module.params["group"]
    mode = entry.get("mode") or module.params["mode"]
    uid = gid = -1
    try:
        uid = pwd.getpwnam(owner).pw_uid
    except KeyError:
        if not module.check_mode:
            module.fail_json(msg="%s: no user %s" % (entry["dest"], owner))
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        if not module.check_mode:
            module.fail_json(msg="%s: no group %s" % (entry["dest"], group))
    if not isinstance(mode, str) or not mode.isdigit() or len(mode) > 4 or any(c > "7" for c in mode):
        module.fail_json(msg="%s: mode must be an octal string such as '0644', not %r" % (entry["dest"], mode))
    return uid, gid, int(mode, 8)


def read_current(dir_fd: int, name: str) -> t.Tuple[t.Optional[os.stat_result], t.Optional[bytes], t.Optional[str]]:
    """(stat, content, problem) of name in dir_fd, links never followed."""
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
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return st, b"".join(chunks), None


def validate_candidate(module: AnsibleModule, dest: str, data: bytes, validate: str) -> None:
    """Run validate on data written to a file of the module's own temporary folder (root's,
    0700; as ansible.builtin.copy does): never beside dest, where a configuration's include glob
    could read it."""
    candidate = os.path.join(module.tmpdir, "candidate-" + os.path.basename(dest))
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        argv = [arg.replace("%s", candidate) for arg in shlex.split(validate)]
        rc, out, err = module.run_command(argv)
        if rc != 0:
            module.fail_json(msg="%s: failed to validate (%s), the old file is kept" % (dest, validate),
                             rc=rc, stdout=out, stderr=err)
    finally:
        os.unlink(candidate)


def write_new(dir_fd: int, name: str, data: bytes, uid: int, gid: int, mode: int) -> None:
    """Write data to a temporary file beside name and rename it over name (atomic)."""
    tmp = ".%s.web2py-files-%s" % (name, to_text(os.urandom(6).hex()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        tmp = ""
    finally:
        if tmp:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except FileNotFoundError:
                pass


def set_attributes(dir_fd: int, name: str, uid: int, gid: int, mode: int) -> None:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("%s is no longer a regular file" % name)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def as_text(data: t.Optional[bytes]) -> str:
    if data is None:
        return ""
    if len(data) > DIFF_LIMIT:
        return "(%d bytes, not shown)\n" % len(data)
    return to_text(data, errors="surrogate_or_replace")


def run_module() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", required=True, options=dict(
                dest=dict(type="path", required=True),
                content=dict(type="str", required=True, no_log=True),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="str"),
                validate=dict(type="str"),
                diff=dict(type="bool", default=True),
            )),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
            mode=dict(type="str", default="0644"),
        ),
        supports_check_mode=True,
    )
    entries = module.params["files"]
    dests = [entry["dest"] for entry in entries]
    duplicates = sorted({dest for dest in dests if dests.count(dest) > 1})
    if duplicates:
        module.fail_json(msg="files: each dest once; repeated: %s" % ", ".join(duplicates))
    for entry in entries:
        problem = check_dest(entry["dest"])
        if problem:
            module.fail_json(msg="%s: %s" % (entry["dest"], problem))
        if entry.get("validate") is not None and "%s" not in entry["validate"]:
            module.fail_json(msg="%s: validate must contain %%s (the new content's path)" % entry["dest"])

    # Everything is looked at before anything is written: a refused file leaves all of them as
    # they were.
    plans = []
    folders: t.Dict[str, t.Optional[int]] = {}
    try:
        for entry in entries:
            uid, gid, mode = resolve(module, entry)
            folder, name = os.path.split(entry["dest"])
            if folder not in folders:
                problems = unsafe_folders(folder)
                missing = problems and problems[-1].endswith("does not exist")
                if missing and module.check_mode and len(problems) == 1:
                    folders[folder] = None
                elif problems:
                    module.fail_json(msg="%s: refused, the folders holding it are not root's alone: %s"
                                     % (entry["dest"], "; ".join(problems)))
                else:
                    folders[folder] = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            dir_fd = folders[folder]
            data = to_bytes(entry["content"], errors="surrogate_or_strict")
            st, current, problem = (None, None, None) if dir_fd is None else read_current(dir_fd, name)
            if problem:
                module.fail_json(msg="%s: refused, it %s (root never writes through it)" % (entry["dest"], problem))
            content_changed = current != data
            attrs_changed = st is not None and (st.st_uid != uid or st.st_gid != gid or stat.S_IMODE(st.st_mode) != mode)
            plans.append(dict(entry=entry, folder=folder, name=name, data=data, uid=uid, gid=gid, mode=mode,
                              current=current, created=st is None, content_changed=content_changed,
                              changed=content_changed or attrs_changed))

        results = []
        diffs = []
        for plan in plans:
            entry = plan["entry"]
            if plan["changed"] and not module.check_mode:
                dir_fd = folders[plan["folder"]]
                if plan["content_changed"]:
                    if entry.get("validate"):
                        validate_candidate(module, entry["dest"], plan["data"], entry["validate"])
                    write_new(dir_fd, plan["name"], plan["data"], plan["uid"], plan["gid"], plan["mode"])
                else:
                    set_attributes(dir_fd, plan["name"], plan["uid"], plan["gid"], plan["mode"])
            if plan["content_changed"] and module._diff:
                if entry["diff"]:
                    diffs.append(dict(before_header=entry["dest"], after_header=entry["dest"],
                                      before=as_text(plan["current"]), after=as_text(plan["data"])))
                else:
                    diffs.append(dict(before_header=entry["dest"], after_header=entry["dest"],
                                      before="(content not shown)\n", after="(content not shown, changed)\n"))
            results.append(dict(dest=entry["dest"], changed=plan["changed"], content_changed=plan["content_changed"],
                                created=plan["created"]))
    except OSError as error:
        module.fail_json(msg="web2py_files: %s" % to_text(error))
    finally:
        for dir_fd in folders.values():
            if dir_fd is not None:
                os.close(dir_fd)

    changed_files = [result["dest"] for result in results if result["changed"]]
    output: t.Dict[str, t.Any] = dict(changed=bool(changed_files), files=results, changed_files=changed_files)
    if diffs:
        output["diff"] = diffs
    module.exit_json(**output)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
