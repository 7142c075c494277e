"""Scenario redis, end to end: the probe application keeps its sessions and cache in Redis.

web2py's server runs on 127.0.0.1:8000 with session_store=redis and cache_store=redis
(models/0_web2py_deploy.py, managed by the web2py role); web2py_session_expiry is 45 s.
"""
from __future__ import annotations

import re
import time

import pytest
from conftest import Client
from test_redis import UNIT, cli

EXPIRY = 45


@pytest.fixture(scope="module")
def backend(host):
    return Client(host, "http://127.0.0.1:8000", "/tmp/jar-redis-sessions")


@pytest.fixture
def app(host, lab_vars):
    def run(*args: str) -> str:
        return cli(host, *args, user="web2py", password=lab_vars["redis_app_password"])
    return run


def counter(backend) -> int:
    r = backend.get("/probe/default/counter")
    assert r.status == 200, r.body[:300]
    return r.json()["counter"]


def session_keys(app) -> list[str]:
    """The session records (hashes w2p:sess:probe:<id>), not the index or the id counter."""
    return [k for k in app("--scan", "--pattern", "w2p:sess:probe:*").splitlines() if re.fullmatch(r"w2p:sess:probe:\d+", k)]


def test_model_connects_redis_from_appconfig(host, lab_vars):
    model = host.file("/srv/web2py/web2py/applications/probe/models/0_web2py_deploy.py")
    assert model.exists and lab_vars["redis_app_password"] not in model.content_string
    config = host.file("/srv/web2py/web2py/applications/probe/private/appconfig.ini")
    assert config.mode == 0o600 and config.user == "web2py"
    assert "store = redis" in config.content_string


def test_session_lives_in_redis_with_the_expiry_as_ttl(backend, app):
    assert [counter(backend) for _i in range(2)] == [1, 2]
    keys = session_keys(app)
    assert keys, "no session key in Redis"
    ttls = [int(app("TTL", key)) for key in keys]
    assert all(0 < ttl <= EXPIRY for ttl in ttls), ttls
    # no session file was written
    sessions = "/srv/web2py/web2py/applications/probe/sessions"
    assert host_files(backend.host, sessions) == []


def host_files(host, folder: str) -> list[str]:
    return [f for f in host.run(f"find {folder} -type f").stdout.split() if f]


def test_session_survives_a_redis_restart(host, backend, app):
    assert host.run(f"systemctl restart {UNIT}").rc == 0
    for _i in range(60):
        if app("PING") == "PONG":
            break
        time.sleep(0.5)
    assert counter(backend) == 3


def test_session_expires(backend, app):
    deadline = time.monotonic() + EXPIRY + 15
    while session_keys(app):
        assert time.monotonic() < deadline, "the session key outlived its TTL"
        time.sleep(1)
    assert counter(backend) == 1  # a new session


def index(app) -> set[str]:
    return set(app("SMEMBERS", "w2p:sess:probe:id_idx").split())


def test_sessions2trash_prunes_expired_sessions_from_the_index(host, app):
    """Redis drops an expired session's hash, not its entry in web2py's index set: the timer's
    sessions2trash run is what prunes it (without it the set grows by one entry per session)."""
    timer = host.service("web2py-sessions2trash@probe.timer")
    assert timer.is_enabled and timer.is_running
    live = set(session_keys(app))
    assert live, "no live session (test_session_expires made one)"
    stale = index(app) - live
    assert stale, "the index should still list the expired sessions"
    out = host.run("systemctl start web2py-sessions2trash@probe.service")
    assert out.rc == 0, out.stderr
    result = host.run("systemctl show -p Result --value web2py-sessions2trash@probe.service").stdout.strip()
    assert result == "success"
    assert index(app) == live  # expired entries gone, the live session kept


def test_cache_lives_in_redis(backend, app):
    first = backend.get("/probe/default/cached").json()
    second = backend.get("/probe/default/cached").json()
    assert second["hit"] is True and second["value"] == first["value"]
    assert app("--scan", "--pattern", "w2p:cache:probe:*").strip()
