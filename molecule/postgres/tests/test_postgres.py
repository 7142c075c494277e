"""Scenario postgres: PostgreSQL as web2py's database, checked through real connections.

These tests run on the primary (the container that also runs the probe application); the
replica's tests are in test_replica.py.
"""
from __future__ import annotations

import ipaddress
import json
import os
import shlex

import pytest
from conftest import (
    Client,
    assert_rotation_preview_hides_secrets,
    pg_startup,
    pg_version,
    processes,
    psql_admin,
    recap_changed,
    run_playbook,
    secret_values,
    write_pgpass,
)

testinfra_hosts = [f"ansible://{os.environ.get('MOLECULE_INSTANCE', 'instance')}"]

BACKUPS = "/var/backups/postgresql"
PGPASS = "/tmp/test-postgres.pgpass"


def conf_file(host) -> str:
    return f"/etc/postgresql/{pg_version(host)}/main/conf.d/web2py-deploy.conf"


def hba_file(host) -> str:
    return f"/etc/postgresql/{pg_version(host)}/main/pg_hba.conf"


def psql_app(host, sql: str, address: str = "127.0.0.1", user: str = "web2py"):
    """psql as the application user over TCP; the password comes from a 0600 pgpass file."""
    return host.run(
        f"PGPASSFILE={PGPASS} psql -w -XAtq -h {address} -U {user} -d web2py -c {shlex.quote(sql)}"
    )


def test_check_mode_previews_a_password_rotation_alone_and_hides_secrets(lab_vars):
    """First, on the state converge left, one --check --diff -v run with new database and
    replication passwords (the roles, the replica's passfile, the probe's appconfig.ini on the
    primary) previews the changes and shows no password, old or new; no other task reports a change
    (check mode on the converged host changes nothing else) and no secret of the scenario shows."""
    rotation = {"postgres_db_password": "rotated-Pg-Passw0rd-6b0c", "postgres_replication_password": "rotated-Repl-Passw0rd-d43a"}
    assert_rotation_preview_hides_secrets(
        rotation, secret_values(lab_vars) + (lab_vars["postgres_db_password"], lab_vars["postgres_replication_password"], *rotation.values()),
        tasks=("Create the application role", "Create the replication role", "Write the replication passfile",
               "Render private/appconfig.ini"))


@pytest.fixture(scope="module")
def password(host):
    secret = host.ansible.get_variables()["postgres_db_password"]
    write_pgpass(host, PGPASS, "web2py", secret)
    return secret


def test_service_running_and_enabled(host):
    for name in (f"postgresql@{pg_version(host)}-main", "postgresql"):
        svc = host.service(name)
        assert svc.is_running and svc.is_enabled
    timer = host.service("postgres-backup.timer")
    assert timer.is_running and timer.is_enabled


def test_listens_on_loopback_and_the_private_address_only(host):
    local = {line.split()[3] for line in host.run("ss -Hltn").stdout.splitlines()}
    local = {address.rsplit(":", 1)[0].strip("[]") for address in local if address.endswith(":5432")}
    private = host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"]["address"]
    # The scenario adds the private network address (the replica streams from it); by default
    # the role listens on loopback only.
    # (::1 only where the container has IPv6: Docker turns it off on networks without IPv6.)
    assert {"127.0.0.1", private} <= local <= {"127.0.0.1", "::1", private}, local
    assert all(ipaddress.ip_address(a).is_loopback or ipaddress.ip_address(a).is_private for a in local)


def test_default_listen_addresses_are_loopback():
    defaults = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "roles/postgres/defaults/main.yml")
    with open(defaults, encoding="utf-8") as handle:
        text = handle.read()
    assert 'postgres_listen_addresses:\n  - 127.0.0.1\n  - "::1"\n' in text


def test_logs_in_the_journal(host):
    out = host.run("journalctl -t postgres --no-pager -o cat")
    assert "database system is ready to accept connections" in out.stdout


def test_app_user_connects_with_its_password(host, password):
    out = psql_app(host, "SELECT current_user || ' ' || current_database()")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == "web2py web2py"


