"""Unit tests of web2py.deploy.pip_pinned_installed and requirement_problems."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.pip import pip_pinned_installed, requirement_problems

DISTS = ["pydal-20250228.1.dist-info", "legacy_cgi-2.6.4.dist-info", "psycopg2_binary-2.9.10.dist-info",
         "PyYAML-6.0.2.dist-info", "pip-25.1.1.dist-info", "zope.interface-7.2.dist-info", "README.txt", "x.egg-info"]


@pytest.mark.parametrize("requirements", [
    [],
    ["pydal==20250228.1"],
    ["legacy-cgi==2.6.4", "psycopg2-binary==2.9.10", "pyyaml==6.0.2", "PyDAL==20250228.1"],
    ["Legacy.CGI==2.6.4", "zope-interface==7.2"],
])
def test_every_exact_pin_installed(requirements):
    assert pip_pinned_installed(requirements, DISTS) is True


@pytest.mark.parametrize("requirements", [
    ["pydal==20250228.2"],                      # another version
    ["pydal==20250228"],                        # a prefix of the version
    ["redis==5.2.1"],                           # not installed
    ["pydal"],                                  # not pinned: pip decides
    ["pydal>=20250228.1"],
    ["pydal===20250228.1"],
    ["pydal==20250228.1; python_version>'3'"],  # a marker
    ["pydal[extra]==20250228.1"],               # extras
    ["pydal @ https://example.org/pydal.whl"],
    ["-e", "."],
    ["pydal==20250228.1 --hash=sha256:0"],
    ["pydal==20250228.1\n"],
    [" pydal==20250228.1"],
    [3],
    [None],
])
def test_anything_else_is_left_to_pip(requirements):
    assert pip_pinned_installed(requirements, DISTS) is False


def test_dist_info_names_that_are_not_pip_s_are_ignored():
    assert pip_pinned_installed(["a==1"], ["a-1.egg-info", "a-1", "a-1.dist-info.bak", "-1.dist-info"]) is False


@pytest.mark.parametrize("requirements,dists", [("pydal==1", []), (["a==1"], "a-1.dist-info"), ({"a": 1}, []), (["a==1"], None)])
def test_bad_input(requirements, dists):
    with pytest.raises(AnsibleFilterError):
        pip_pinned_installed(requirements, dists)


@pytest.mark.parametrize("value", ["redis", "redis==5.2.1", "gunicorn==23.0.0", "uWSGI==2.0.28", "web2py-gluon",
                                   "pymemcache>=4,<5", "pkg[extra1,extra2]~=1.2", "a.b_c-d===1.0+local"])
def test_requirements_pass(value):
    assert requirement_problems([value], ["x"]) == []


@pytest.mark.parametrize("value", ["", "--index-url=http://203.0.113.9/simple", "-e .", "redis ==5", "gunicorn --pre",
                                   "redis; python_version>'3'", "https://example.org/x.whl", "redis==", "-redis", 5, None])
def test_other_values_are_named(value):
    assert requirement_problems([value], ["web2py_redis_package"])[0].startswith("web2py_redis_package: not a pip requirement")


def test_needs_as_many_names():
    with pytest.raises(AnsibleFilterError):
        requirement_problems(["a", "b"], ["x"])
