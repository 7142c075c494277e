"""The web2py role's TLS defaults of its Redis and memcached clients, rendered as Ansible renders
roles/web2py/vars/main.yml (ansible-core 2.19 keeps backslashes in Jinja strings of YAML block
scalars literal: a pattern written with doubled ones never matched)."""
from __future__ import annotations

import pathlib

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.utils.yaml import from_yaml
from ansible.template import Templar, trust_as_template

VARS = pathlib.Path(__file__).resolve().parents[4] / "roles" / "web2py" / "vars" / "main.yml"


def trusted(value):
    """Role vars as Ansible trusts them: every string, however deep, may be a template."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value


def render(expression: str, **inventory):
    loader = DataLoader()
    variables = trusted(from_yaml(VARS.read_text(encoding="utf-8")))
    variables.update(inventory)
    return Templar(loader=loader, variables=variables).template(trust_as_template(expression))


@pytest.mark.parametrize("servers, listen, expected", [
    (["127.0.0.1:11211"], None, False),
    (["[::1]:11211", "localhost:11211"], None, False),
    (["127.0.0.1:11211"], ["127.0.0.1", "10.0.0.5"], True),  # this host's memcached is TLS-only
    (["db1:11211"], None, True),
    (["[fd00::5]:11211"], None, True),
])
def test_memcache_client_speaks_tls_as_the_server_does(servers, listen, expected):
    inventory = {"web2py_memcache": {"servers": servers}}
    if listen is not None:
        inventory["memcached_listen"] = listen
    assert render("{{ __web2py_memcache_tls_default }}", **inventory) is expected
    hosts = render("{{ __web2py_memcache_hosts }}", **inventory)
    assert all(":" not in h or h.count(":") > 1 for h in hosts) and not any("[" in h for h in hosts), hosts


@pytest.mark.parametrize("host, bind, tls, expected", [
    ("127.0.0.1", None, None, False),
    ("127.0.0.1", ["127.0.0.1", "-::1", "10.0.0.5"], None, True),
    ("127.0.0.1", ["127.0.0.1", "10.0.0.5"], False, False),
    ("db1", None, None, True),
])
def test_redis_client_speaks_tls_as_the_server_does(host, bind, tls, expected):
    inventory = {"web2py_redis": {"host": host}}
    if bind is not None:
        inventory["redis_bind"] = bind
    if tls is not None:
        inventory["redis_tls"] = tls
    assert render("{{ __web2py_redis_tls_default }}", **inventory) is expected


def test_a_verifying_db_uri_brings_the_ca():
    base = {"web2py_apps": [], "web2py_probe_app": True, "web2py_probe_db_read_uris": [], "web2py_probe_db_migrate": True,
            "web2py_probe_session_store": "file", "web2py_probe_cache_store": "ram", "web2py_probe_appconfig_extra": {},
            "web2py_redis": {}, "web2py_memcache": {}, "role_path": "/x/roles/web2py"}
    assert render("{{ __web2py_pki }}", web2py_probe_db_uri="postgres://u:p@db1/w?sslmode=verify-full", **base) is True
    assert render("{{ __web2py_pki }}", web2py_probe_db_uri="postgres://u:p@db1/w?sslmode=require", **base) is False
    assert render("{{ __web2py_pki }}", web2py_probe_db_uri="postgres://u:p@db1/w?sslmode=verify-fullx", **base) is False