def test_wrong_password_refused(host):
    out = host.run("PGPASSWORD=not-the-password psql -w -XAtq -h 127.0.0.1 -U web2py -d web2py -c 'SELECT 1'")
    assert out.rc != 0
    assert 'password authentication failed for user "web2py"' in out.stderr


def test_address_not_in_pg_hba_refused(host):
    refused = pg_startup(host, "127.0.0.1", source="127.0.0.2")
    assert refused.startswith("E ")
    assert 'no pg_hba.conf entry for host "127.0.0.2", user "web2py", database "web2py"' in refused
    # Control: the same client from 127.0.0.1 is asked for SCRAM-SHA-256 (R, SASL).
    allowed = pg_startup(host, "127.0.0.1", source="127.0.0.1")
    assert allowed.startswith("R ") and "SCRAM-SHA-256" in allowed, allowed


def test_superuser_not_reachable_over_tcp(host):
    out = host.run("PGPASSWORD=x psql -w -XAtq -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1'")
    assert out.rc != 0
    assert 'no pg_hba.conf entry for host "127.0.0.1", user "postgres"' in out.stderr


def test_no_trust_in_pg_hba(host):
    hba = host.file(hba_file(host))
    assert hba.user == "postgres" and hba.mode == 0o640
    for line in hba.content_string.splitlines():
        assert "trust" not in line.split("#", 1)[0].split(), line
    methods = psql_admin(host, "SELECT DISTINCT auth_method FROM pg_hba_file_rules ORDER BY 1").stdout.split()
    assert methods == ["peer", "scram-sha-256"]
    replication = psql_admin(
        host, "SELECT user_name[1], auth_method FROM pg_hba_file_rules WHERE 'replication' = ANY(database)"
    ).stdout.split()
    assert replication == ["replicator|scram-sha-256"]
    assert psql_admin(host, "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL").stdout.strip() == "0"


def test_database_utf8_owned_by_app_user(host):
    out = psql_admin(
        host,
        "SELECT pg_encoding_to_char(encoding), pg_get_userbyid(datdba), datcollate "
        "FROM pg_database WHERE datname = 'web2py'",
    )
    assert out.stdout.strip() == "UTF8|web2py|C.UTF-8"


def test_settings_and_scram_hash(host):
    def show(name):
        return psql_admin(host, f"SHOW {name}").stdout.strip()

    assert show("autovacuum") == "on"
    assert show("track_counts") == "on"
    assert show("password_encryption") == "scram-sha-256"
    assert show("shared_buffers") == "64MB"  # the scenario's value, through conf.d
    stored = psql_admin(host, "SELECT rolpassword FROM pg_authid WHERE rolname = 'web2py'").stdout
    assert stored.startswith("SCRAM-SHA-256$")


def test_probe_rows_go_to_postgresql(host):
    client = Client(host, "http://127.0.0.1:8000", "/tmp/jar-postgres")
    data = client.get("/probe/default/dbrw").json()
    assert data["wrote"] == data["read"] and data["engine"] == "postgres", data
    found = psql_admin(host, f"SELECT served_by FROM probe_row WHERE probe_token = '{data['wrote']}'")
    assert found.rc == 0 and found.stdout.strip() == host.run("hostname").stdout.strip()


def test_sessions_in_postgresql(host):
    client = Client(host, "http://127.0.0.1:8000", "/tmp/jar-postgres-session")
    assert client.get("/probe/default/counter").json() == {"counter": 1}
    assert client.get("/probe/default/counter").json() == {"counter": 2}
    cookie = host.run("grep session_id_probe /tmp/jar-postgres-session").stdout.split()[-1]
    record_id = cookie.split(":")[0]
    stored = psql_admin(host, f"SELECT session_data IS NOT NULL FROM web2py_session_probe WHERE id = {int(record_id)}")
    assert stored.stdout.strip() == "t", stored.stdout + stored.stderr
    assert not host.run("ls -A /srv/web2py/web2py/applications/probe/sessions").stdout.strip()


