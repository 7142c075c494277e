"""Scenario postgres: a replica run never destroys a cluster it should not replace.

Runs on the replica, after test_replica.py (pytest takes the files in order): these tests
promote the replica, replace its cluster with a fresh one, break a clone on purpose, and end
with the replica streaming from the primary again (cloned through the staging directory).
"""
from __future__ import annotations

import json
import os
import time

import pytest
from conftest import node, pg_version, recap_changed, run_playbook
from test_postgres import psql_admin
from test_replica import PASSFILE, wait_for_streaming

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
REPLICA = f"{INSTANCE}-replica"
testinfra_hosts = [f"ansible://{REPLICA}"]
SENTINEL = "web2py-deploy-test-sentinel"


@pytest.fixture(scope="module")
def primary():
    return node(INSTANCE)


def data_dir(host) -> str:
    return f"/var/lib/postgresql/{pg_version(host)}/main"


def system_identifier(host) -> str:
    out = host.run(f"runuser -u postgres -- /usr/lib/postgresql/{pg_version(host)}/bin/pg_controldata {data_dir(host)}")
    assert out.rc == 0, out.stderr
    return next(line.split(":", 1)[1].strip() for line in out.stdout.splitlines() if line.startswith("Database system identifier"))


def in_recovery(host) -> str:
    return psql_admin(host, "SELECT pg_is_in_recovery()", db="postgres").stdout.strip()


def replica_run(*extra: dict):
    args = []
    for variables in extra:
        args += ["-e", json.dumps(variables)]
    return run_playbook("replica.yml", *args)


def fresh_cluster(host) -> None:
    """What Debian's package leaves: a new, running cluster that never was a standby."""
    version = pg_version(host)
    assert host.run(f"pg_dropcluster --stop {version} main").rc == 0
    out = host.run(f"pg_createcluster {version} main --start")
    assert out.rc == 0, out.stderr
    out = host.run(f"runuser -u postgres -- sh -c 'echo keep > {data_dir(host)}/{SENTINEL}'")
    assert out.rc == 0, out.stderr


def assert_no_leftovers(host) -> None:
    for suffix in (".web2py-deploy-new", ".web2py-deploy-old"):
        assert not host.file(data_dir(host) + suffix).exists, suffix


def test_promoted_replica_is_refused_and_left_intact(host):
    version = pg_version(host)
    assert in_recovery(host) == "t"
    assert host.run(f"pg_ctlcluster {version} main promote").rc == 0
    for _attempt in range(30):
        if in_recovery(host) == "f":
            break
        time.sleep(1)
    assert in_recovery(host) == "f"
    assert psql_admin(host, "CREATE TABLE written_after_promotion (id int)", db="postgres").rc == 0
    identifier = system_identifier(host)
    for variables in ({}, {"postgres_replica_overwrite": True}):
        run = replica_run(variables)
        output = run.stdout + run.stderr
        assert run.returncode != 0, output[-3000:]
        assert f"{REPLICA}: postgres_replication_role=replica refuses to replace the cluster" in output, output[-3000:]
        assert "(it was promoted)" in output, output[-3000:]
        assert recap_changed(run.stdout).get(REPLICA) == 0, run.stdout[-2000:]
    # Same cluster, still a primary, with what was written after the promotion.
    assert system_identifier(host) == identifier
    assert in_recovery(host) == "f"
    assert psql_admin(host, "SELECT count(*) FROM written_after_promotion", db="postgres").stdout.strip() == "0"
    assert_no_leftovers(host)


def test_failed_basebackup_leaves_the_cluster_intact(host):
    fresh_cluster(host)
    identifier = system_identifier(host)
    # Nothing listens on the primary's port 5439: pg_basebackup fails to connect.
    run = replica_run({"postgres_primary_port": 5439})
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert f"{REPLICA}: cloning {INSTANCE}:5439 failed at \"Copy the primary into the staging directory" in output, output[-3000:]
    assert system_identifier(host) == identifier
    assert host.file(f"{data_dir(host)}/{SENTINEL}").content_string == "keep\n"
    assert in_recovery(host) == "f"
    assert_no_leftovers(host)


def test_planted_link_does_not_redirect_the_passfile(host):
    """The passfile is written as postgres: a link postgres plants there is replaced, and the
    root-owned file it points to stays as it was."""
    target = "/etc/web2py-deploy-test-target"
    assert host.run(f"echo root-only > {target} && chmod 0644 {target}").rc == 0
    assert host.run(f"runuser -u postgres -- ln -sfn {target} {PASSFILE}").rc == 0
    run = replica_run({"postgres_primary_port": 5439})  # fails later, at pg_basebackup
    assert run.returncode != 0
    assert host.file(target).content_string == "root-only\n"
    assert host.file(target).user == "root"
    assert not host.file(PASSFILE).is_symlink
    assert host.file(PASSFILE).user == "postgres" and host.file(PASSFILE).mode == 0o600


@pytest.mark.parametrize("name,target", [
    # A link in place of a file the role writes (Ansible replaces the link, and the checker
    # reads and writes the live pg_hba.conf as postgres).
    ("pg_hba.conf", "/etc/web2py-deploy-test-target"),
    # A link in place of conf.d: a root write would land in the root-owned folder it names.
    ("conf.d", "/etc/web2py-deploy-test-dir"),
])
def test_planted_links_in_the_configuration_do_not_redirect_root_writes(host, name, target):
    """/etc/postgresql/<version>/main belongs to postgres: a link postgres plants there must not
    make root write, even for a moment, to what it points to."""
    live = f"/etc/postgresql/{pg_version(host)}/main/{name}"
    make = f"echo root-only > {target} && chmod 0644 {target}" if name == "pg_hba.conf" else f"mkdir -m 0755 {target}"
    assert host.run(make).rc == 0
    before = host.check_output(f"stat -c '%y %U %a' {target}")
    assert host.run(f"runuser -u postgres -- mv {live} {live}.saved").rc == 0
    try:
        assert host.run(f"runuser -u postgres -- ln -s {target} {live}").rc == 0
        # The run fails (conf.d: postgres cannot write into root's folder; pg_hba.conf: the
        # clone cannot reach port 5439): what matters is the target.
        replica_run({"postgres_primary_port": 5439, "postgres_work_mem": "5MB"})
        assert host.check_output(f"stat -c '%y %U %a' {target}") == before  # not even written back
        if name == "pg_hba.conf":
            assert host.file(target).content_string == "root-only\n"
        else:
            assert host.check_output(f"ls -A {target}") == ""
    finally:
        host.run(f"rm -f {live}")
        assert host.run(f"runuser -u postgres -- mv {live}.saved {live}").rc == 0
        host.run(f"rm -rf {target}")


def test_clone_replaces_a_fresh_cluster_through_staging(host, primary):
    identifier = system_identifier(host)
    run = replica_run()
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert in_recovery(host) == "t"
    assert system_identifier(host) != identifier  # the primary's copy
    assert system_identifier(host) == system_identifier(primary)
    assert not host.file(f"{data_dir(host)}/{SENTINEL}").exists
    assert host.file(f"{data_dir(host)}/standby.signal").user == "postgres"
    assert_no_leftovers(host)
    assert wait_for_streaming(primary) == "streaming"
    again = replica_run()
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap_changed(again.stdout).get(REPLICA) == 0, again.stdout[-3000:]
