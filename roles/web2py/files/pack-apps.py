# -*- coding: utf-8 -*-
# Run on the controller by the web2py role (tasks/apps.yml), never copied to a host: packs each
# application source (a folder, or a .zip/.tar/.tar.gz/.w2p archive) into one .tar.gz that is
# copied to the host in one transfer and unpacked there into the staging folder.
"""Pack web2py application sources into deterministic archives.

Reads a JSON object on stdin: {"apps": [[name, src], ...], "exclude": [pattern, ...],
"add": {relative path: controller file, ...}, "dirs": [relative path, ...], "group": name} and
writes <name>.tar.gz for each application into a new temporary folder. Prints {"dir": folder,
"archives": {name: path}, "sha1": {name: hex digest}} (the host's copy with that digest is kept).

The archive depends only on the names and contents of the files: members are sorted, every
member belongs to root and the service group (by name) and carries the same fixed time, folders
are 0750, files 0640 (0750 when the source archive marked them executable; a folder source's files are 0640, as
Ansible's copy module staged them), and the gzip header holds no name and no time. An unchanged
source gives the same bytes, so the copy to the host reports no change and transfers nothing.
Because every member has the same time, the host compares the staged files with the deployed
ones by content (rsync --checksum), never by time and size.

Members are <name>/<path>. Paths matching an exclude pattern (rsync syntax: a leading / anchors
at the application folder, a trailing / matches folders only) are left out: runtime data in a
source never leaves the controller. Symbolic links are left out of folder sources (a link
would publish what it points to on the controller); in archive sources links, devices and FIFOs
are left out (rsync -r skipped them when it
deployed the unpacked archive), and absolute or .. member names are refused.
"""
from __future__ import annotations

import fnmatch
import gzip
import io
import hashlib
import json
import os
import stat
import sys
import tarfile
import tempfile
import zipfile

# 2000-01-01T00:00:00Z: any fixed time would do.
MTIME = 946684800
DIR_MODE = 0o750
FILE_MODE = 0o640
EXEC_MODE = 0o750


class PackError(Exception):
    """A source that cannot be packed (the message names it)."""


def excluded(rel, is_dir, patterns):
    """rsync-style exclude match of a /-separated path relative to the application folder."""
    name = rel.rsplit("/", 1)[-1]
    for pattern in patterns:
        dir_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        if pattern.startswith("/"):
            if fnmatch.fnmatchcase(rel, pattern[1:]):
                return True
        elif fnmatch.fnmatchcase(name, pattern):
            return True
    return False


def clean_name(name, src):
    """A member name of an archive source, relative and without . or .. parts."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise PackError(f"{src}: member {name!r} would land outside the application folder")
    return "/".join(parts)


def walk_folder(src):
    """(rel, is_dir, mode, controller path) of a folder source. Symbolic links inside it are left
    out, as in archive sources: a link would publish whatever it points to on the controller
    (static/ is served to everyone). The source folder itself may be reached through a link."""
    entries = []
    top = os.path.realpath(src)

    def walk(path, rel, seen):
        for entry in sorted(os.listdir(path)):
            full = os.path.join(path, entry)
            sub = f"{rel}/{entry}" if rel else entry
            try:
                info = os.lstat(full)
            except OSError as exc:
                raise PackError(f"{full}: {exc.strerror}") from exc
            if stat.S_ISLNK(info.st_mode):
                continue
            if stat.S_ISDIR(info.st_mode):
                real = os.path.realpath(full)
                if real in seen:
                    raise PackError(f"{full}: link loop")
                entries.append((sub, True, DIR_MODE, None))
                walk(full, sub, seen | {real})
            elif stat.S_ISREG(info.st_mode):
                entries.append((sub, False, FILE_MODE, full))
            else:
                raise PackError(f"{full}: not a file or folder")

    walk(top, "", frozenset([top]))
    return entries


def read_archive(src):
    """(rel, is_dir, mode, bytes) of a zip or tar archive source."""
    entries = []
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as archive:
            for info in archive.infolist():
                rel = clean_name(info.filename, src)
                unix = (info.external_attr >> 16) if info.create_system == 3 else 0
                if not rel or (unix and stat.S_ISLNK(unix)):
                    continue
                if info.is_dir():
                    entries.append((rel, True, DIR_MODE, None))
                else:
                    mode = EXEC_MODE if unix & 0o111 else FILE_MODE
                    entries.append((rel, False, mode, archive.read(info)))
        return entries
    try:
        archive = tarfile.open(src, "r:*")  # pylint: disable=consider-using-with
    except tarfile.TarError as exc:
        raise PackError(f"{src}: neither a zip nor a tar archive ({exc})") from exc
    with archive:
        for info in archive.getmembers():
            rel = clean_name(info.name, src)
            if not rel:
                continue
            if info.isdir():
                entries.append((rel, True, DIR_MODE, None))
            elif info.isreg() or info.islnk():
                data = archive.extractfile(info).read()
                entries.append((rel, False, EXEC_MODE if info.mode & 0o111 else FILE_MODE, data))
    return entries


def member(name, is_dir, mode, group, size=0):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = mode
    info.size = size
    info.mtime = MTIME
    # tar on the host maps the names (root, the service group) to its own ids.
    info.uid = info.gid = 0
    info.uname = "root"
    info.gname = group
    return info


def pack(name, src, request, dest):
    patterns = request.get("exclude", [])
    group = request.get("group", "root")
    if os.path.isdir(src):
        entries = walk_folder(src)
    elif os.path.isfile(src):
        entries = read_archive(src)
    else:
        raise PackError(f"{src}: no such file or folder on the controller")
    files = {}
    folders = set(request.get("dirs", []))
    for rel, is_dir, mode, content in entries:
        if excluded(rel, is_dir, patterns) or any(
                excluded("/".join(rel.split("/")[:i]), True, patterns) for i in range(1, rel.count("/") + 1)):
            continue
        if is_dir:
            folders.add(rel)
        else:
            files[rel] = (mode, content)
    for rel, path in request.get("add", {}).items():
        files[rel] = (FILE_MODE, path)
    for rel in list(files) + list(folders):
        parts = rel.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
    clash = sorted(folders & set(files))
    if clash:
        raise PackError(f"{src}: {clash[0]} is both a file and a folder")
    with open(dest, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(member(name, True, DIR_MODE, group))
                for rel in sorted(folders | set(files)):
                    if rel in folders:
                        tar.addfile(member(f"{name}/{rel}", True, DIR_MODE, group))
                        continue
                    mode, content = files[rel]
                    if isinstance(content, str):  # a path on the controller
                        with open(content, "rb") as handle:
                            content = handle.read()
                    tar.addfile(member(f"{name}/{rel}", False, mode, group, len(content)), io.BytesIO(content))


def main():
    request = json.load(sys.stdin)
    out = tempfile.mkdtemp(prefix="web2py-deploy-apps-")
    archives = {}
    try:
        for name, src in request["apps"]:
            archives[name] = os.path.join(out, f"{name}.tar.gz")
            pack(name, src, request, archives[name])
    except (PackError, OSError) as exc:
        for path in archives.values():
            if os.path.exists(path):
                os.unlink(path)
        os.rmdir(out)
        sys.exit(f"web2py_apps: cannot pack {exc}")
    sha1 = {}
    for name, path in archives.items():
        with open(path, "rb") as handle:
            sha1[name] = hashlib.sha1(handle.read()).hexdigest()
    json.dump({"dir": out, "archives": archives, "sha1": sha1}, sys.stdout)


if __name__ == "__main__":
    main()
