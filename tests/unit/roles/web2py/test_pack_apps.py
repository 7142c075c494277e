"""Unit tests of roles/web2py/files/pack-apps.py: the same source packs to the same bytes, and the
SHA-1 it prints (what the role compares with the host's archive) is that of the archive."""
from __future__ import annotations

import hashlib
import io
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[4]
SCRIPT = ROOT / "roles" / "web2py" / "files" / "pack-apps.py"


def pack(source: pathlib.Path) -> dict:
    request = {"apps": [["demo", str(source)]], "exclude": ["/databases/"], "add": {}, "dirs": ["private"], "group": "web2py"}
    run = subprocess.run([sys.executable, str(SCRIPT)], input=json.dumps(request), capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def test_the_digest_is_the_archives_and_an_unchanged_source_packs_alike(tmp_path: pathlib.Path) -> None:
    source = tmp_path / "demo"
    (source / "controllers").mkdir(parents=True)
    (source / "databases").mkdir()
    (source / "controllers" / "default.py").write_text("def index(): return 'hi'\n")
    (source / "databases" / "storage.sqlite").write_bytes(b"runtime data")
    first, second = pack(source), pack(source)
    try:
        data = pathlib.Path(first["archives"]["demo"]).read_bytes()
        assert first["sha1"] == {"demo": hashlib.sha1(data).hexdigest()}
        assert second["sha1"] == first["sha1"]
        (source / "controllers" / "default.py").write_text("def index(): return 'changed'\n")
        third = pack(source)
        assert third["sha1"]["demo"] != first["sha1"]["demo"]
    finally:
        for result in (first, second, locals().get("third")):
            if result:
                for path in result["archives"].values():
                    pathlib.Path(path).unlink()
                pathlib.Path(result["dir"]).rmdir()
    assert io.BytesIO(data).read(2) == b"\x1f\x8b"


def test_links_in_a_folder_source_are_left_out(tmp_path: pathlib.Path) -> None:
    """A link would publish what it points to on the controller (static/ is served to all)."""
    import tarfile

    secret = tmp_path / "controller-secret.txt"
    secret.write_text("not for the web\n")
    source = tmp_path / "demo"
    (source / "static").mkdir(parents=True)
    (source / "static" / "real.css").write_text("body {}\n")
    (source / "static" / "notes.txt").symlink_to(secret)
    (source / "linked").symlink_to(tmp_path)
    result = pack(source)
    try:
        with tarfile.open(result["archives"]["demo"]) as archive:
            names = archive.getnames()
        assert "demo/static/real.css" in names
        assert not [name for name in names if "notes.txt" in name or name.startswith("demo/linked")], names
    finally:
        for path in result["archives"].values():
            pathlib.Path(path).unlink()
        pathlib.Path(result["dir"]).rmdir()
