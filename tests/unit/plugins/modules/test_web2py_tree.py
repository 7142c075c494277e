"""Unit tests of web2py.deploy.web2py_tree (run as root: the module's job is chown)."""
from __future__ import annotations

import os
import pwd
import stat

import pytest

from ansible_collections.web2py.deploy.plugins.modules import web2py_tree
# no_exit: an autouse fixture (every test of this module)
from module_harness import no_exit, run_module  # noqa: F401  # pylint: disable=unused-import

USER = "nobody"
GROUP = "nogroup"


@pytest.fixture
def tree(tmp_path):
    assert os.geteuid() == 0, "these tests change owners: run them as root (CI does)"
    os.chmod(str(tmp_path), 0o755)
    home = tmp_path / "home"
    root = home / "web2py"
    (root / "gluon").mkdir(parents=True)
    (root / "gluon" / "main.py").write_text("# code\n")
    (root / "web2py.py").write_text("#!/usr/bin/env python\n")
    os.chmod(str(root / "web2py.py"), 0o755)
    app = root / "applications" / "notes"
    for sub in ("controllers", "private", "databases", "uploads"):
        (app / sub).mkdir(parents=True)
    (app / "controllers" / "default.py").write_text("def index(): return 'hi'\n")
    (app / "private" / "appconfig.ini").write_text("[db]\nuri = sqlite://x\n")
    (app / "databases" / "storage.sqlite").write_text("rows")
    for path in [home] + list(home.rglob("*")):
        os.chown(str(path), 0, 0)
    os.chmod(str(home), 0o755)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("root only\n")
    os.chmod(str(outside / "secret"), 0o600)
    return root


def params(root, **extra):
    args = {
        "path": str(root),
        "group": GROUP,
        "user": USER,
        "service_dirs": [
            {"path": "applications/*/databases", "mode": "0700"},
            {"path": "applications/*/uploads", "mode": "0750"},
            {"path": "applications/notes/sessions", "mode": "0700", "create": True},
            {"path": "logs", "mode": "0750", "create": True},
        ],
        "service_files": [{"path": "applications/*/private/appconfig.ini", "mode": "0600"}],
    }
    args.update(extra)
    return args


def run(args, check_mode=False):
    return run_module(web2py_tree.main, args, check_mode)


def owner(path):
    st = os.lstat(str(path))
    return pwd.getpwuid(st.st_uid).pw_name, stat.S_IMODE(st.st_mode)


def snapshot(path):
    st = os.lstat(str(path))
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), open(str(path)).read() if stat.S_ISREG(st.st_mode) else None


def test_zones_get_their_owners_and_the_second_run_changes_nothing(tree):
    ok, result = run(params(tree))
    assert ok and result["changed"], result
    assert owner(tree) == ("root", 0o750)
    assert owner(tree / "gluon" / "main.py") == ("root", 0o640)
    assert owner(tree / "web2py.py") == ("root", 0o750)
    assert owner(tree / "applications" / "notes" / "databases") == (USER, 0o700)
    assert owner(tree / "applications" / "notes" / "uploads") == (USER, 0o750)
    assert owner(tree / "applications" / "notes" / "sessions") == (USER, 0o700)
    assert owner(tree / "logs") == (USER, 0o750)
    assert owner(tree / "applications" / "notes" / "private" / "appconfig.ini") == (USER, 0o600)
    # The service folder's content is the service's: never entered.
    assert owner(tree / "applications" / "notes" / "databases" / "storage.sqlite")[0] == "root"
    ok, result = run(params(tree))
    assert ok and not result["changed"] and result["changes"] == []


def test_check_mode_changes_nothing(tree):
    before = {p: snapshot(p) for p in tree.rglob("*")}
    ok, result = run(params(tree), check_mode=True)
    assert ok and result["changed"] and result["changed_count"] > 0
    assert not (tree / "logs").exists()
    assert {p: snapshot(p) for p in tree.rglob("*")} == before


def test_a_tree_left_to_the_service_user_is_taken_back(tree):
    nobody = pwd.getpwnam(USER)
    for path in [tree] + list(tree.rglob("*")):
        os.chown(str(path), nobody.pw_uid, nobody.pw_gid)
        os.chmod(str(path), 0o777 if path.is_dir() else 0o666)
    ok, result = run(params(tree))
    assert ok, result
    assert owner(tree / "gluon") == ("root", 0o750)
    assert owner(tree / "gluon" / "main.py") == ("root", 0o640)


