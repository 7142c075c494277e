"""Unit tests of web2py.deploy.web2py_files (run as root: the module sets owners)."""
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.web2py.deploy.plugins.modules import web2py_files
# no_exit: an autouse fixture (every test of this module)
from module_harness import no_exit, run_module  # noqa: F401  # pylint: disable=unused-import


@pytest.fixture
def folder(tmp_path):
    assert os.geteuid() == 0, "these tests change owners: run them as root (CI does)"
    # pytest's tmp_path is root's and 0700; /tmp above it is sticky.
    os.chmod(str(tmp_path), 0o755)
    path = tmp_path / "etc"
    path.mkdir(mode=0o755)
    return path


def run(args, check=False, diff=False):
    return run_module(web2py_files.main, args, check, diff)


def test_creates_updates_and_then_changes_nothing(folder):
    one, two = str(folder / "one.conf"), str(folder / "two.sh")
    files = [{"dest": one, "content": "a = 1\n"}, {"dest": two, "content": "#!/bin/sh\n", "mode": "0755", "group": "nogroup"}]
    ok, result = run({"files": files})
    assert ok and result["changed"] and result["changed_files"] == [one, two]
    assert [f["created"] for f in result["files"]] == [True, True]
    assert open(one).read() == "a = 1\n" and stat.S_IMODE(os.stat(one).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(two).st_mode) == 0o755
    assert os.stat(two).st_gid == __import__("grp").getgrnam("nogroup").gr_gid
    ok, result = run({"files": files})
    assert ok and not result["changed"] and result["changed_files"] == []
    files[0]["content"] = "a = 2\n"
    ok, result = run({"files": files})
    assert ok and result["changed_files"] == [one] and result["files"][0]["content_changed"]
    assert open(one).read() == "a = 2\n"
    # no temporary file is left behind
    assert sorted(os.listdir(str(folder))) == ["one.conf", "two.sh"]


def test_puts_back_owner_and_mode_changed_by_hand(folder):
    dest = str(folder / "unit.service")
    files = [{"dest": dest, "content": "[Unit]\n"}]
    run({"files": files})
    os.chmod(dest, 0o666)
    os.chown(dest, 65534, 65534)
    ok, result = run({"files": files})
    assert ok and result["changed_files"] == [dest] and not result["files"][0]["content_changed"]
    st = os.stat(dest)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o644)


def test_check_mode_writes_nothing_and_reports_files_of_missing_folders(folder):
    dest = str(folder / "x.conf")
    later = str(folder / "later" / "y.conf")
    ok, result = run({"files": [{"dest": dest, "content": "x\n"}, {"dest": later, "content": "y\n"}]}, check=True)
    assert ok and result["changed_files"] == [dest, later]
    assert not os.path.exists(dest)
    assert os.listdir(str(folder)) == []


def test_a_missing_folder_fails_outside_check_mode(folder):
    ok, result = run({"files": [{"dest": str(folder / "later" / "y.conf"), "content": "y\n"}]})
    assert not ok and "does not exist" in result["msg"]


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
def test_refuses_links_and_special_files_and_writes_nothing(folder, kind):
    canary = folder / "canary"
    canary.write_text("keep\n")
    first = str(folder / "first.conf")
    dest = str(folder / "planted.conf")
    if kind == "symlink":
        os.symlink(str(canary), dest)
    elif kind == "hardlink":
        os.link(str(canary), dest)
    else:
        os.mkfifo(dest)
    ok, result = run({"files": [{"dest": first, "content": "1\n"}, {"dest": dest, "content": "evil\n", "mode": "0666"}]})
    assert not ok and dest in result["msg"] and "refused" in result["msg"]
    assert canary.read_text() == "keep\n" and stat.S_IMODE(canary.stat().st_mode) == 0o644
    assert not os.path.exists(first)


def test_refuses_a_folder_others_can_write_or_a_link_above(folder, tmp_path):
    shared = folder / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o775)
    ok, result = run({"files": [{"dest": str(shared / "a"), "content": "a\n"}]})
    assert not ok and "writable by others" in result["msg"]
    os.chmod(str(shared), 0o755)
    os.chown(str(shared), 65534, 65534)
    ok, result = run({"files": [{"dest": str(shared / "a"), "content": "a\n"}]})
    assert not ok and "not root" in result["msg"]
    link = folder / "link"
    os.symlink(str(tmp_path), str(link))
    ok, result = run({"files": [{"dest": str(link / "a"), "content": "a\n"}]})
    assert not ok and "symbolic link" in result["msg"]
    assert not (tmp_path / "a").exists()


