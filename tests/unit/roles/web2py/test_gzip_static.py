"""Unit tests of roles/web2py/files/gzip-static.py: the precompressed static files (the guide's
zip_static_files) made at each deploy, as root or as the code's owner, without following links."""
from __future__ import annotations

import gzip
import os

from conftest import load_role_file

gzip_static = load_role_file("roles/web2py/files/gzip-static.py", "gzip_static")
EXTENSIONS = ["css", "js"]
CSS = b"".join(b".rule-%d { margin: %dpx; }\n" % (i, i % 7) for i in range(200))


def tree(tmp_path):
    applications = tmp_path / "applications"
    static = applications / "shop" / "static"
    (static / "js").mkdir(parents=True)
    (static / "site.css").write_bytes(CSS)
    (static / "js" / "app.JS").write_bytes(CSS.replace(b"rule", b"fn"))
    (static / "tiny.css").write_bytes(b"a{}")
    (static / "logo.png").write_bytes(CSS)
    os.chmod(static / "site.css", 0o640)
    os.utime(static / "site.css", (1_600_000_000, 1_600_000_000))
    return applications, static


def run(capsys, *argv: str) -> list[str]:
    assert gzip_static.main(list(argv)) == 0
    return capsys.readouterr().out.splitlines()


def test_writes_each_gz_once_with_the_files_mode_and_time(tmp_path, capsys):
    applications, static = tree(tmp_path)
    written = run(capsys, str(applications), *EXTENSIONS)
    assert written == ["gzip %s" % (static / "site.css.gz"), "gzip %s" % (static / "js" / "app.JS.gz")]
    packed = static / "site.css.gz"
    assert gzip.decompress(packed.read_bytes()) == CSS
    original = os.stat(static / "site.css")
    assert os.stat(packed).st_mtime_ns == original.st_mtime_ns and os.stat(packed).st_mode == original.st_mode
    # tiny.css would not shrink; logo.png is not listed
    assert not (static / "tiny.css.gz").exists() and not (static / "logo.png.gz").exists()
    # the same bytes on every host and run: no name or time in the header
    assert packed.read_bytes() == gzip_static._compress(CSS)
    assert run(capsys, str(applications), *EXTENSIONS) == []


def test_check_mode_names_what_it_would_write_and_writes_nothing(tmp_path, capsys):
    applications, static = tree(tmp_path)
    assert run(capsys, "--check", str(applications), *EXTENSIONS) == [
        "gzip %s" % (static / "site.css.gz"), "gzip %s" % (static / "js" / "app.JS.gz")]
    assert sorted(p.name for p in static.rglob("*.gz")) == []


def test_a_changed_file_gets_a_new_gz(tmp_path, capsys):
    applications, static = tree(tmp_path)
    run(capsys, str(applications), *EXTENSIONS)
    (static / "site.css").write_bytes(CSS + b".new { }\n")
    assert run(capsys, str(applications), *EXTENSIONS) == ["gzip %s" % (static / "site.css.gz")]
    assert gzip.decompress((static / "site.css.gz").read_bytes()) == CSS + b".new { }\n"


def test_a_gz_that_holds_the_file_is_kept_and_a_stale_one_replaced(tmp_path, capsys):
    applications, static = tree(tmp_path)
    shipped = gzip.compress(CSS, compresslevel=1)
    (static / "site.css.gz").write_bytes(shipped)  # newer than site.css, other bytes, same content
    run(capsys, str(applications), *EXTENSIONS)
    assert (static / "site.css.gz").read_bytes() == shipped
    # one that holds something else is replaced
    (static / "site.css.gz").write_bytes(gzip.compress(b"stale"))
    assert "gzip %s" % (static / "site.css.gz") in run(capsys, str(applications), *EXTENSIONS)
    assert gzip.decompress((static / "site.css.gz").read_bytes()) == CSS


