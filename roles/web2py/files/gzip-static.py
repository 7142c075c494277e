"""Precompressed siblings of web2py's static files (the guide's scripts/zip_static_files.py).

For every regular file under applications/<app>/static/ whose extension is listed, writes
<file>.gz beside it: gzip level 9, no name or time in the header (the same bytes on every host
and run), with the file's owner, group, mode and modification time (web2py's own static
handler and the lighttpd script serve the .gz only when it is not older; nginx and Apache
serve it when it exists). None is made when it would not be smaller.

Whatever the extension list says (an empty one included), a .gz beside a file that does not
hold that file (stale: the file changed, or it no longer compresses) is replaced or removed, so
no web server sends old content; one that holds it is kept. A .gz the application's source
ships (the same path under --source, the staged sources) is the application's: never touched,
so the deploy's sync and this script never undo each other. A .gz without its file (an archive
offered for download) is never touched.

Links are never followed: linked files and folders are skipped, files are opened with
O_NOFOLLOW, a folder named like a .gz is left alone, and a new .gz replaces the old name
atomically (a link planted there is replaced, never written through).

Usage: gzip-static.py [--check] [--source STAGED_APPS_DIR] APPLICATIONS_DIR [EXT...]; prints one
line per .gz written or removed (or that would be, with --check): "gzip <path>", "remove <path>".
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import tempfile
import zlib


def _read(path: str) -> bytes | None:
    """The file's bytes, or None when it is not a regular file (a link, a fifo, gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read()


def _compress(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=out, mtime=0) as handle:
        handle.write(data)
    return out.getvalue()


def _holds(packed: bytes, data: bytes) -> bool:
    """The gzip data decompresses to exactly data (never more than len(data) + 1 bytes are
    inflated: a .gz bomb costs nothing)."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflate.decompress(packed, len(data) + 1)
    except zlib.error:
        return False
    return out == data and inflate.eof


def _current(target: str, data: bytes, original: os.stat_result) -> bool:
    """The .gz beside the file holds it (the same time and mode: not even read again)."""
    info = os.lstat(target)
    if info.st_mtime_ns == original.st_mtime_ns and info.st_mode == original.st_mode:
        return True
    packed = _read(target)
    return packed is not None and info.st_mtime_ns >= original.st_mtime_ns and _holds(packed, data)


def _write(target: str, packed: bytes, original: os.stat_result) -> None:
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".gzip-static-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(packed)
            # the file's owner and group (the web servers read static files through the group)
            owner = original.st_uid if os.geteuid() == 0 else -1
            try:
                os.fchown(handle.fileno(), owner, original.st_gid)
            except PermissionError:
                pass
            os.fchmod(handle.fileno(), stat.S_IMODE(original.st_mode))
        os.utime(temporary, ns=(original.st_atime_ns, original.st_mtime_ns), follow_symlinks=False)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def _say(action: str, path: str) -> None:
    # (file names are bytes to the system: printed as they are, whatever the locale)
    sys.stdout.buffer.write(action.encode() + b" " + os.fsencode(path) + b"\n")


def _one(path: str, listed: bool, shipped: bool, check: bool) -> None:
    """path: a static file; its .gz is made, kept, replaced or removed."""
    target = path + ".gz"
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    if shipped or (existing is None and not listed):
        return
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        return  # a folder named like a .gz is not ours to replace
    original = os.lstat(path)
    data = _read(path)
    if data is None:
        return
    if existing is not None and stat.S_ISREG(existing.st_mode) and _current(target, data, original):
        return
    packed = _compress(data) if listed else b""
    if listed and len(packed) < len(data):
        _say("gzip", target)
        if not check:
            _write(target, packed, original)
    elif existing is not None:
        # stale (or a link, or no longer worth compressing): never sent instead of the file
        _say("remove", target)
        if not check:
            os.unlink(target)


def main(argv: list[str]) -> int:
    check = "--check" in argv[:3]
    argv = [arg for arg in argv if arg != "--check"]
    source = None
    if argv[:1] == ["--source"] and len(argv) > 1:
        source, argv = argv[1], argv[2:]
    if len(argv) < 1:
        print(__doc__, file=sys.stderr)
        return 2
    applications, extensions = argv[0], tuple("." + ext.lower() for ext in argv[1:])
    for app in sorted(os.listdir(applications)):
        static = os.path.join(applications, app, "static")
        if os.path.islink(os.path.join(applications, app)) or os.path.islink(static) or not os.path.isdir(static):
            continue
        for folder, dirs, files in os.walk(static):  # (never descends into linked folders)
            dirs.sort()
            names = set(files)
            for name in sorted(files):
                path = os.path.join(folder, name)
                try:
                    if not stat.S_ISREG(os.lstat(path).st_mode):
                        continue
                except FileNotFoundError:  # (a stale .gz removed a moment ago)
                    continue
                listed = name.lower().endswith(extensions) if extensions else False
                if not listed and name + ".gz" not in names:
                    continue
                relative = os.path.relpath(path, applications) + ".gz"
                shipped = source is not None and os.path.lexists(os.path.join(source, relative))
                _one(path, listed, shipped, check)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