def test_validate_keeps_the_old_file_on_failure(folder):
    dest = str(folder / "site.conf")
    run({"files": [{"dest": dest, "content": "good\n"}]})
    ok, result = run({"files": [{"dest": dest, "content": "bad\n", "validate": "grep -q good %s"}]})
    assert not ok and "failed to validate" in result["msg"] and dest in result["msg"]
    assert open(dest).read() == "good\n" and os.listdir(str(folder)) == ["site.conf"]
    ok, result = run({"files": [{"dest": dest, "content": "good too\n", "validate": "grep -q good %s"}]})
    assert ok and open(dest).read() == "good too\n"


def test_validate_needs_the_placeholder(folder):
    ok, result = run({"files": [{"dest": str(folder / "a"), "content": "a\n", "validate": "true"}]})
    assert not ok and "%s" in result["msg"]


@pytest.mark.parametrize("dest", ["relative/a", "/etc/../a", "/etc/./a", "/etc//a", "/etc/dir/"])
def test_refuses_odd_paths(dest):
    ok, result = run({"files": [{"dest": dest, "content": "a\n"}]}, check=True)
    assert not ok


def test_refuses_repeated_dests_unknown_owners_and_bad_modes(folder):
    dest = str(folder / "a")
    assert not run({"files": [{"dest": dest, "content": "a"}, {"dest": dest, "content": "b"}]})[0]
    assert "no user" in run({"files": [{"dest": dest, "content": "a", "owner": "no-such-user"}]})[1]["msg"]
    assert "octal" in run({"files": [{"dest": dest, "content": "a", "mode": "0x44"}]})[1]["msg"]
    assert "octal" in run({"files": [{"dest": dest, "content": "a", "mode": "0844"}]})[1]["msg"]


def test_diff_shows_content_unless_secret(folder):
    plain, secret = str(folder / "plain"), str(folder / "secret")
    ok, result = run({"files": [{"dest": plain, "content": "new\nline\n"}, {"dest": secret, "content": "pw=s3cret\n", "diff": False}]},
                     diff=True)
    assert ok
    assert "+new\n+line\n" in result["diff"][0]["prepared"]
    assert "s3cret" not in repr(result["diff"][1])


def test_masked_output_keeps_diff_and_paths_readable(folder):
    """exit_json masks every no_log value (the content) wherever it appears in the result: the
    diff and the paths must not contain a multi-line content verbatim."""
    from ansible.module_utils.common.parameters import remove_values
    dest = str(folder / "web2py.conf")
    content = "first\nsecond\n"
    ok, result = run({"files": [{"dest": dest, "content": content}]}, diff=True)
    masked = remove_values(result, {content})
    assert masked["changed_files"] == [dest]
    assert "+first\n+second\n" in masked["diff"][0]["prepared"]


def test_bytes_reach_the_file_as_written(folder):
    dest = str(folder / "appconfig.ini")
    content = "pw = 100% 'q' \"d\" : äöü ✓\n"
    run({"files": [{"dest": dest, "content": content}]})
    assert open(dest, "rb").read() == content.encode("utf-8")


def test_validate_reads_a_copy_outside_the_destination_folder(folder):
    dest = str(folder / "site.conf")
    check = "sh -c 'case \"$0\" in %s/*) exit 1;; esac; grep -q good \"$0\"' %%s" % folder
    ok, result = run({"files": [{"dest": dest, "content": "good\n", "validate": check}]})
    assert ok and open(dest).read() == "good\n"


def test_check_mode_reports_a_file_for_a_user_not_created_yet(folder):
    dest = str(folder / "a")
    ok, result = run({"files": [{"dest": dest, "content": "a\n", "owner": "no-such-user", "group": "no-such-group"}]}, check=True)
    assert ok and result["changed_files"] == [dest] and not os.path.exists(dest)