def test_backup_and_restore(host, password):
    setup = psql_app(
        host,
        "DROP TABLE IF EXISTS backup_check; CREATE TABLE backup_check (id int, token text); "
        "INSERT INTO backup_check SELECT i, md5(i::text) FROM generate_series(1, 50) i",
    )
    assert setup.rc == 0, setup.stderr
    old, recent = f"{BACKUPS}/web2py-20000101T000000Z.dump", f"{BACKUPS}/web2py-recent.dump"
    host.run(f"runuser -u postgres -- touch -d '10 days ago' {old}")
    host.run(f"runuser -u postgres -- touch -d '3 days ago' {recent}")
    before = set(host.run(f"ls {BACKUPS}").stdout.split())

    start = host.run("systemctl start postgres-backup.service")
    assert start.rc == 0, host.run("journalctl -u postgres-backup --no-pager -n 20").stdout
    after = set(host.run(f"ls {BACKUPS}").stdout.split())
    new = sorted(after - before)
    assert len(new) == 1 and new[0].startswith("web2py-") and new[0].endswith(".dump"), new
    assert not host.file(old).exists  # older than postgres_backup_retention_days (7)
    assert host.file(recent).exists
    directory, dump = host.file(BACKUPS), host.file(f"{BACKUPS}/{new[0]}")
    assert directory.user == "postgres" and directory.mode == 0o700
    assert dump.user == "postgres" and dump.mode == 0o600

    # The restore path of the README, into a fresh database.
    psql_admin(host, "DROP DATABASE IF EXISTS web2py_restored", db="postgres")
    restore = host.run(
        "runuser -u postgres -- createdb -T template0 -E UTF8 -O web2py web2py_restored && "
        f"runuser -u postgres -- pg_restore --exit-on-error -d web2py_restored {BACKUPS}/{new[0]}"
    )
    assert restore.rc == 0, restore.stderr
    query = "SELECT count(*), md5(string_agg(token, ',' ORDER BY id)) FROM backup_check"
    original = psql_admin(host, query).stdout.strip()
    assert original.startswith("50|")
    assert psql_admin(host, query, db="web2py_restored").stdout.strip() == original
    owner = psql_admin(host, "SELECT tableowner FROM pg_tables WHERE tablename = 'backup_check'", db="web2py_restored")
    assert owner.stdout.strip() == "web2py"
    psql_admin(host, "DROP DATABASE web2py_restored", db="postgres")
    host.run(f"rm -f {recent}")


def test_bad_value_fails_before_install(host, password):
    before = host.file(conf_file(host)).sha256sum
    started = psql_admin(host, "SELECT pg_postmaster_start_time()").stdout
    run = run_playbook("bad-config.yml")
    output = (run.stdout + run.stderr).replace('\\"', '"')  # -v prints the result as JSON
    assert run.returncode != 0
    assert "failed to validate" in output
    assert 'invalid value for parameter "work_mem": "lots"' in output
    # The run went through the task that sets the password: -v output must not show it.
    assert "Create the application role (scram-sha-256 password) web2py" in output
    assert password not in output
    assert host.file(conf_file(host)).sha256sum == before
    assert "lots" not in host.file(conf_file(host)).content_string
    assert psql_admin(host, "SHOW work_mem").stdout.strip() == "4MB"
    assert psql_admin(host, "SELECT pg_postmaster_start_time()").stdout == started
    assert psql_app(host, "SELECT 1").stdout.strip() == "1"


def test_password_never_in_process_list(host, password):
    for _user, args in processes(host):
        assert password not in args


def test_reload_only_change_reloads_restart_only_change_restarts(host, password):
    def start_time():
        return psql_admin(host, "SELECT pg_postmaster_start_time()").stdout.strip()

    first = start_time()
    try:
        run = run_playbook("reconfigure.yml", "-e", json.dumps({"postgres_work_mem": "8MB"}))
        assert run.returncode == 0, run.stdout[-3000:]
        assert password not in run.stdout + run.stderr
        assert psql_admin(host, "SHOW work_mem").stdout.strip() == "8MB"
        assert start_time() == first  # reloaded, not restarted

        run = run_playbook("reconfigure.yml", "-e", json.dumps({"postgres_max_connections": 90}))
        assert run.returncode == 0, run.stdout[-3000:]
        assert psql_admin(host, "SHOW max_connections").stdout.strip() == "90"
        assert start_time() != first  # max_connections needs a restart
    finally:
        run = run_playbook("reconfigure.yml")
        assert run.returncode == 0, run.stdout[-3000:]
    assert psql_admin(host, "SHOW max_connections").stdout.strip() == "100"
    assert psql_admin(host, "SHOW work_mem").stdout.strip() == "4MB"


