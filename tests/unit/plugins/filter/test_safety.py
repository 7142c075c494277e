"""Unit tests of the shared input guards (web2py.deploy.unsafe_values, path_problem)."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.safety import (
    chain_problem, path_chain, type_problems, path_problem, unsafe_values)


@pytest.mark.parametrize("value", [
    "web2py\n", "a\rb", "tab\there", "nul\x00", "del\x7f", "nel\x85", "ls\u2028", "ps\u2029",
    ["ok", "bad\n"], {"key": "bad\n"}, {"bad\nkey": "ok"}, [{"deep": ["x", "y\n"]}],
])
def test_control_characters_anywhere_are_named(value):
    assert unsafe_values(["good", "bad"], ["fine", value]) == ["bad"]


@pytest.mark.parametrize("value", [
    "plain", "p%a:s's\"w;o#r=d ünïcødé", "", 8080, True, None, ["a", "b"], {"k": ["v", 1]},
])
def test_ordinary_values_pass(value):
    assert unsafe_values(["v"], [value]) == []


def test_allowed_names_and_mismatched_lengths():
    assert unsafe_values(["multi"], ["a\nb"], allow=["multi"]) == []
    with pytest.raises(AnsibleFilterError):
        unsafe_values(["a", "b"], ["x"])


@pytest.mark.parametrize("path", ["/srv/web2py", "/opt/web2py", "/var/lib/web2py-backups", "/data/w2p_1.0", "/etc/web2py-deploy/tls"])
def test_good_paths(path):
    assert path_problem(path) == ""


@pytest.mark.parametrize("path", [
    "", None, 7, "srv/web2py", "/srv/web2py/", "/srv//web2py", "/srv/../etc", "/srv/./web2py",
    "/srv/web2py\n", "/srv/web 2py", "/", "/etc", "/srv", "/var/lib", "/usr/local", "/home",
    "/root", "/tmp", "/proc/self", "/sys/x", "/dev/shm/x", "/boot/x", "/etc/ssl/private",
    "/var/lib/postgresql",
])
def test_bad_paths(path):
    assert path_problem(path) != ""


SPEC = {"argument_specs": {
    "main": {"options": {
        "x_enabled": {"type": "bool", "default": False},
        "x_port": {"type": "int"},
        "x_apps": {"type": "list", "elements": "dict", "options": {
            "name": {"type": "str"}, "migrate": {"type": "bool"}}},
        "x_store": {"type": "dict", "options": {"tls": {"type": "bool"}}},
    }},
    "frontend": {"options": {"x_front": {"type": "bool"}}},
}}


@pytest.mark.parametrize("value", ["true", "false", "yes", "1", 1, 0, ["true"]])
def test_type_problems_names_strings_and_numbers(value):
    assert type_problems(["x_enabled", "x_port"], [value, "80"], SPEC) == ["x_enabled"]


def test_type_problems_nested_entries_and_other_entry_points():
    names = ["x_enabled", "x_apps", "x_store", "x_front", "x_unknown"]
    values = [True, [{"name": "shop", "migrate": "no"}, {"migrate": False}, {"migrate": "1"}],
              {"tls": "true"}, "false", "true"]
    expected = ["x_apps[shop].migrate", "x_apps[2].migrate", "x_store.tls", "x_front"]
    assert type_problems(names, values, SPEC) == expected


def test_type_problems_pass_real_booleans_and_unset():
    assert type_problems(["x_enabled", "x_apps", "x_store"], [False, [{"name": "a"}], {}], SPEC) == []


@pytest.mark.parametrize("value", ["welcome", "a,b", "", 3, {"a": 1}])
def test_type_problems_names_what_is_not_a_list(value):
    """-e x_names=welcome: the spec splits the string to check it, the role loops over its characters."""
    spec = {"argument_specs": {"main": {"options": {"x_names": {"type": "list", "elements": "str"}}}}}
    assert type_problems(["x_names"], [value], spec) == ["x_names (a list)"]
    assert type_problems(["x_apps"], [value], SPEC) == ["x_apps (a list)"]


@pytest.mark.parametrize("value", ["tls=true", ["a"], 1])
def test_type_problems_names_what_is_not_a_mapping(value):
    assert type_problems(["x_store"], [value], SPEC) == ["x_store (a mapping)"]


def test_type_problems_pass_lists_and_mappings():
    assert type_problems(["x_apps", "x_store"], [[], {}], SPEC) == []


def test_type_problems_bad_calls():
    with pytest.raises(AnsibleFilterError):
        type_problems(["a"], [], SPEC)
    with pytest.raises(AnsibleFilterError):
        type_problems(["a"], [True], {"options": {}})


def stat(item, exists=True, isdir=True, islnk=False, uid=0, pw_name="root", wgrp=False, woth=False):
    return {"item": item, "stat": {"exists": exists, "isdir": isdir, "islnk": islnk, "uid": uid,
                                   "pw_name": pw_name, "wgrp": wgrp, "woth": woth}}


def test_path_chain():
    assert path_chain("/var/lib/postgresql/backups") == ["/", "/var", "/var/lib", "/var/lib/postgresql",
                                                         "/var/lib/postgresql/backups"]
    assert path_chain("/srv") == ["/", "/srv"]
    with pytest.raises(AnsibleFilterError):
        path_chain("srv/web2py")


def test_chain_of_root_folders_is_roots():
    results = [stat("/"), stat("/srv"), stat("/srv/web2py", exists=False)]
    assert chain_problem(results) == {"writer": "root", "problem": ""}


def test_chain_below_a_folder_of_the_user_is_the_users_or_refused():
    results = [stat("/"), stat("/var"), stat("/var/lib"), stat("/var/lib/postgresql", uid=104, pw_name="postgres"),
               stat("/var/lib/postgresql/backups", exists=False)]
    assert chain_problem(results, "postgres") == {"writer": "postgres", "problem": ""}
    assert chain_problem(results)["problem"] == "/var/lib/postgresql belongs to postgres"


@pytest.mark.parametrize("results,problem", [
    ([stat("/"), stat("/tmp", woth=True), stat("/tmp/w", exists=False)], "/tmp is writable by its group or by others"),
    ([stat("/"), stat("/srv", islnk=True, isdir=False), stat("/srv/w", exists=False)], "/srv is a link or not a folder"),
    ([stat("/"), stat("/srv"), stat("/srv/w", islnk=True, isdir=False)], "/srv/w is a link or not a folder"),
    ([stat("/"), stat("/home", uid=1000, pw_name="ann"), stat("/home/w", exists=False)], "/home belongs to ann"),
    # root's folder below one of the user's: the user could still rename it away.
    ([stat("/"), stat("/var/lib/redis", uid=105, pw_name="redis"), stat("/var/lib/redis/x"), stat("/var/lib/redis/x/w", exists=False)],
     "/var/lib/redis belongs to redis"),
])
def test_chain_problems(results, problem):
    assert chain_problem(results)["problem"] == problem


def test_chain_user_folder_then_root_folder_refused():
    results = [stat("/"), stat("/var/lib/postgresql", uid=104, pw_name="postgres"), stat("/var/lib/postgresql/x"),
               stat("/var/lib/postgresql/x/b", exists=False)]
    assert chain_problem(results, "postgres")["problem"] == "/var/lib/postgresql/x belongs to root, below a folder of postgres"


def test_chain_skipped_stats_pass():
    assert chain_problem([{"item": "/", "skipped": True}]) == {"writer": "root", "problem": ""}


def test_type_problems_name_null_where_the_default_is_not():
    """"x_names:" with nothing after it is null: it passes the argument spec, then fails (or reads
    as false) after changes. Null stays a value where it is the default."""
    spec = {"argument_specs": {"main": {"options": {
        "x_names": {"type": "list", "elements": "str", "default": []},
        "x_map": {"type": "dict", "default": {}},
        "x_on": {"type": "bool", "default": True},
        "x_opt": {"type": "list", "elements": "str"},
        "x_text": {"type": "str", "default": "a"},
        "x_unset": {"type": "list", "default": None},
        "x_entries": {"type": "list", "elements": "dict", "default": [], "options": {"on": {"type": "bool"}}},
    }}}}
    names = ["x_names", "x_map", "x_on", "x_opt", "x_text", "x_unset"]
    assert type_problems(names, [None] * 6, spec) == ["x_names (null)", "x_map (null)", "x_on (null)", "x_opt (null)"]
    assert type_problems(["x_entries"], [[{"on": None}]], spec) == []


def _probe(paths):
    import subprocess
    from ansible_collections.web2py.deploy.plugins.filter.safety import chain_probe
    out = subprocess.run(chain_probe(paths), capture_output=True, text=True, check=True).stdout
    return {"stdout_lines": out.splitlines()}


@pytest.fixture
def root_dir():
    """A folder whose parents are root's alone (/tmp is writable by all: refused, as it should)."""
    import pathlib
    import shutil
    import tempfile
    path = pathlib.Path(tempfile.mkdtemp(dir="/root"))
    yield path
    shutil.rmtree(str(path))