def test_a_failed_validation_writes_no_file_of_the_task(folder):
    first, second = str(folder / "first.conf"), str(folder / "second.conf")
    ok, result = run({"files": [{"dest": first, "content": "1\n"},
                                {"dest": second, "content": "bad\n", "validate": "grep -q good %s"}]})
    assert not ok and "failed to validate" in result["msg"] and result["changed_files"] == []
    assert os.listdir(str(folder)) == []


def test_validator_output_is_hidden_for_secret_files(folder):
    ok, result = run({"files": [{"dest": str(folder / "acl"), "content": "pw=s3cret\n", "diff": False,
                                 "validate": "sh -c 'cat \"$0\"; exit 1' %s"}]})
    assert not ok and "s3cret" not in repr(result)
    ok, result = run({"files": [{"dest": str(folder / "conf"), "content": "bad directive\n",
                                 "validate": "sh -c 'cat \"$0\" >&2; exit 1' %s"}]})
    assert not ok and "bad directive" in result["stderr"]


def test_a_descriptor_the_previous_owner_kept_open_cannot_write_the_new_file(folder):
    dest = folder / "svc.conf"
    dest.write_text("same\n")
    os.chown(str(dest), 65534, 65534)
    kept = os.open(str(dest), os.O_WRONLY)
    try:
        ok, result = run({"files": [{"dest": str(dest), "content": "same\n"}]})
        assert ok and result["changed_files"] == [str(dest)]
        os.write(kept, b"evil\n")
    finally:
        os.close(kept)
    assert dest.read_text() == "same\n" and dest.stat().st_uid == 0


@pytest.mark.parametrize("mode,expected", [(0o640, 0o640), ("640", 0o640), ("0600", 0o600)])
def test_modes_as_integers_and_strings(folder, mode, expected):
    dest = str(folder / "m")
    ok, result = run({"files": [{"dest": dest, "content": "m\n", "mode": mode}]})
    assert ok and stat.S_IMODE(os.stat(dest).st_mode) == expected


@pytest.mark.parametrize("mode", ["7777", "4755", "0o644", True, -1, 0o1777])
def test_special_bits_and_odd_modes_are_refused(folder, mode):
    ok, result = run({"files": [{"dest": str(folder / "m"), "content": "m\n", "mode": mode}]})
    assert not ok and "permission bits only" in result["msg"]


def test_numeric_owner_and_group(folder):
    dest = str(folder / "n")
    ok, result = run({"files": [{"dest": dest, "content": "n\n", "owner": "65534", "group": "65534"}]})
    assert ok and (os.stat(dest).st_uid, os.stat(dest).st_gid) == (65534, 65534)


@pytest.mark.parametrize("entry,message", [
    ({"validate": "grep 'unbalanced %s"}, "cannot be split"),
    ({"dest_name": "x" * 240}, "longer than"),
    ({"dest_name": "a\rb"}, "control character"),
    ({"dest_name": "$HOME"}, None),
])
def test_odd_input_fails_before_any_write(folder, entry, message):
    first = str(folder / "first")
    bad = {"dest": str(folder / entry.pop("dest_name", "bad")), "content": "x\n"}
    bad.update(entry)
    ok, result = run({"files": [{"dest": first, "content": "1\n"}, bad]})
    if message is None:  # not expanded: a file named $HOME
        assert ok and os.path.exists(str(folder / "$HOME"))
        return
    assert not ok and message in result["msg"]
    assert not os.path.exists(first)


def test_check_mode_reports_files_of_folders_an_earlier_task_takes_back(folder):
    theirs = folder / "theirs"
    theirs.mkdir()
    os.chown(str(theirs), 65534, 65534)
    ok, result = run({"files": [{"dest": str(theirs / "a"), "content": "a\n"}]}, check=True)
    assert ok and result["changed_files"] == [str(theirs / "a")]
    assert not run({"files": [{"dest": str(theirs / "a"), "content": "a\n"}]})[0]


# --- dirs: folders made (or fixed) in the same run, after every check.

