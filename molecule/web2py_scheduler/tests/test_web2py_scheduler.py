"""Scenario web2py_scheduler: one systemd worker per application, restarted when it dies."""
from __future__ import annotations

import time

import pytest
from conftest import assert_check_mode_clean, secret_values, Client, processes, run_playbook

UNIT = "web2py-scheduler@probe.service"


def test_check_mode_on_the_converged_host_changes_nothing(lab_vars):
    """First, on the state converge left: --check --diff reports 0 changes, -v shows no secret."""
    assert_check_mode_clean(secrets=secret_values(lab_vars))


@pytest.fixture
def backend(host):
    return Client(host, "http://127.0.0.1:8000", "/tmp/jar-backend")


def main_pid(host) -> str:
    return host.run(f"systemctl show -p MainPID --value {UNIT}").stdout.strip()


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {seconds} s waiting for {what}"
        time.sleep(1)


def run_task(backend) -> dict:
    queued = backend.get("/probe/default/queue")
    assert queued.status == 200, queued.body[:300]
    task_id = queued.json()["id"]

    def completed():
        state = backend.get(f"/probe/default/task?id={task_id}").json()
        assert state["status"] not in ("FAILED", "TIMEOUT", "EXPIRED"), state
        return state if state["status"] == "COMPLETED" else None

    state = wait_for(completed, 60, f"task {task_id} to complete")
    assert state["result"]["token"] == queued.json()["token"]
    return state


def test_one_worker_per_app_as_web2py(host):
    svc = host.service(UNIT)
    assert svc.is_running and svc.is_enabled
    workers = [(user, args) for user, args in processes(host) if " -K " in args]
    assert len(workers) == 1, workers
    user, args = workers[0]
    assert user == "web2py" and args.endswith("-K probe:main")


def test_restart_policy_like_respawn_limit_8_60(host):
    show = host.run(f"systemctl show -p Restart -p StartLimitBurst -p StartLimitIntervalUSec {UNIT}").stdout
    assert "Restart=always" in show and "StartLimitBurst=8" in show and "StartLimitIntervalUSec=1min" in show


def test_queued_task_runs_and_stores_its_result(backend):
    state = run_task(backend)
    assert state["row_served_by"].startswith("scheduler@")
    assert state["worker"]


def test_logs_in_the_journal(host):
    out = host.run(f"journalctl -u {UNIT} --no-pager -o cat").stdout
    assert "starting single-scheduler for \"probe\"" in out


def test_killed_worker_is_restarted_and_keeps_working(host, backend):
    before = main_pid(host)
    restarts = int(host.run(f"systemctl show -p NRestarts --value {UNIT}").stdout.strip())
    assert host.run(f"kill -9 {before}").rc == 0
    wait_for(lambda: main_pid(host) not in ("0", before) and host.service(UNIT).is_running, 30,
             "systemd to restart the worker")
    assert int(host.run(f"systemctl show -p NRestarts --value {UNIT}").stdout.strip()) == restarts + 1
    run_task(backend)


def test_stop_is_clean(host):
    """web2py's scheduler exits 1 on SIGTERM: systemd counts that as a clean stop."""
    assert host.run(f"systemctl stop {UNIT}").rc == 0
    try:
        show = host.run(f"systemctl show -p ActiveState -p Result {UNIT}").stdout
        assert "ActiveState=inactive" in show and "Result=success" in show, show
    finally:
        host.run(f"systemctl start {UNIT}")
    assert host.service(UNIT).is_running


def test_unlisted_app_worker_is_stopped_and_disabled(host):
    run = run_playbook("converge.yml", "-e", '{"web2py_scheduler_apps": []}')
    assert run.returncode == 0, run.stdout[-3000:]
    svc = host.service(UNIT)
    assert not svc.is_running and not svc.is_enabled
    run = run_playbook("converge.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    assert host.service(UNIT).is_running
