"""Scenario web2py_server: the role alone, gunicorn on 127.0.0.1:8000 through the launcher."""
from __future__ import annotations

from conftest import (
    Client,
    assert_check_mode_clean,
    assert_forwarding_headers_ignored,
    assert_probe_answers,
    assert_trusted_proxy_believed,
    processes,
    probe_env,
)

LAUNCHER = "/usr/local/libexec/web2py-deploy/web2py-server.py"


def test_check_mode_on_the_converged_host_changes_nothing():
    assert_check_mode_clean()


def test_gunicorn_runs_as_web2py_through_the_launcher_on_loopback(host):
    svc = host.service("web2py")
    assert svc.is_running and svc.is_enabled
    backend = [(user, args) for user, args in processes(host) if "anyserver.py" in args]
    # the arbiter and 2 workers, all as web2py, through the launcher
    assert len(backend) == 3 and {user for user, _args in backend} == {"web2py"}, backend
    assert all(args.startswith(f"/srv/web2py/venv/bin/python {LAUNCHER} --trust 127.0.0.2 -- ") for _user, args in backend)
    listeners = [line.split()[3] for line in host.run("ss -Hltn").stdout.splitlines()]
    assert [address for address in listeners if address.endswith(":8000")] == ["127.0.0.1:8000"], listeners


def test_probe_answers(host):
    assert_probe_answers(Client(host, "http://127.0.0.1:8000", "/tmp/jar-server"))


def test_forwarding_headers_of_other_clients_are_ignored(host):
    assert_forwarding_headers_ignored(host, "http", 8000)


def test_the_balancer_is_believed(host):
    assert_trusted_proxy_believed(host, "http", 8000)


def test_loopback_is_believed_as_the_web_server_on_the_host(host):
    """apache_proxy's Apache calls from 127.0.0.1 and says who the client was and its scheme."""
    seen = probe_env(Client(host, "http://127.0.0.1:8000", "/tmp/jar-loop"),
                     "-H", "X-Forwarded-For: 198.51.100.7", "-H", "X-Forwarded-Proto: https")
    assert seen["client"] == "198.51.100.7" and seen["is_https"] is True and seen["is_local"] is False, seen


def test_a_trusted_peers_unreadable_client_is_refused(host):
    """Never read as the peer's own (local) address."""
    answer = Client(host, "http://127.0.0.1:8000", "/tmp/jar-bad").get("/probe/default/env", "-H", "X-Forwarded-For: unknown")
    assert answer.status == 400, (answer.status, answer.body[:200])


def test_a_path_prefix_from_a_trusted_peer_is_refused(host):
    """gunicorn takes SCRIPT_NAME from a header of the peers it trusts (loopback) and cuts it off
    the path: the launcher answers 400 instead of letting web2py route /probe/appadmin/index."""
    answer = Client(host, "http://127.0.0.1:8000", "/tmp/jar-prefix").get("/probe/probe/appadmin/index", "-H", "SCRIPT_NAME: /probe")
    assert answer.status == 400 and "canary" not in answer.body, (answer.status, answer.body[:200])
    # Control: without the header the same client reaches the probe.
    assert Client(host, "http://127.0.0.1:8000", "/tmp/jar-prefix").get("/probe/default/ping").body == "pong"