def test_dirs_are_made_and_hold_the_files_then_nothing_changes(folder):
    made, below = str(folder / "libexec"), str(folder / "libexec" / "sub")
    dest = os.path.join(below, "check")
    args = {"dirs": [{"path": made}, {"path": below, "mode": "0750", "group": "nogroup"}],
            "files": [{"dest": dest, "content": "#!/bin/sh\n", "mode": "0755"}]}
    ok, result = run(args, check=True)
    assert ok and result["changed"] and [d["created"] for d in result["dirs"]] == [True, True]
    assert not os.path.exists(made)  # check mode wrote nothing
    ok, result = run(args)
    assert ok and result["changed"] and result["changed_files"] == [dest]
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o755 and os.stat(made).st_uid == 0
    assert stat.S_IMODE(os.stat(below).st_mode) == 0o750
    assert os.stat(below).st_gid == __import__("grp").getgrnam("nogroup").gr_gid
    assert open(dest).read() == "#!/bin/sh\n"
    ok, result = run(args)
    assert ok and not result["changed"] and not any(d["changed"] for d in result["dirs"])


def test_dirs_mode_and_owner_put_back(folder):
    made = str(folder / "drop-in.d")
    args = {"dirs": [{"path": made}], "files": [{"dest": made + "/a.conf", "content": "x\n"}]}
    run(args)
    os.chmod(made, 0o700)
    ok, result = run(args, check=True)
    assert ok and result["changed"] and result["dirs"][0] == {"path": made, "changed": True, "created": False}
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
    ok, result = run(args)
    assert ok and result["changed"] and stat.S_IMODE(os.stat(made).st_mode) == 0o755
    assert result["changed_files"] == []


