"""Unit tests of the shared input guards (web2py.deploy.unsafe_values, path_problem)."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.safety import type_problems, path_problem, unsafe_values


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
    assert type_problems(names, values, SPEC) == ["x_apps[shop].migrate", "x_apps[2].migrate",
                                                 "x_store.tls", "x_front"]


def test_type_problems_pass_real_booleans_and_unset():
    assert type_problems(["x_enabled", "x_apps", "x_store"], [False, [{"name": "a"}], None], SPEC) == []


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
