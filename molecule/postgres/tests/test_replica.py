"""Scenario postgres: the streaming read replica (hot standby) and the probe reading from it.

These tests run on the replica; `primary` is the container with the primary and the probe.
"""
from __future__ import annotations

import os
import time

import pytest
from conftest import Client, node, pg_startup, pg_version, private_address, processes, write_pgpass
from test_postgres import conf_file, psql_admin

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
testinfra_hosts = [f"ansible://{INSTANCE}-replica"]
PASSFILE = "/var/lib/postgresql/.pgpass-replication"
APP_PGPASS = "/tmp/test-replica.pgpass"


@pytest.fixture(scope="module")
def primary():
    return node(INSTANCE)


@pytest.fixture(scope="module")
def secrets(host):
    variables = host.ansible.get_variables()
    return variables["postgres_db_password"], variables["postgres_replication_password"]


def wait_for_streaming(primary, seconds: int = 30) -> str:
    state = ""
    for _attempt in range(seconds):
        state = psql_admin(primary, "SELECT state FROM pg_stat_replication", db="postgres").stdout.strip()
        if state == "streaming":
            break
        time.sleep(1)
    return state


def test_replica_is_a_streaming_hot_standby(host, primary):
    assert psql_admin(host, "SELECT pg_is_in_recovery()", db="postgres").stdout.strip() == "t"
    assert wait_for_streaming(primary) == "streaming"
    sender = psql_admin(primary, "SELECT usename, client_addr FROM pg_stat_replication", db="postgres")
    assert sender.stdout.strip() == f"replicator|{private_address(host)}"
    # Roles and the database came from the primary.
    owner = psql_admin(host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'web2py'", db="postgres")
    assert owner.stdout.strip() == "web2py"


def test_replication_password_only_in_the_passfile(host, secrets):
    _db_password, replication_password = secrets
    passfile = host.file(PASSFILE)
    assert passfile.user == "postgres" and passfile.mode == 0o600
    # ":" and "\" of the password are escaped as libpq reads a passfile.
    escaped = replication_password.replace("\\", "\\\\").replace(":", "\\:")
    assert passfile.content_string.strip().endswith(f":*:replicator:{escaped}")
    for path in (conf_file(host), f"/var/lib/postgresql/{pg_version(host)}/main/postgresql.auto.conf"):
        text = host.file(path).content_string
        assert replication_password not in text and escaped not in text
    conf = host.file(conf_file(host)).content_string
    assert f"passfile={PASSFILE}" in conf
    for _user, args in processes(host):
        assert replication_password not in args


def test_replica_refuses_writes(host, secrets):
    db_password = secrets[0]
    write_pgpass(host, APP_PGPASS, "web2py", db_password)
    read = host.run(f"PGPASSFILE={APP_PGPASS} psql -w -XAtq -h 127.0.0.1 -U web2py -d web2py -c 'SELECT count(*) > 0 FROM probe_row'")
    assert read.rc == 0 and read.stdout.strip() == "t", read.stderr
    write = host.run(
        f"PGPASSFILE={APP_PGPASS} psql -w -XAtq -h 127.0.0.1 -U web2py -d web2py "
        "-c \"INSERT INTO probe_row (probe_token) VALUES ('x')\""
    )
    assert write.rc != 0
    assert "cannot execute INSERT in a read-only transaction" in write.stderr


def test_primary_refuses_the_app_user_from_the_replica_address(host, primary):
    # The replica's address may replicate but is not an application host of the primary.
    refused = pg_startup(host, INSTANCE)
    assert refused.startswith("E ")
    assert f'no pg_hba.conf entry for host "{private_address(host)}", user "web2py", database "web2py"' in refused


def test_probe_writes_to_the_primary_and_reads_from_the_replica(host, primary):
    client = Client(primary, "http://127.0.0.1:8000", "/tmp/jar-replica")
    wrote = client.get("/probe/default/dbrw").json()
    assert wrote["engine"] == "postgres"
    answer = {}
    for _attempt in range(20):  # replication is asynchronous: the row shows up within moments
        answer = client.get(f"/probe/default/dbread?token={wrote['wrote']}").json()
        if answer["found"]:
            break
        time.sleep(0.5)
    assert answer["found"] and answer["replica"] is True, answer
    assert answer["server"] == private_address(host)


def test_reads_fall_back_to_the_primary_when_the_replica_is_down(host, primary):
    client = Client(primary, "http://127.0.0.1:8000", "/tmp/jar-replica-down")
    token = client.get("/probe/default/dbrw").json()["wrote"]
    unit = f"postgresql@{pg_version(host)}-main"
    assert host.run(f"systemctl stop {unit}").rc == 0
    try:
        answer = client.get(f"/probe/default/dbread?token={token}").json()
        assert answer["found"] and answer["replica"] is False, answer
        assert answer["server"] == "127.0.0.1"
    finally:
        assert host.run(f"systemctl start {unit}").rc == 0
    assert wait_for_streaming(primary) == "streaming"
    answer = client.get(f"/probe/default/dbread?token={token}").json()
    assert answer["replica"] is True, answer
