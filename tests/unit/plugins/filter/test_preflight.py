"""Unit tests of web2py.deploy.role_closure, role_settings and preflight_plan."""
from __future__ import annotations

import pathlib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.preflight import (
    preflight_plan, role_closure, role_settings, roles_in_scope, unsupported_roles)

ROLES = str(pathlib.Path(__file__).resolve().parents[4] / "roles")


def test_closure_puts_dependencies_first_once():
    chain = role_closure(["web2py.deploy.nginx_uwsgi", "web2py.deploy.web2py_scheduler"], ROLES)
    assert chain == ["pki", "web2py", "web2py_frontend", "web2py_tls", "nginx_uwsgi", "web2py_scheduler"]


def test_closure_of_apache_proxy_reaches_the_server_and_apache():
    chain = role_closure(["web2py.deploy.apache_proxy"], ROLES)
    assert chain.index("web2py") < chain.index("web2py_server") < chain.index("apache_proxy")
    assert {"web2py_apache", "web2py_tls", "web2py_frontend"} <= set(chain)
    assert "preflight" not in chain


@pytest.mark.parametrize("name", ["nginx_uwsgi", "other.collection.nginx_uwsgi", "web2py.deploy.nope",
                                  "web2py.deploy.../roles", "web2py.deploy.", 42, None])
def test_closure_ignores_foreign_and_unknown_names(name):
    assert role_closure([name], ROLES) == []


def test_closure_needs_a_list():
    with pytest.raises(AnsibleFilterError):
        role_closure("web2py.deploy.web2py", ROLES)


def test_settings_are_spec_options_and_prefixed_names():
    names = ["web2py_hsts_max_age", "web2py_tls_dir", "web2py_tls_typo", "web2py_user", "nginx_uwsgi_x"]
    assert role_settings(names, ROLES, "web2py_tls") == ["web2py_hsts_max_age", "web2py_tls_dir", "web2py_tls_typo"]
    assert role_settings(names, ROLES, "web2py_tls", False) == ["web2py_hsts_max_age", "web2py_tls_dir"]


def test_settings_leave_out_what_roles_set_themselves():
    """Outputs (vars/main.yml) are not inputs: web2py_preview may not even be computable yet."""
    names = ["web2py_preview", "web2py_root_dir", "web2py_user", "web2py_typo"]
    assert role_settings(names, ROLES, "web2py") == ["web2py_typo", "web2py_user"]
    assert role_settings(names, ROLES, ["web2py", "web2py_tls"], False) == ["web2py_user"]


def test_plan_validates_once_per_input_values():
    settings = {"web2py_tls_dir": "/etc/x", "web2py_user": "web2py", "web2py_preview": False}
    first = preflight_plan(["web2py", "web2py_tls"], settings, ROLES, [], "salt")
    assert set(first) == {"web2py", "web2py_tls"}
    assert preflight_plan(["web2py", "web2py_tls"], settings, ROLES, list(first.values()), "salt") == {}
    # An output changing while the roles run is not an input: nothing to validate again.
    outputs = dict(settings, web2py_preview=True)
    assert preflight_plan(["web2py", "web2py_tls"], outputs, ROLES, list(first.values()), "salt") == {}
    # A changed input is validated again, for its role only.
    changed = dict(settings, web2py_tls_dir="/etc/y")
    assert set(preflight_plan(["web2py", "web2py_tls"], changed, ROLES, list(first.values()), "salt")) == {"web2py_tls"}


def test_plan_validates_again_a_role_whose_dependency_input_changed():
    """apache_proxy's own checks read web2py_server_address (loopback only): a later play that
    sets it to 0.0.0.0 must validate apache_proxy again, not only web2py_server."""
    roles = role_closure(["web2py.deploy.apache_proxy"], ROLES)
    settings = {"web2py_server_address": "127.0.0.1", "apache_proxy_https_port": 443}
    first = preflight_plan(roles, settings, ROLES, [], "salt")
    exposed = dict(settings, web2py_server_address="0.0.0.0")
    again = preflight_plan(roles, exposed, ROLES, list(first.values()), "salt")
    assert set(again) == {"web2py_server", "apache_proxy"}


