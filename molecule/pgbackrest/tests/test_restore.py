"""Scenario pgbackrest: playbooks/restore.yml brings a named time back onto a fresh host.

Runs on the restore host, after test_pgbackrest.py: rows written before a noted time come
back, the rows written after it do not; a second restore onto the now used cluster is refused
unless restore_overwrite says otherwise.
"""
from __future__ import annotations

import json
import os

import pytest
from conftest import node, recap_changed, run_playbook
from test_pgbackrest import psql, switch_and_wait_archived

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
RESTORE = f"{INSTANCE}-restore"
testinfra_hosts = [f"ansible://{RESTORE}"]


@pytest.fixture(scope="module")
def db():
    return node(f"{INSTANCE}-db")


@pytest.fixture(scope="module")
def target_time(db) -> str:
    """Rows A, the time (the server's, UTC), one second, rows B, all of it archived."""
    out = psql(db, "DROP TABLE IF EXISTS pitr; CREATE TABLE pitr (id int PRIMARY KEY, phase text);"
                   "INSERT INTO pitr SELECT i, 'before' FROM generate_series(1, 100) i")
    assert out.rc == 0, out.stderr
    noted = psql(db, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'",
                 "postgres").stdout.strip()
    psql(db, "SELECT pg_sleep(1.1)", "postgres")
    out = psql(db, "INSERT INTO pitr SELECT i, 'after' FROM generate_series(101, 150) i;"
                   "UPDATE pitr SET phase = 'changed after' WHERE id <= 10")
    assert out.rc == 0, out.stderr
    switch_and_wait_archived(db)
    return noted


def assert_refused(run, message: str) -> None:
    """The run failed with the message, and changed nothing on any host."""
    output = run.stdout + run.stderr
    assert run.returncode != 0 and message in output, output[-3000:]
    changed = recap_changed(output)
    assert changed and not any(changed.values()), (changed, output[-2000:])


def test_a_bad_target_time_is_refused_before_any_change(host):
    # Through the playbook, one malformed time (a time without its zone) and none at all; the
    # other malformed ones (line break, words, SQL, 30 February, 24:00, +99) are cases of the
    # preflight scenario's matrix (molecule/preflight/cases.yml), the same check on one host.
    run = run_playbook("restore.yml", "-e", json.dumps({"pgbackrest_restore_target_time": "2026-12-06 10:15:00"}))
    assert_refused(run, "pgbackrest_restore_target_time must be a time with its time zone")
    run = run_playbook("restore.yml")
    assert run.returncode != 0 and "pgbackrest_restore_target_time is required" in run.stdout + run.stderr
    # Well-formed times the stanza cannot be restored to are refused before anything is
    # installed on the fresh host (the repository host's pgBackRest and clock): a day that does
    # not exist (29 February of a common year: the format allows it, date does not) and a time
    # in the future.
    for value, message in (("2027-02-29 10:00:00+00", "is not a date and time"), ("2099-01-01 00:00:00+00", "is in the future")):
        run = run_playbook("restore.yml", "-e", json.dumps({"pgbackrest_restore_target_time": value}))
        assert_refused(run, message)
    assert not host.package("postgresql").is_installed and not host.package("pgbackrest").is_installed


def test_restore_brings_back_exactly_the_rows_before_the_time(host, db, target_time):
    run = run_playbook("restore.yml", "-e", json.dumps({"pgbackrest_restore_target_time": target_time}))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    rows = psql(host, "SELECT count(*), min(id), max(id), count(*) FILTER (WHERE phase = 'before') FROM pitr")
    assert rows.stdout.strip() == "100|1|100|100", (rows.stdout, rows.stderr)
    # The original keeps its later rows; the copy is a primary that does not archive.
    assert psql(db, "SELECT count(*) FROM pitr").stdout.strip() == "150"
    assert psql(host, "SELECT pg_is_in_recovery()", "postgres").stdout.strip() == "f"
    assert psql(host, "SHOW archive_mode", "postgres").stdout.strip() == "off"
    assert psql(host, "INSERT INTO pitr VALUES (1000, 'written on the copy')").rc == 0
    # The application's role came back with the data, owner of its database.
    owner = psql(host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'web2py'", "postgres")
    assert owner.stdout.strip() == "web2py"


def test_a_second_restore_onto_a_used_cluster_is_refused(host, target_time):
    run = run_playbook("restore.yml", "-e", json.dumps({"pgbackrest_restore_target_time": target_time}))
    assert_refused(run, "the cluster holds tables")
    assert "web2py (" in run.stdout + run.stderr
    assert psql(host, "SELECT count(*) FROM pitr").stdout.strip() == "101"
    # A time before the first backup, overwrite or not: the role's own checks (the playbook's
    # checks before any install skipped) refuse it right before PostgreSQL would stop, the
    # stanza read through this host's pgBackRest.
    run = run_playbook("restore.yml", "--skip-tags", "pgbackrest_restore_precheck", "-e",
                       json.dumps({"pgbackrest_restore_target_time": "2001-01-01 00:00:00+00", "pgbackrest_restore_overwrite": True}))
    assert_refused(run, "is before the end of the first backup")
    output = run.stdout + run.stderr
    assert "PLAY [Install pgBackRest" in output, output[-3000:]
    assert output.index("PLAY [Install pgBackRest") < output.index("is before the end of the first backup")
    assert psql(host, "SELECT count(*) FROM pitr").stdout.strip() == "101"  # (PostgreSQL answers, the rows as they were)
    run = run_playbook("restore.yml", "-e", json.dumps({"pgbackrest_restore_target_time": target_time,
                                                        "pgbackrest_restore_overwrite": True}))
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert psql(host, "SELECT count(*) FROM pitr").stdout.strip() == "100"
