"""Scenario cluster: the lab's topology, checked through HAProxy like a user would.

The tests run on the load balancer; the other hosts are reached with testinfra.get_host.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import Client, assert_appconfig_as_written, node, pg_startup, private_address, request_loop, wait_for_servers

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
testinfra_hosts = [f"ansible://{INSTANCE}-lb"]
APPS = (f"{INSTANCE}-app1", f"{INSTANCE}-app2")
DB = f"{INSTANCE}-db"
WORKER = f"{INSTANCE}-worker"
URL = "https://127.0.0.1/probe/default/dbrw"


def fresh(host, tag: str) -> Client:
    return Client(host, "https://127.0.0.1", f"/tmp/jar-cluster-{tag}")


def hosts_answering(host, count: int = 8) -> set[str]:
    return {fresh(host, f"h{i}").get("/probe/default/host").json()["host"] for i in range(count)}


def test_balanced_over_both_app_hosts(host):
    assert wait_for_servers(host, APPS) == {APPS[0]: True, APPS[1]: True}
    assert hosts_answering(host) == set(APPS)


def test_session_follows_the_client_across_app_hosts(host):
    client = fresh(host, "session")
    served = set()
    for expected in range(1, 7):
        answer = client.get("/probe/default/visit").json()
        assert answer["counter"] == expected, answer
        served.add(answer["host"])
    assert served == set(APPS)  # no stickiness: the session lives in Redis


def test_app_hosts_share_postgresql(host):
    written = {}
    for index in range(6):
        answer = fresh(host, f"db{index}").get("/probe/default/dbrw").json()
        assert answer["engine"] == "postgres" and answer["wrote"] == answer["read"], answer
        written[answer["wrote"]] = answer
    db = node(DB)
    tokens = ",".join(f"'{token}'" for token in written)
    rows = db.run(f"runuser -u postgres -- psql -XAtq -d web2py -c {shlex.quote(f'SELECT DISTINCT served_by FROM probe_row WHERE probe_token IN ({tokens})')}")
    assert set(rows.stdout.split()) == set(APPS), rows.stdout + rows.stderr


def test_appconfig_values_reach_both_app_hosts_as_written(host, lab_vars):
    """Through HAProxy, on whichever app host answers (8 fresh clients reach both)."""
    for index in range(8):
        assert_appconfig_as_written(fresh(host, f"cfg{index}"), lab_vars)


def test_host_outside_pg_hba_is_refused(host):
    # The load balancer is not a web2py host: PostgreSQL refuses it before any password.
    refused = pg_startup(host, DB)
    assert refused.startswith("E ") and f'no pg_hba.conf entry for host "{private_address(host)}"' in refused, refused
    # Control: an app host is asked for its SCRAM password.
    allowed = pg_startup(node(APPS[0]), DB)
    assert allowed.startswith("R ") and "SCRAM-SHA-256" in allowed, allowed


def test_scheduler_host_runs_queued_tasks(host):
    client = fresh(host, "scheduler")
    task = client.get("/probe/default/queue").json()["id"]
    status = {}
    for _attempt in range(60):
        status = client.get(f"/probe/default/task?id={task}").json()
        if status["status"] == "COMPLETED":
            break
        time.sleep(1)
    assert status["status"] == "COMPLETED", status
    assert status["row_served_by"] == f"scheduler@{WORKER}"


def test_no_failed_request_while_an_app_host_stops(host):
    app = node(APPS[1])
    with ThreadPoolExecutor(max_workers=1) as pool:
        loop = pool.submit(request_loop, host, 120, URL, 0.05)
        time.sleep(2)
        assert app.run("systemctl stop nginx").rc == 0
        result = loop.result(timeout=600)
    try:
        assert result["failed"] == 0 and result["ok"] == 120, result
    finally:
        assert app.run("systemctl start nginx").rc == 0
    assert wait_for_servers(host, APPS)[APPS[1]]
    assert hosts_answering(host) == set(APPS)


def test_rolling_update_drops_no_request(host):
    playbook = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks/rolling.yml")
    # A real change on every app host (uWSGI gets three workers) so each one restarts.
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook, "-e", '{"nginx_uwsgi_processes": 3}']
    with ThreadPoolExecutor(max_workers=1) as pool:
        loop = pool.submit(request_loop, host, 400, URL, 0.05)
        run = subprocess.run(command, capture_output=True, text=True, timeout=1200, check=False)
        result = loop.result(timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Take this host out of every load balancer" in run.stdout
    assert result["failed"] == 0, result
    for name in APPS:
        vassal = node(name).run("grep -h '^processes' /etc/uwsgi-emperor/vassals/*.ini").stdout
        assert vassal.split() == ["processes", "=", "3"], vassal
    assert wait_for_servers(host, APPS) == {APPS[0]: True, APPS[1]: True}