def test_hand_changes_are_put_back(host, password):
    """What the fast paths read must still be put back: the role made SUPERUSER with another
    password, PUBLIC allowed to connect, the database given to postgres, the configuration file
    edited, the backup folder opened and its timer stopped. The next run of the role puts each
    back; the run after changes nothing."""
    conf = conf_file(host)
    conf_sum = host.file(conf).sha256sum
    for sql in ("ALTER ROLE web2py SUPERUSER PASSWORD 'set-by-hand'", "GRANT CONNECT ON DATABASE web2py TO PUBLIC",
                "ALTER DATABASE web2py OWNER TO postgres"):
        out = psql_admin(host, sql, db="postgres")
        assert out.rc == 0, (sql, out.stderr)
    for command in (f"echo 'work_mem = 64MB' >> {conf}", f"chmod 0755 {BACKUPS}", "systemctl disable --now postgres-backup.timer"):
        assert host.run(command).rc == 0, command
    assert psql_app(host, "SELECT 1").rc != 0  # the inventory's password no longer works
    run = run_playbook("reconfigure.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    assert password not in run.stdout + run.stderr and "set-by-hand" not in run.stdout + run.stderr
    assert psql_app(host, "SELECT current_user").stdout.strip() == "web2py"
    assert psql_admin(host, "SELECT rolsuper FROM pg_roles WHERE rolname = 'web2py'").stdout.strip() == "f"
    assert psql_admin(host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'web2py'").stdout.strip() == "web2py"
    acl = psql_admin(host, "SELECT datacl FROM pg_database WHERE datname = 'web2py'").stdout.strip()
    public = [entry.split("=", 1)[1].split("/")[0] for entry in acl.strip("{}").split(",") if entry.startswith("=")]
    assert not any("c" in privileges for privileges in public), acl  # PUBLIC may not connect
    assert host.file(conf).sha256sum == conf_sum and psql_admin(host, "SHOW work_mem").stdout.strip() == "4MB"
    assert host.file(BACKUPS).mode == 0o700
    timer = host.service("postgres-backup.timer")
    assert timer.is_running and timer.is_enabled
    run = run_playbook("reconfigure.yml")
    changed = recap_changed(run.stdout)
    assert run.returncode == 0 and changed and not any(changed.values()), run.stdout[-3000:]


def test_backup_folder_swapped_for_a_link_by_postgres_is_refused(host):
    """postgres_backup_dir below postgres's own home: the postgres user can replace the folder by
    a link. Root used to follow it (file, state=directory) and made the target postgres's, 0700
    (/root given to postgres). The folder is now created by postgres there, and a link is refused,
    naming the variable; the target keeps its owner and mode."""
    folder, target = "/var/lib/postgresql/test-backups", "/root/test-backup-target"
    settings = json.dumps({"postgres_backup_dir": folder})
    try:
        run = run_playbook("reconfigure.yml", "-e", settings)
        assert run.returncode == 0, run.stdout[-3000:]
        assert host.check_output(f"stat -c '%U %a' {folder}") == "postgres 700"

        assert host.run(f"mkdir -m 0750 {target}").rc == 0
        assert host.run(f"runuser -u postgres -- sh -c 'rmdir {folder} && ln -s {target} {folder}'").rc == 0
        run = run_playbook("reconfigure.yml", "-e", settings)
        assert run.returncode != 0
        assert f"postgres_backup_dir ({folder}): {folder} is a link or not a folder" in run.stdout + run.stderr
        assert host.check_output(f"stat -c '%U:%G %a' {target} /root") == "root:root 750\nroot:root 700"
    finally:
        host.run(f"rm -f {folder}; rmdir {folder} {target}")
        run = run_playbook("reconfigure.yml")
        assert run.returncode == 0, run.stdout[-3000:]