def test_a_stale_gz_of_a_file_that_no_longer_shrinks_is_removed(tmp_path, capsys):
    applications, static = tree(tmp_path)
    (static / "tiny.css.gz").write_bytes(gzip.compress(CSS))
    assert "remove %s" % (static / "tiny.css.gz") in run(capsys, str(applications), *EXTENSIONS)
    assert not (static / "tiny.css.gz").exists()


def test_links_are_never_followed(tmp_path, capsys):
    applications, static = tree(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.css").write_bytes(CSS)
    victim = outside / "victim"
    victim.write_bytes(b"root's file")
    # a link planted where the .gz goes is replaced, never written through
    (static / "site.css.gz").symlink_to(victim)
    # a linked file and a linked folder are skipped
    (static / "linked.css").symlink_to(outside / "secret.css")
    (static / "linked-dir").symlink_to(outside)
    # a linked static folder of another application is skipped
    (applications / "other").mkdir()
    (applications / "other" / "static").symlink_to(outside)
    run(capsys, str(applications), *EXTENSIONS)
    assert victim.read_bytes() == b"root's file"
    assert not (static / "site.css.gz").is_symlink() and gzip.decompress((static / "site.css.gz").read_bytes()) == CSS
    assert not (static / "linked.css.gz").exists() and not (outside / "secret.css.gz").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.css", "victim"]


def test_usage_without_a_folder(capsys):
    assert gzip_static.main([]) == 2 and gzip_static.main(["--check"]) == 2


def test_a_gz_the_applications_source_ships_is_never_touched(tmp_path, capsys):
    """The deploy syncs the staged source into applications/ (a .gz it ships comes back each
    time): the script leaves such a .gz alone, stale or not, so the two never undo each other."""
    applications, static = tree(tmp_path)
    source = tmp_path / "staged"
    (source / "shop" / "static").mkdir(parents=True)
    (source / "shop" / "static" / "site.css.gz").write_bytes(b"shipped")
    (static / "site.css.gz").write_bytes(b"shipped")
    written = run(capsys, "--source", str(source), str(applications), *EXTENSIONS)
    assert written == ["gzip %s" % (static / "js" / "app.JS.gz")]
    assert (static / "site.css.gz").read_bytes() == b"shipped"


def test_with_no_extensions_stale_gz_files_go_and_current_ones_stay(tmp_path, capsys):
    applications, static = tree(tmp_path)
    run(capsys, str(applications), *EXTENSIONS)
    (static / "site.css").write_bytes(CSS + b"/* changed */\n")
    assert run(capsys, str(applications)) == ["remove %s" % (static / "site.css.gz")]
    assert (static / "js" / "app.JS.gz").exists()
    # an extension dropped from the list: the same
    (static / "js" / "app.JS").write_bytes(b"changed")
    assert run(capsys, str(applications), "css") == [
        "gzip %s" % (static / "site.css.gz"), "remove %s" % (static / "js" / "app.JS.gz")]


def test_a_gz_without_its_file_and_a_folder_named_like_a_gz_are_left_alone(tmp_path, capsys):
    applications, static = tree(tmp_path)
    (static / "download.tar.gz").write_bytes(gzip.compress(b"an archive"))
    (static / "tiny.css.gz").mkdir()
    (static / "site.css.gz").mkdir()
    written = run(capsys, str(applications), *EXTENSIONS)
    assert written == ["gzip %s" % (static / "js" / "app.JS.gz")]
    assert (static / "download.tar.gz").is_file() and (static / "site.css.gz").is_dir()


def test_names_that_are_not_utf8_are_printed_as_they_are(tmp_path, capsysbinary):
    applications, static = tree(tmp_path)
    name = os.fsencode(str(static)) + b"/caf\xe9.css"
    with open(name, "wb") as handle:
        handle.write(CSS)
    assert gzip_static.main([str(applications), "css"]) == 0
    assert name + b".gz\n" in capsysbinary.readouterr().out


def test_a_gz_bomb_is_never_inflated_whole():
    data = b"a" * 10
    bomb = gzip.compress(b"a" * 50_000_000)
    assert gzip_static._holds(bomb, data) is False
    assert gzip_static._holds(gzip.compress(data), data) is True
