"""Scenario memcached, end to end: the probe application's sessions and cache in memcached.

web2py's server runs on 127.0.0.1:8000 with session_store=memcache and cache_store=memcache:
models/0_web2py_deploy.py (managed by the web2py role) connects them through
web2py_deploy_memcache (pymemcache with memcached's ASCII authentication).
"""
from __future__ import annotations

import time

import pytest
from conftest import Client
from test_memcached import mc, stats


@pytest.fixture(scope="module")
def backend(host):
    return Client(host, "http://127.0.0.1:8000", "/tmp/jar-memcache-sessions")


@pytest.fixture
def login(lab_vars):
    from test_memcached import auth
    user = lab_vars["memcached_users"][0]
    return auth(user["name"], user["password"])


def counter(backend) -> int:
    r = backend.get("/probe/default/counter")
    assert r.status == 200, r.body[:300]
    return r.json()["counter"]


def test_connector_installed_without_secrets(host, lab_vars):
    password = lab_vars["memcached_users"][0]["password"]
    for path in ("/srv/web2py/web2py/applications/probe/models/0_web2py_deploy.py",
                 "/srv/web2py/web2py/site-packages/web2py_deploy_memcache.py"):
        f = host.file(path)
        assert f.exists and password not in f.content_string
    config = host.file("/srv/web2py/web2py/applications/probe/private/appconfig.ini")
    assert config.mode == 0o600 and "store = memcache" in config.content_string


def test_cached_action_changes_memcached_hit_counters(host, backend, login):
    before = stats(mc(host, login, b"stats\r\n"))
    first = backend.get("/probe/default/cached").json()
    second = backend.get("/probe/default/cached").json()
    after = stats(mc(host, login, b"stats\r\n"))
    assert second["hit"] is True and second["value"] == first["value"]
    assert int(after["get_hits"]) > int(before["get_hits"])
    assert int(after["cmd_set"]) > int(before["cmd_set"])


def test_sessions_live_in_memcached(host, backend):
    assert [counter(backend) for _i in range(3)] == [1, 2, 3]
    # nothing on disk ...
    assert host.run("find /srv/web2py/web2py/applications/probe/sessions -type f").stdout.strip() == ""
    # ... and a memcached restart (which empties it) starts a new session.
    assert host.run("systemctl restart memcached").rc == 0
    for _i in range(30):
        if backend.get("/probe/default/ping").status == 200:
            break
        time.sleep(0.5)
    assert counter(backend) == 1
