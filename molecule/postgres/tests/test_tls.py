"""Scenario postgres: TLS on the links that cross the network (postgres_tls, web2py.deploy.pki).

These tests run on the primary, which is an application host of the replica (its probe reads
there) and the replica's replication source.
"""
from __future__ import annotations

import os
import shlex

import pytest
from conftest import PKI_CA, assert_pki_files, assert_tls_1_2_and_1_3_only, node, other_ca, private_address, write_pgpass
from test_postgres import psql_admin

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
testinfra_hosts = [f"ansible://{INSTANCE}"]
PGPASS = "/tmp/test-tls.pgpass"
# What the server reports of this very connection.
WHICH = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture(scope="module")
def replica():
    return node(f"{INSTANCE}-replica")


@pytest.fixture(scope="module")
def connect(host):
    write_pgpass(host, PGPASS, "web2py", host.ansible.get_variables()["postgres_db_password"])

    def run(conninfo: str):
        return host.run(f"PGPASSFILE={PGPASS} psql -w -XAtq {shlex.quote(conninfo)} -c {shlex.quote(WHICH)}")

    return run


def test_app_connection_is_tls_with_the_server_verified(connect):
    out = connect(f"host={INSTANCE}-replica user=web2py dbname=web2py sslmode=verify-full sslrootcert={PKI_CA}")
    assert out.rc == 0, out.stderr
    ssl, version = out.stdout.strip().split("|")
    assert ssl == "t" and version in ("TLSv1.2", "TLSv1.3"), out.stdout


def test_plaintext_connection_refused(connect, replica):
    out = connect(f"host={INSTANCE}-replica user=web2py dbname=web2py sslmode=disable")
    assert out.rc != 0
    assert "no pg_hba.conf entry" in out.stderr and "no encryption" in out.stderr, out.stderr


def test_client_trusting_another_ca_refuses_the_server(host, connect):
    out = connect(f"host={INSTANCE}-replica user=web2py dbname=web2py sslmode=verify-full sslrootcert={other_ca(host)}")
    assert out.rc != 0
    assert "certificate verify failed" in out.stderr, out.stderr


def test_client_refuses_a_name_the_certificate_does_not_hold(connect, replica):
    address = private_address(replica)
    out = connect(f"host=not-the-replica.example hostaddr={address} user=web2py dbname=web2py "
                  f"sslmode=verify-full sslrootcert={PKI_CA}")
    assert out.rc != 0
    assert 'does not match host name "not-the-replica.example"' in out.stderr, out.stderr


def test_tls_1_2_and_1_3_only(host):
    assert_tls_1_2_and_1_3_only(host, f"-connect {INSTANCE}-replica:5432", "-starttls postgres",
                                f"-verify_hostname {INSTANCE}-replica")


def test_replica_streams_over_tls_verifying_the_primary(host, replica):
    streams = psql_admin(host, "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)", db="postgres")
    assert streams.stdout.strip() == "t", streams.stdout + streams.stderr
    conninfo = psql_admin(replica, "SHOW primary_conninfo", db="postgres").stdout
    assert f"sslmode=verify-full sslrootcert={PKI_CA}" in conninfo


def test_keys_made_on_the_hosts_certificates_signed_by_the_ca(host, replica):
    for server in (host, replica):
        assert_pki_files(server, "postgres", "postgres")
    # Loopback needs no TLS (host lines); every other source needs it (hostssl).
    hba = psql_admin(host, "SELECT type, address FROM pg_hba_file_rules WHERE type LIKE 'host%'", db="postgres").stdout
    for line in hba.splitlines():
        kind, address = line.split("|")
        assert kind == ("host" if address in ("127.0.0.1", "::1") else "hostssl"), hba