def test_dirs_refuse_a_link_and_write_nothing(folder, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = folder / "helpers"
    link.symlink_to(target)
    other = str(folder / "other.conf")
    ok, result = run({"dirs": [{"path": str(link)}], "files": [{"dest": other, "content": "x\n"}]})
    assert not ok and "symbolic link" in result["msg"] and str(link) in result["msg"]
    assert not os.path.exists(other)
    assert os.listdir(str(target)) == []


def test_dirs_below_a_folder_others_may_write_are_refused(folder):
    shared = folder / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    ok, result = run({"dirs": [{"path": str(shared / "mine")}], "files": []})
    assert not ok and "refused" in result["msg"] and "writable by others" in result["msg"]
    assert not os.path.exists(str(shared / "mine"))


def test_files_refused_in_a_dir_others_could_write(folder):
    open_dir = str(folder / "open")
    ok, result = run({"dirs": [{"path": open_dir, "mode": "0775"}],
                      "files": [{"dest": open_dir + "/a.conf", "content": "x\n"}]})
    assert not ok and "would not be root's alone" in result["msg"]
    assert not os.path.exists(open_dir)  # nothing made: refused before any change


def test_dirs_not_made_when_a_file_fails_to_validate(folder):
    made = str(folder / "conf.d")
    ok, result = run({"dirs": [{"path": made}],
                      "files": [{"dest": made + "/a.conf", "content": "x\n", "validate": "false %s"}]})
    assert not ok and "failed to validate" in result["msg"]
    assert not os.path.exists(made)


def test_dirs_paths_are_checked(folder):
    for path, words in (("relative/dir", "absolute path to a folder"), (str(folder) + "/a/../b", "'..'"),
                        (str(folder) + "/x\n", "control character")):
        ok, result = run({"dirs": [{"path": path}], "files": []})
        assert not ok and words in result["msg"], (path, result)
    ok, result = run({"dirs": [{"path": str(folder / "d")}, {"path": str(folder / "d")}], "files": []})
    assert not ok and "comes again" in result["msg"]
    # a folder made as the parent of an earlier entry cannot be listed after it
    ok, result = run({"dirs": [{"path": str(folder / "p" / "q")}, {"path": str(folder / "p"), "mode": "0750"}], "files": []})
    assert not ok and "listed before the folders below it" in result["msg"] and not os.path.exists(str(folder / "p"))
    ok, result = run({"dirs": [{"path": str(folder / "d"), "mode": "4755"}], "files": []})
    assert not ok and "permission bits only" in result["msg"]
    # every name of the path is checked before anything is made
    long_middle = str(folder / "first" / ("x" * 256) / "last")
    ok, result = run({"dirs": [{"path": long_middle}], "files": []})
    assert not ok and "longer than 255 bytes" in result["msg"] and not os.path.exists(str(folder / "first"))


def test_a_file_where_a_dir_should_be_is_refused(folder):
    plain = folder / "plain"
    plain.write_text("x")
    ok, result = run({"dirs": [{"path": str(plain)}], "files": []})
    assert not ok and "not a folder" in result["msg"]


def test_dirs_make_missing_folders_above_as_mkdir_p(folder):
    deep = str(folder / "ansible" / "facts.d")
    args = {"dirs": [{"path": deep}], "files": [{"dest": deep + "/a.fact", "content": "{}\n"}]}
    ok, result = run(args, check=True)
    assert ok and result["changed"] and not os.path.exists(str(folder / "ansible"))
    ok, result = run(args)
    assert ok and [d["path"] for d in result["dirs"]] == [str(folder / "ansible"), deep]
    assert stat.S_IMODE(os.stat(str(folder / "ansible")).st_mode) == 0o755
    assert open(deep + "/a.fact").read() == "{}\n"
    os.chmod(str(folder / "ansible"), 0o750)  # an existing folder above is left as it is
    ok, result = run(args)
    assert ok and not result["changed"] and stat.S_IMODE(os.stat(str(folder / "ansible")).st_mode) == 0o750


def test_dirs_missing_folders_below_an_unsafe_one_are_refused(folder):
    shared = folder / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    ok, result = run({"dirs": [{"path": str(shared / "a" / "b")}], "files": []})
    assert not ok and "writable by others" in result["msg"]
    assert not os.path.exists(str(shared / "a"))


def test_a_folder_without_a_mode_is_0755(folder):
    made = str(folder / "nomode")
    ok, _result = run({"dirs": [{"path": made, "mode": None}], "files": [], "mode": "0644"})
    assert ok and stat.S_IMODE(os.stat(made).st_mode) == 0o755


def test_dirs_and_files_never_share_a_path(folder):
    for dirs, dest in (([str(folder / "x")], str(folder / "x")), ([str(folder / "a" / "b")], str(folder / "a"))):
        ok, result = run({"dirs": [{"path": path} for path in dirs], "files": [{"dest": dest, "content": "x\n"}]})
        assert not ok and "a file of files and a folder of dirs" in result["msg"]
        assert os.listdir(str(folder)) == []


def test_nothing_below_a_folder_the_task_gives_to_another_user(folder):
    """A folder of dirs owned by someone else may be made, but nothing of the task below it:
    that user could swap what is there for a link before root writes (or makes a folder)."""
    given = folder / "given"
    given.mkdir()
    (given / "B").mkdir()
    for args in ({"dirs": [{"path": str(given), "owner": "nobody"}], "files": [{"dest": str(given / "B" / "f"), "content": "x\n"}]},
                 {"dirs": [{"path": str(given), "owner": "nobody"}, {"path": str(given / "B" / "C")}], "files": []},
                 {"dirs": [{"path": str(given), "owner": "nobody"}], "files": [{"dest": str(given / "f"), "content": "x\n"}]}):
        ok, result = run(args)
        assert not ok and "would not be root's alone" in result["msg"], result
    assert os.stat(str(given)).st_uid == 0 and os.listdir(str(given)) == ["B"] and os.listdir(str(given / "B")) == []


def test_nothing_below_a_folder_that_is_another_users_now(folder):
    """A folder of dirs that is a service user's now (root's once the task has run) holds
    nothing of the task yet: until it is root's, its owner may swap what is below it."""
    theirs = folder / "theirs"
    theirs.mkdir()
    (theirs / "sub").mkdir()
    os.chown(str(theirs), 65534, 65534)
    for args in ({"dirs": [{"path": str(theirs)}, {"path": str(theirs / "sub")}], "files": []},
                 {"dirs": [{"path": str(theirs)}], "files": [{"dest": str(theirs / "sub" / "conf"), "content": "x\n"}]}):
        ok, result = run(args)
        assert not ok and "not root's alone yet" in result["msg"], result
    assert os.stat(str(theirs)).st_uid == 65534  # nothing changed
    ok, result = run({"dirs": [{"path": str(theirs)}], "files": []})  # the folder alone is taken back
    assert ok and result["changed"] and os.stat(str(theirs)).st_uid == 0


def test_a_folder_swapped_between_the_check_and_the_change_is_refused(folder, monkeypatch):
    existing = folder / "existing"
    existing.mkdir(mode=0o700)
    real_open = web2py_files.os.open
    swapped = []

    def swap_then_open(path, *args, **kwargs):
        if path == str(existing) and not swapped:
            os.rename(str(existing), str(folder / "moved"))
            os.mkdir(str(existing), 0o700)
            swapped.append(True)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(web2py_files.os, "open", swap_then_open)
    ok, result = run({"dirs": [{"path": str(existing)}], "files": []})
    assert not ok and "changed while this task ran" in result["msg"]
    assert stat.S_IMODE(os.stat(str(existing)).st_mode) == 0o700


def test_folders_of_the_user_it_runs_as_count_as_roots(folder, monkeypatch):
    """Run as a service user (become_user), that user's folders may hold its files: what it could
    plant there it could write itself. Run as root, the same folders are refused."""
    theirs = folder / "theirs"
    theirs.mkdir(mode=0o750)
    os.chown(str(theirs), 65534, 65534)
    args = {"files": [{"dest": str(theirs / "app.ini"), "content": "[app]\n"}], "owner": "nobody", "group": "nogroup", "mode": "0600"}
    ok, result = run(args)
    assert not ok and "is owned by uid 65534, not root" in result["msg"], result
    monkeypatch.setattr(web2py_files.os, "geteuid", lambda: 65534)
    ok, result = run(args)
    assert ok and result["changed"], result
    written = os.stat(str(theirs / "app.ini"))
    assert (written.st_uid, stat.S_IMODE(written.st_mode)) == (65534, 0o600)
    # another user's folder stays refused, and so does one the runner's group or others may write
    os.chown(str(theirs), 65533, 65534)
    ok, result = run(args)
    assert not ok and "is owned by uid 65533, not root or the user this runs as" in result["msg"], result
    os.chown(str(theirs), 65534, 65534)
    os.chmod(str(theirs), 0o770)
    ok, result = run(args)
    assert not ok and "writable by others" in result["msg"], result


def test_a_failure_while_writing_changes_no_file_and_the_next_run_reports_them_all(folder, monkeypatch):
    """The disk fills up while the second new file is written: the first one is not replaced
    either (it was only staged), no temporary file is left, and the next run reports both files
    as changed, so the handlers notified by them still run."""
    one, two = str(folder / "one.conf"), str(folder / "two.conf")
    ok, _result = run({"files": [{"dest": one, "content": "old 1\n"}, {"dest": two, "content": "old 2\n"}]})
    assert ok
    real_write_all = web2py_files.write_all

    def full_disk(fd, data):
        if data == b"new 2\n":
            raise OSError(28, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(web2py_files, "write_all", full_disk)
    files = [{"dest": one, "content": "new 1\n"}, {"dest": two, "content": "new 2\n"}]
    ok, result = run({"files": files})
    assert not ok and "No space left on device" in result["msg"] and "no file of this task was changed" in result["msg"]
    assert not result["changed"] and result["changed_files"] == []
    assert open(one).read() == "old 1\n" and open(two).read() == "old 2\n"
    assert sorted(os.listdir(str(folder))) == ["one.conf", "two.conf"]
    monkeypatch.setattr(web2py_files, "write_all", real_write_all)
    ok, result = run({"files": files})
    assert ok and result["changed_files"] == [one, two]
    assert open(one).read() == "new 1\n" and open(two).read() == "new 2\n"


def test_a_rename_that_fails_reports_what_was_replaced_and_leaves_no_temporary_file(folder, monkeypatch):
    """Should a rename fail after the first one (it does not, in one folder of one file system),
    the task says which files it replaced and removes the other temporary files."""
    one, two = str(folder / "one.conf"), str(folder / "two.conf")
    real_rename = web2py_files.os.rename
    calls = []

    def second_fails(src, dst, **kwargs):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real_rename(src, dst, **kwargs)

    monkeypatch.setattr(web2py_files.os, "rename", second_fails)
    ok, result = run({"files": [{"dest": one, "content": "1\n"}, {"dest": two, "content": "2\n"}]})
    assert not ok and result["changed"] and result["changed_files"] == [one]
    assert "no file of this task was changed" not in result["msg"]
    assert sorted(os.listdir(str(folder))) == ["one.conf"]