def test_chain_probe_reads_like_the_stat_loop(root_dir):
    """One command over the chain gives chain_problem what the stat loop gave it."""
    import os
    tmp_path = root_dir
    os.chmod(str(tmp_path), 0o755)
    assert chain_problem(_probe(path_chain("/tmp/x")))["problem"] == "/tmp is writable by its group or by others"
    good = tmp_path / "good"
    good.mkdir(mode=0o755)
    assert chain_problem(_probe(path_chain(str(good / "new")))) == {"writer": "root", "problem": ""}
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    assert chain_problem(_probe(path_chain(str(shared / "new"))))["problem"] == "%s is writable by its group or by others" % shared
    link = tmp_path / "link"
    link.symlink_to(str(good))
    assert chain_problem(_probe(path_chain(str(link / "new"))))["problem"] == "%s is a link or not a folder" % link
    os.chown(str(good), 65534, 65534)
    assert chain_problem(_probe(path_chain(str(good / "x"))))["problem"] == "%s belongs to nobody" % good
    assert chain_problem(_probe(path_chain(str(good / "x"))), "nobody")["writer"] == "nobody"
    missing = _probe(path_chain(str(tmp_path / "no" / "such")))
    assert missing["stdout_lines"][-1].endswith("\t-")
    assert chain_problem(missing) == {"writer": "root", "problem": ""}


