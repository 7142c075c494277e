"""Scenario redis, end to end: the probe application keeps its sessions and cache in Redis.

web2py's server runs on 127.0.0.1:8000 with session_store=redis and cache_store=redis
(models/0_web2py_deploy.py, managed by the web2py role); web2py_session_expiry is 20 s (long enough for a Redis restart between two requests).
"""
from __future__ import annotations

import re
import shlex
import time

import pytest
from conftest import Client
from test_redis import UNIT, cli

EXPIRY = 20


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


# web2py's client as the managed model makes it (TLS, the certificate and the name verified).
CLIENT = r"""
import os, sys, redis
client = redis.Redis(host=sys.argv[1], port=6379, username="web2py", password=os.environ["P"], socket_timeout=5,
                     ssl=True, ssl_ca_certs=sys.argv[2], ssl_cert_reqs="required", ssl_check_hostname=True)
try:
    print(client.ping())
except Exception as error:
    print(type(error).__name__, error)
"""


def web2py_client(host, lab_vars, address: str, ca: str = "/etc/web2py-deploy/pki/ca.crt") -> str:
    env = f"P={shlex.quote(lab_vars['redis_app_password'])}"
    return host.run(f"{env} /srv/web2py/venv/bin/python -c {shlex.quote(CLIENT)} {address} {ca}").stdout.strip()


def test_web2py_client_verifies_the_server(host, lab_vars):
    config = host.file("/srv/web2py/web2py/applications/probe/private/appconfig.ini").content_string
    assert "tls = true" in config and "ca_file = /etc/web2py-deploy/pki/ca.crt" in config
    assert web2py_client(host, lab_vars, "127.0.0.1") == "True"
    # A name the certificate does not hold (localhost is not one of the host's names).
    refused = web2py_client(host, lab_vars, "localhost")
    assert "certificate verify failed" in refused and "True" != refused, refused


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


CLEANER = "/usr/local/libexec/web2py-deploy/redis-sessions2trash.py"
TRASH = "web2py-sessions2trash@probe.service"
# Index entries planted for the cleaner: more than one SSCAN batch (1,000) of entries whose
# hash is gone, and a few live sessions of another hour (hashes with a TTL) it must keep.
PLANTED_GONE = 2500
PLANTED_LIVE = [f"w2p:sess:probe:{n}" for n in range(900000001, 900000004)]
PLANT = (
    "for i = 1, tonumber(ARGV[1]) do redis.call('SADD', KEYS[1], 'w2p:sess:probe:' .. (800000000 + i)) end "
    "for i = 2, #ARGV do redis.call('HSET', ARGV[i], 'unique_key', 'kept'); redis.call('EXPIRE', ARGV[i], 600); "
    "redis.call('SADD', KEYS[1], ARGV[i]) end return redis.call('SCARD', KEYS[1])"
)


def test_sessions2trash_runs_the_batched_cleaner_for_redis_sessions(host, lab_vars):
    """The probe's sessions2trash unit runs web2py.deploy's cleaner (drop-in redis.conf), root's
    and read-only to web2py, with the settings of the probe's appconfig.ini: no password in the
    unit or on the command line."""
    cleaner = host.file(CLEANER)
    assert cleaner.user == "root" and cleaner.group == "root" and cleaner.mode == 0o644
    unit = host.run(f"systemctl cat {TRASH}")
    assert unit.rc == 0, unit.stderr
    start = [line for line in unit.stdout.splitlines() if line.startswith("ExecStart=")]
    assert start[-1] == (
        f"ExecStart=/srv/web2py/venv/bin/python {CLEANER} --app %i "
        "--appconfig /srv/web2py/web2py/applications/%i/private/appconfig.ini"
    ), start
    assert lab_vars["redis_app_password"] not in unit.stdout
    dropin = host.file(f"/etc/systemd/system/{TRASH[:-len('.service')]}.service.d/redis.conf")
    assert dropin.user == "root" and dropin.mode == 0o644
    assert host.run(f"runuser -u web2py -- test -w {CLEANER}").rc != 0


def test_sessions2trash_prunes_expired_sessions_from_the_index(host, backend, app):
    """Redis drops an expired session's hash, not its entry in web2py's index set: the timer's
    sessions2trash run is what prunes it (without it the set grows by one entry per session).
    Expired entries go, live sessions stay (hash and index entry), none is deleted."""
    timer = host.service("web2py-sessions2trash@probe.timer")
    assert timer.is_enabled and timer.is_running
    counter(backend)  # the live session gets its whole TTL again: it outlives the test
    live = set(session_keys(app))
    assert live, "no live session (test_session_expires made one)"
    stale = index(app) - live
    assert stale, "the index should still list the expired sessions"
    size = int(app("EVAL", PLANT, "1", "w2p:sess:probe:id_idx", str(PLANTED_GONE), *PLANTED_LIVE))
    assert size == len(live) + len(stale) + PLANTED_GONE + len(PLANTED_LIVE)
    live |= set(PLANTED_LIVE)
    try:
        since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
        out = host.run(f"systemctl start {TRASH}")
        assert out.rc == 0, out.stderr
        result = host.run(f"systemctl show -p Result --value {TRASH}").stdout.strip()
        assert result == "success"
        assert index(app) == live  # expired entries gone, the live sessions kept
        assert set(session_keys(app)) >= live  # and no session deleted
        for _i in range(10):  # journald may file the unit's last line a moment after it ended
            journal = host.run(f"journalctl -u {TRASH} --since '{since}' --no-pager -o cat").stdout
            summary = [line for line in journal.splitlines() if line.startswith("redis-sessions2trash: probe:")]
            if summary:
                break
            time.sleep(0.5)
        removed = len(stale) + PLANTED_GONE
        assert len(summary) == 1, journal
        assert f", {removed} of expired sessions removed, {len(live)} left," in summary[0], summary
        # a second run finds nothing to remove
        assert host.run(f"systemctl start {TRASH}").rc == 0
        assert index(app) == live
    finally:
        app("DEL", *PLANTED_LIVE)
        app("SREM", "w2p:sess:probe:id_idx", *PLANTED_LIVE)


def test_cache_lives_in_redis(backend, app):
    first = backend.get("/probe/default/cached").json()
    second = backend.get("/probe/default/cached").json()
    assert second["hit"] is True and second["value"] == first["value"]
    assert app("--scan", "--pattern", "w2p:cache:probe:*").strip()
