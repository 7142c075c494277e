"""Unit tests of the shared input guards (web2py.deploy.unsafe_values, path_problem)."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.safety import path_problem, unsafe_values


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