def test_chain_probe_needs_absolute_paths():
    from ansible_collections.web2py.deploy.plugins.filter.safety import chain_probe
    with pytest.raises(AnsibleFilterError):
        chain_probe("/srv")
    with pytest.raises(AnsibleFilterError):
        chain_probe(["srv"])
    with pytest.raises(AnsibleFilterError):
        chain_problem({"stdout_lines": ["/srv\tgarbage"]})


@pytest.mark.parametrize("lines", [[], ["/\t-", "/srv\t-"], ["/srv\t0\troot\t41ed"],
                                   ["/\t0\troot\t41ed", "/srv/web2py\t0\troot\t41ed"]])
def test_chain_problem_fails_closed_on_an_incomplete_probe(lines):
    """No stat (every path reported missing), nothing at all, or a chain with gaps is an error,
    never an approval."""
    with pytest.raises(AnsibleFilterError):
        chain_problem({"stdout_lines": lines})


def test_chain_problem_of_a_skipped_probe():
    assert chain_problem({"skipped": True, "changed": False}) == {"writer": "root", "problem": ""}


def test_chain_probe_fails_when_stat_fails(root_dir):
    import subprocess
    from ansible_collections.web2py.deploy.plugins.filter.safety import chain_probe
    env = {"PATH": str(root_dir)}  # no stat on the PATH
    (root_dir / "sh").symlink_to("/bin/sh")
    run = subprocess.run(chain_probe(["/", "/srv"]), capture_output=True, text=True, env=env, check=False)
    assert run.returncode != 0


def test_chain_ready_only_for_the_folder_as_the_role_would_make_it(root_dir):
    """The last path of the chain: a real folder of that owner, group and exact mode."""
    import os
    from ansible_collections.web2py.deploy.plugins.filter.safety import chain_ready
    folder = root_dir / "backups"
    folder.mkdir()
    os.chmod(str(folder), 0o700)
    os.chown(str(folder), 65534, 65534)
    group = __import__("grp").getgrgid(65534).gr_name
    probe = _probe(path_chain(str(folder)))
    assert chain_ready(probe, "nobody", group, "0700") is True
    assert chain_ready(probe, "nobody", group, 700) is True
    assert chain_ready(probe, "root", group, "0700") is False
    assert chain_ready(probe, "nobody", "root", "0700") is False
    assert chain_ready(probe, "nobody", group, "0750") is False
    os.chmod(str(folder), 0o2700)  # a setgid bit the role would clear
    assert chain_ready(_probe(path_chain(str(folder))), "nobody", group, "0700") is False
    link = root_dir / "link"
    link.symlink_to(str(folder))
    assert chain_ready(_probe(path_chain(str(link))), "nobody", group, "0700") is False
    assert chain_ready(_probe(path_chain(str(root_dir / "missing"))), "root", "root", "0700") is False
    assert chain_ready({"skipped": True}, "root", "root", "0700") is False
    assert chain_ready({"rc": 3, "stdout_lines": probe["stdout_lines"]}, "nobody", group, "0700") is False
    assert chain_ready({"stdout_lines": ["/x\t0\troot\t41c0"]}, "root", "root", "0700") is False  # no group column