def test_plan_fingerprints_are_keyed_and_hold_no_value():
    settings = {"web2py_admin_password": "s3cret"}
    one = preflight_plan(["web2py"], settings, ROLES, [], "a")["web2py"]
    two = preflight_plan(["web2py"], settings, ROLES, [], "b")["web2py"]
    assert one != two and "s3cret" not in one and len(one) == 64


def test_plan_needs_a_mapping():
    with pytest.raises(AnsibleFilterError):
        preflight_plan(["web2py"], ["web2py_user"], ROLES)


def test_unsupported_roles_are_those_without_the_release_file():
    assert unsupported_roles(["web2py", "nginx_uwsgi"], ROLES, "Debian-13.yml") == []
    assert unsupported_roles(["web2py", "nginx_uwsgi"], ROLES, "Debian-11.yml") == ["web2py", "nginx_uwsgi"]
    with pytest.raises(AnsibleFilterError):
        unsupported_roles(["web2py"], ROLES, "../../etc/passwd")


def test_roles_in_scope_are_those_whose_defaults_are_all_defined():
    import yaml
    tls = set(yaml.safe_load(open(ROLES + "/web2py_tls/defaults/main.yml")))
    assert roles_in_scope(["web2py_tls"], ROLES, tls | {"other"}) == ["web2py_tls"]
    assert roles_in_scope(["web2py_tls"], ROLES, tls - {"web2py_tls_dir"}) == []
    assert roles_in_scope(["web2py_standalone"], ROLES, []) == ["web2py_standalone"]  # no defaults


def test_plan_leaves_roles_with_an_unresolved_input_to_a_later_run():
    settings = {"web2py_user": "web2py"}
    plan = preflight_plan(["web2py", "apache_wsgi"], settings, ROLES, [], "s", ["apache_wsgi_server_name"])
    assert list(plan) == ["web2py"]


def test_plan_reads_mappings_whose_keys_mix_types():
    """YAML reads "on:" as a bool key: a mapping mixing key types still has one fingerprint."""
    first = preflight_plan(["web2py"], {"web2py_apps": [{"name": "a", "env": {True: 1, "x": 2, 3: [{None: 4}]}}]},
                           ROLES, [], "salt")
    again = preflight_plan(["web2py"], {"web2py_apps": [{"name": "a", "env": {3: [{None: 4}], "x": 2, True: 1}}]},
                           ROLES, list(first.values()), "salt")
    assert set(first) == {"web2py"} and again == {}


def test_plan_leaves_out_what_roles_set_for_their_dependencies():
    """web2py_frontend_name comes from the front-end role's meta/main.yml (nginx_uwsgi or
    apache_wsgi in a play loading both): not an input, so it never validates a role again."""
    settings = {"web2py_frontend_name": "nginx_uwsgi", "web2py_frontend_units": ["nginx.service"],
                "web2py_trusted_proxies": []}
    first = preflight_plan(["web2py_frontend"], settings, ROLES, [], "salt")
    other = dict(settings, web2py_frontend_name="apache_wsgi", web2py_frontend_units=["apache2.service"])
    assert preflight_plan(["web2py_frontend"], other, ROLES, list(first.values()), "salt") == {}
    changed = dict(settings, web2py_trusted_proxies=["10.0.0.1"])
    assert set(preflight_plan(["web2py_frontend"], changed, ROLES, list(first.values()), "salt")) == {"web2py_frontend"}


def test_plan_without_salt_uses_one_random_key_per_run(tmp_path, monkeypatch):
    """The roles pass no salt: the key is a 0600 file in the run's temporary folder, the same for
    every worker of the run, another in another run."""
    import stat as stat_module
    from ansible import constants as C
    settings = {"web2py_admin_password": "s3cret"}
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(tmp_path / "run1"))
    (tmp_path / "run1").mkdir()
    one = preflight_plan(["web2py"], settings, ROLES, [])["web2py"]
    assert preflight_plan(["web2py"], settings, ROLES, [])["web2py"] == one
    key = tmp_path / "run1" / "web2py-deploy-preflight.key"
    assert stat_module.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert sorted(p.name for p in (tmp_path / "run1").iterdir()) == ["web2py-deploy-preflight.key"]
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(tmp_path / "run2"))
    (tmp_path / "run2").mkdir()
    assert preflight_plan(["web2py"], settings, ROLES, [])["web2py"] != one
