"""Scenario single: one host with everything, checked through its nginx front end."""
from __future__ import annotations

import time

from conftest import ADMIN_PATHS, assert_static_by_web_server, assert_tls_policy, processes


def rendered(host, name: str) -> str:
    """A variable as Ansible renders it (the lab's passwords are lookups with a default)."""
    return host.ansible("debug", f"msg={{{{ {name} }}}}", check=False)["msg"]


def test_every_service_runs(host):
    for name in ("nginx", "uwsgi-emperor", "postgresql@15-main", "redis-server", "web2py-scheduler@probe"):
        service = host.service(name)
        assert service.is_running and service.is_enabled, name


def test_data_services_on_loopback_only(host):
    listening = {line.split()[3] for line in host.run("ss -Hltn").stdout.splitlines()}
    for port in ("5432", "6379"):
        addresses = {address.rsplit(":", 1)[0] for address in listening if address.endswith(f":{port}")}
        assert addresses and addresses <= {"127.0.0.1", "[::1]"}, (port, addresses)


def test_probe_on_postgresql_with_redis_sessions(https):
    assert https.get("/probe/default/dbrw").json()["engine"] == "postgres"
    assert https.get("/probe/default/counter").json() == {"counter": 1}
    assert https.get("/probe/default/counter").json() == {"counter": 2}


def test_session_and_cache_keys_in_redis(host, https):
    https.get("/probe/default/counter")
    https.get("/probe/default/cached")
    password = rendered(host, "redis_app_password")
    assert password and "{" not in password
    keys = host.run(f"REDISCLI_AUTH='{password}' redis-cli --user web2py --no-auth-warning --scan --pattern 'w2p:*'")
    assert "w2p:sess:probe:" in keys.stdout and "w2p:cache:probe:" in keys.stdout, keys.stdout + keys.stderr


def test_scheduler_runs_a_queued_task(https):
    task = https.get("/probe/default/queue").json()["id"]
    status = {}
    for _attempt in range(60):
        status = https.get(f"/probe/default/task?id={task}").json()
        if status["status"] == "COMPLETED":
            break
        time.sleep(1)
    assert status["status"] == "COMPLETED" and status["row_served_by"].startswith("scheduler@"), status


def test_front_end_policy(host, http, https):
    assert_tls_policy(host, 443)
    assert_static_by_web_server(https, "/probe/static/probe.txt")
    assert http.get("/probe/default/ping").body == "pong"
    for path in ADMIN_PATHS:
        assert http.get(path).status == 403, path


def test_secrets_not_on_command_lines(host):
    for secret in (rendered(host, "postgres_db_password"), rendered(host, "redis_app_password")):
        assert secret and "{" not in secret
        for _user, args in processes(host):
            assert secret not in args