@pytest.mark.parametrize("place", ["applications/notes/controllers/evil", "gluon/evil"])
def test_planted_symlinks_in_code_are_refused_and_never_followed(tree, place):
    nobody = pwd.getpwnam(USER)
    outside = tree.parent.parent / "outside"
    link = tree / place
    os.symlink(str(outside), str(link))
    os.lchown(str(link), nobody.pw_uid, nobody.pw_gid)
    before = {p: snapshot(p) for p in outside.rglob("*")}
    before_dir = snapshot(outside)
    ok, result = run(params(tree))
    assert not ok and place in result["msg"] and "symbolic link" in result["msg"]
    assert {p: snapshot(p) for p in outside.rglob("*")} == before and snapshot(outside) == before_dir
    # What could be repaired safely was repaired.
    assert owner(tree / "applications" / "notes" / "databases") == (USER, 0o700)


def test_service_folder_replaced_by_a_symlink_is_refused(tree):
    outside = tree.parent.parent / "outside"
    cache = tree / "applications" / "notes" / "uploads"
    cache.rmdir()
    os.symlink(str(outside), str(cache))
    before = snapshot(outside)
    ok, result = run(params(tree))
    assert not ok and "applications/notes/uploads: symbolic link where a service folder belongs" in result["msg"]
    assert snapshot(outside) == before


def test_service_file_as_a_symlink_or_hard_link_is_refused(tree):
    outside = tree.parent.parent / "outside" / "secret"
    ini = tree / "applications" / "notes" / "private" / "appconfig.ini"
    ini.unlink()
    os.link(str(outside), str(ini))
    before = snapshot(outside)
    ok, result = run(params(tree))
    assert not ok and "2 hard links" in result["msg"]
    assert snapshot(outside) == before
    ini.unlink()
    os.symlink(str(outside), str(ini))
    ok, result = run(params(tree))
    assert not ok and "symbolic link where a service file belongs" in result["msg"]
    assert snapshot(outside) == before


def test_hard_link_in_code_is_refused(tree):
    outside = tree.parent.parent / "outside" / "secret"
    os.link(str(outside), str(tree / "gluon" / "shadow"))
    before = snapshot(outside)
    ok, result = run(params(tree))
    assert not ok and "gluon/shadow: file with 2 hard links" in result["msg"]
    assert snapshot(outside) == before


def test_a_fifo_or_a_foreign_owner_in_code_is_refused(tree):
    os.mkfifo(str(tree / "gluon" / "pipe"))
    daemon = pwd.getpwnam("daemon")
    os.chown(str(tree / "gluon" / "main.py"), daemon.pw_uid, daemon.pw_gid)
    ok, result = run(params(tree))
    assert not ok and "gluon/pipe: FIFO in the code" in result["msg"]
    assert "gluon/main.py: owned by daemon" in result["msg"]


def test_user_trees_are_handed_over_but_user_links_left_alone(tree):
    nobody = pwd.getpwnam(USER)
    outside = tree.parent.parent / "outside"
    link = tree / "applications" / "notes" / "controllers" / "link"
    os.symlink(str(outside), str(link))
    os.lchown(str(link), nobody.pw_uid, nobody.pw_gid)
    ok, result = run(params(tree, user_trees=["applications"]))
    assert ok, result
    assert owner(tree / "applications" / "notes" / "controllers" / "default.py") == (USER, 0o640)
    assert owner(tree / "gluon" / "main.py") == ("root", 0o640)
    assert snapshot(outside)[0] == 0


def test_the_top_must_not_be_a_link_or_below_a_writable_folder(tree):
    os.chmod(str(tree.parent), 0o777)
    ok, result = run(params(tree))
    assert not ok and "writable by group or others" in result["msg"]
    os.chmod(str(tree.parent), 0o755)
    link = tree.parent / "link"
    os.symlink(str(tree), str(link))
    ok, result = run(params(link))
    assert not ok and "symbolic link" in result["msg"]


@pytest.mark.parametrize("bad", [
    {"service_dirs": [{"path": "../etc", "mode": "0700"}]},
    {"service_dirs": [{"path": "logs", "mode": "rwx"}]},
    {"service_dirs": [{"path": "applications/*/x", "mode": "0700", "create": True}]},
    {"service_files": [{"path": "/etc/passwd", "mode": "0600"}]},
    {"user_trees": ["a/../.."]},
    {"user": "no-such-user-here"},
])
def test_bad_parameters_fail_before_any_change(tree, bad):
    before = {p: snapshot(p) for p in tree.rglob("*")}
    ok, result = run(params(tree, **bad))
    assert not ok
    assert {p: snapshot(p) for p in tree.rglob("*")} == before


def test_setgid_folders_hand_their_group_to_what_is_created_later(tree):
    ok, result = run(params(tree, setgid=True))
    assert ok, result
    assert owner(tree / "gluon") == ("root", 0o2750)
    (tree / "gluon" / "later.py").write_text("# pip\n")
    assert os.stat(str(tree / "gluon" / "later.py")).st_gid == os.stat(str(tree / "gluon")).st_gid != 0
    os.chmod(str(tree / "gluon" / "later.py"), 0o640)
    ok, result = run(params(tree, setgid=True))
    assert ok and not result["changed"], result
