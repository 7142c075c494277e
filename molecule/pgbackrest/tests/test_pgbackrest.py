"""Scenario pgbackrest: WAL archiving and encrypted backups on a repository host, over SSH.

Runs on the repository host (backup); the database host (db) is reached with node(). The
restore onto a fresh host is in test_restore.py (after these: pytest takes the files in order).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time

import pytest
from conftest import node, psql_admin as psql, recap_changed, run_playbook, secret_forms

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
DB = f"{INSTANCE}-db"
BACKUP = f"{INSTANCE}-backup"
testinfra_hosts = [f"ansible://{BACKUP}"]
CONF = "/etc/pgbackrest/pgbackrest.conf"
REPO = "/var/lib/pgbackrest"
NEW_PASS = "a-new-passphrase-Qx7-of-34-characters"
ARCHIVE_COMMAND = "pgbackrest --stanza=web2py archive-push %p"


@pytest.fixture(scope="module")
def db():
    return node(DB)


@pytest.fixture(scope="module")
def cipher_pass(host) -> str:
    return host.ansible.get_variables()["pgbackrest_cipher_pass"]


def info(host) -> dict:
    out = host.run("runuser -u pgbackrest -- pgbackrest --stanza=web2py info --output=json")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)[0]


def archived(db_host) -> tuple[int, int, str]:
    """pg_stat_archiver's archived and failed counts and the last archived segment."""
    row = psql(db_host, "SELECT archived_count, failed_count, coalesce(last_archived_wal, '') FROM pg_stat_archiver",
               "postgres").stdout.strip().split("|")
    return int(row[0]), int(row[1]), row[2]


def switch_and_wait_archived(db_host, timeout: int = 120) -> str:
    """Closes the current WAL segment and waits (bounded) until PostgreSQL archived it."""
    segment = psql(db_host, "SELECT pg_walfile_name(pg_switch_wal())", "postgres").stdout.strip()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if archived(db_host)[2] >= segment:
            return segment
        # A failed attempt makes the archiver wait a minute: a new segment wakes it.
        psql(db_host, "SELECT pg_switch_wal()", "postgres")
        time.sleep(2)
    raise AssertionError(f"segment {segment} not archived in {timeout} s: {archived(db_host)}")


def test_postgres_archives_to_the_stanza(db):
    assert psql(db, "SHOW archive_mode", "postgres").stdout.strip() == "on"
    assert psql(db, "SHOW archive_command", "postgres").stdout.strip() == ARCHIVE_COMMAND
    switch_and_wait_archived(db)


def test_repository_holds_a_full_backup_and_the_timers_run(host):
    stanza = info(host)
    assert stanza["status"]["code"] == 0, stanza["status"]
    assert stanza["cipher"] == "aes-256-cbc"
    assert [b["type"] for b in stanza["backup"]][:1] == ["full"]
    for timer in ("pgbackrest-full.timer", "pgbackrest-diff.timer"):
        assert host.service(timer).is_enabled and host.service(timer).is_running, timer
    unit = host.run("systemctl show -p User -p ExecStart pgbackrest-backup@diff.service").stdout
    assert "User=pgbackrest" in unit, unit
    # The differential backup the timer would start, started by hand.
    out = host.run("systemctl start pgbackrest-backup@diff.service")
    assert out.rc == 0, host.run("journalctl -u pgbackrest-backup@diff.service --no-pager -n 30").stdout
    assert "diff" in [b["type"] for b in info(host)["backup"]]


def test_passphrase_reaches_the_repository_host_only_as_written(host, db, cipher_pass):
    conf = host.file(CONF)
    assert (conf.user, conf.group, conf.mode) == ("root", "pgbackrest", 0o640)
    lines = conf.content_string.splitlines()
    assert f"repo1-cipher-pass={cipher_pass}" in lines
    assert "repo1-cipher-type=aes-256-cbc" in lines
    db_conf = db.file(CONF)
    assert (db_conf.user, db_conf.group, db_conf.mode) == ("root", "postgres", 0o640)
    assert "cipher" not in db_conf.content_string
    # Nobody but root and pgbackrest reads the repository host's file.
    assert host.run(f"runuser -u nobody -- cat {CONF}").rc != 0


def test_every_file_in_the_repository_is_encrypted(host, db):
    marker = "web2py-deploy-plaintext-marker-4a1f"
    assert psql(db, f"CREATE TABLE IF NOT EXISTS marker (note text); INSERT INTO marker VALUES ('{marker}')").rc == 0
    switch_and_wait_archived(db)
    assert host.run("systemctl start pgbackrest-backup@diff.service").rc == 0
    # One line per file: OpenSSL's header "Salted__" (8 bytes) or the file's path.
    out = host.run(f"find {REPO}/archive {REPO}/backup -type f -size +0 -exec sh -c "
                   "'for f; do if [ \"$(head -c 8 \"$f\")\" = Salted__ ]; then echo encrypted; else echo \"$f\"; fi; done' "
                   "sh {} +")
    assert out.rc == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) > 10, lines
    clear = [line for line in lines if line != "encrypted"]
    assert not clear, clear[:10]
    assert host.run(f"grep -rl {marker} {REPO}").rc == 1


GUARD = "/usr/local/libexec/web2py-deploy/pgbackrest-ssh-guard"
SSH = "/usr/local/libexec/web2py-deploy/pgbackrest-ssh"


def test_ssh_keys_run_pgbackrest_remote_calls_and_nothing_else(host, db, cipher_pass):
    for side, user, home, kind in ((host, "pgbackrest", "/var/lib/pgbackrest", "repo"),
                                   (db, "postgres", "/var/lib/postgresql", "pg")):
        # Root's, outside the home (pgBackRest's remote protocol can write the user's files).
        keys = side.file(f"/etc/ssh/web2py-deploy/{user}.keys")
        assert (keys.user, keys.group, keys.mode) == ("root", "root", 0o644)
        entries = [line for line in keys.content_string.splitlines() if line and not line.startswith("#")]
        assert entries, keys.content_string
        for line in entries:
            assert line.startswith(f'restrict,command="{GUARD} {kind} web2py /var/lib/postgresql/'), line
        assert side.file(f"{home}/.ssh/id_ed25519").mode == 0o600
        guard = side.file(GUARD)
        assert (guard.user, guard.group, guard.mode) == ("root", "root", 0o755)
    to_repo = f"runuser -u postgres -- {SSH} pgbackrest@{BACKUP}"
    to_db = f"runuser -u pgbackrest -- {SSH} postgres@{DB}"
    refused = [
        (db, to_repo, "id"),
        (db, to_repo, "x; touch /tmp/pwned"),
        (db, to_repo, "x $(touch /tmp/pwned)"),
        (db, to_repo, "x `touch /tmp/pwned`"),
        # Found by review: any pgBackRest command and option went through before the guard.
        (db, to_repo, "pgbackrest --repo1-path=/ --repo1-cipher-type=none repo-get /etc/pgbackrest/pgbackrest.conf"),
        (db, to_repo, "pgbackrest --repo1-path=/etc repo-ls"),
        (db, to_repo, "pgbackrest --stanza=web2py --force stanza-delete"),
        (db, to_repo, "pgbackrest --stanza=web2py stop"),
        (db, to_repo, "pgbackrest --stanza=web2py --remote-type=repo --repo1-path=/ --process=0 archive-get:remote"),
        (db, to_repo, "pgbackrest --stanza=web2py --remote-type=repo --cmd-ssh=/bin/sh --process=0 info:remote"),
        (db, to_repo, "pgbackrest --stanza=other --remote-type=repo --process=0 info:remote"),
        (db, to_repo, "pgbackrest --stanza=web2py --remote-type=pg --process=0 backup:remote"),
        (db, to_repo, "pgbackrest --stanza=web2py --remote-type=repo --lock=../../x.lock --process=0 info:remote"),
        (host, to_db, "pgbackrest --reset-repo1-host --repo1-path=/ --repo1-cipher-type=none repo-get /etc/shadow"),
        (host, to_db, "pgbackrest --stanza=web2py --remote-type=pg --pg1-path=/etc --process=0 backup:remote"),
        (host, to_db, "pgbackrest --stanza=web2py --remote-type=repo --process=0 archive-get:remote"),
    ]
    for side, ssh, command in refused:
        out = side.run(f"{ssh} {shlex.quote(command)}")
        assert out.rc != 0 and "pgbackrest-ssh-guard: refused" in out.stderr, (command, out.stdout, out.stderr)
        assert cipher_pass not in out.stdout and "uid=" not in out.stdout
    assert not host.file("/tmp/pwned").exists and not db.file("/tmp/pwned").exists
    assert "pgbackrest-ssh-guard" in host.run("journalctl -t pgbackrest-ssh-guard --no-pager -n 5").stdout
    # A shell is refused too (no pty, the forced command runs).
    out = db.run(f"{to_repo} -tt sh -c id")
    assert "uid=" not in out.stdout
    # Found by review: the remote protocol writes any file of the account, so a peer could put
    # an unrestricted key in ~/.ssh/authorized_keys(2) or a ProxyCommand in ~/.ssh/config. sshd
    # reads root's keys file for these users, and pgBackRest's ssh reads root's settings only.
    db_key = db.check_output("cat /var/lib/postgresql/.ssh/id_ed25519.pub")
    for name in ("authorized_keys", "authorized_keys2"):
        plant = f"echo {shlex.quote(db_key)} > ~/.ssh/{name}"
        assert host.run(f"runuser -u pgbackrest -- sh -c {shlex.quote(plant)}").rc == 0
    planted = "Host *\n    ProxyCommand sh -c 'touch /tmp/proxied; nc %h %p'\n"
    plant = f"printf %s {shlex.quote(planted)} > ~/.ssh/config"
    assert db.run(f"runuser -u postgres -- sh -c {shlex.quote(plant)}").rc == 0
    try:
        out = db.run(f"runuser -u postgres -- ssh -F /etc/pgbackrest/ssh_config pgbackrest@{BACKUP} id")
        assert "uid=" not in out.stdout and "pgbackrest-ssh-guard: refused" in out.stderr, (out.stdout, out.stderr)
        assert db.run("runuser -u postgres -- pgbackrest --stanza=web2py check").rc == 0
        assert not db.file("/tmp/proxied").exists
    finally:
        host.run("rm -f /var/lib/pgbackrest/.ssh/authorized_keys /var/lib/pgbackrest/.ssh/authorized_keys2")
        db.run("rm -f /var/lib/postgresql/.ssh/config")
    # A host key other than the pinned one is refused.
    saved = "/root/known_hosts.saved"
    assert db.run(f"cp -p /etc/pgbackrest/known_hosts {saved}").rc == 0
    other_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0m8c4y5qg7mVvO4c9TNk0bVEq6tKh1Z5iU3Kx0c3Y7"
    db.run(f"echo '{BACKUP} {other_key}' > /etc/pgbackrest/known_hosts")
    try:
        out = db.run(f"{to_repo} info")
        assert out.rc != 0 and "HOST IDENTIFICATION HAS CHANGED" in out.stderr, out.stderr
    finally:
        assert db.run(f"mv {saved} /etc/pgbackrest/known_hosts").rc == 0


def test_database_keeps_working_while_the_repository_is_down_and_catches_up(host, db):
    """The repository's container stopped (gone from the network and its DNS), then started."""
    before = archived(db)
    subprocess.run(["docker", "stop", BACKUP], check=True, capture_output=True, timeout=120)
    try:
        psql(db, "DROP TABLE IF EXISTS outage; CREATE TABLE outage (id int, at timestamptz DEFAULT now())")
        for i in range(5):
            started = time.time()
            out = psql(db, f"INSERT INTO outage (id) VALUES ({i}); SELECT pg_switch_wal();")
            assert out.rc == 0, out.stderr
            assert time.time() - started < 10
        deadline = time.time() + 90
        while archived(db)[1] == before[1] and time.time() < deadline:
            time.sleep(2)
        assert archived(db)[1] > before[1], "no failed archive attempt while the repository was down"
        assert psql(db, "SELECT count(*) FROM outage").stdout.strip() == "5"
    finally:
        subprocess.run(["docker", "start", BACKUP], check=True, capture_output=True, timeout=120)
    # Back after a boot: sshd, the lock folder (tmpfiles.d) and the timers come up by themselves.
    deadline = time.time() + 90
    while host.run("systemctl is-active ssh.service").stdout.strip() != "active" and time.time() < deadline:
        time.sleep(1)
    assert host.file("/run/pgbackrest").is_directory
    assert host.file("/run/pgbackrest").user == "pgbackrest"
    assert host.service("pgbackrest-full.timer").is_running
    switch_and_wait_archived(db, timeout=180)
    out = db.run("runuser -u postgres -- pgbackrest --stanza=web2py check")
    assert out.rc == 0, out.stderr
    assert psql(db, "SELECT count(*) FROM outage").stdout.strip() == "5"


def test_a_new_passphrase_is_refused_before_any_change(host):
    before = host.file(CONF).sha256sum
    run = run_playbook("converge.yml", "-e", json.dumps({"pgbackrest_cipher_pass": NEW_PASS}))
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "pgbackrest_cipher_pass does not open stanza web2py" in output, output[-3000:]
    assert NEW_PASS not in output
    assert host.file(CONF).sha256sum == before


# The bad values of the role's settings (refused before any change, naming the variable) are
# cases of the preflight scenario's matrix, all in one run there (molecule/preflight/cases.yml).


# A stand-in for pgbackrest, first in sudo's secure_path, that writes the command line of its
# caller and every ancestor (one per line) before it runs the real one: the probe that reads the
# stanza with the passphrase is caught every time, however short it runs.
ANCESTRY = "/var/tmp/pgbackrest-ancestry.txt"
SPY = f"""#!/bin/sh
p=$$
while [ "$p" -gt 1 ]; do
  tr '\\0' ' ' < /proc/$p/cmdline; echo
  p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status)
done >> {ANCESTRY}
echo --- >> {ANCESTRY}
exec /usr/bin/pgbackrest "$@"
"""


def test_check_mode_changes_nothing_and_the_passphrase_is_on_no_command_line(host, cipher_pass):
    """A --check --diff -vvv run of the whole converge: no change, and the passphrase is neither
    in its output nor on any process's command line (found by review: a task's environment put
    it on sudo's command line, which -vvv prints and ps shows)."""
    # Every process's command line, one a line, every 50 ms (at most 10 minutes), until the run
    # has ended: what ran beside the probe.
    watcher = ("rm -f /root/stop; for i in $(seq 12000); do [ -e /root/stop ] && break; "
               "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null; sleep 0.05; done > /root/cmdlines.txt")
    assert host.run(f"install -m 0666 /dev/null {ANCESTRY} && printf %s {shlex.quote(SPY)} > /usr/local/bin/pgbackrest"
                    " && chmod 0755 /usr/local/bin/pgbackrest").rc == 0
    # (a transient service: a background process of `docker exec` ends with it)
    assert host.run(f"systemd-run --unit=test-cmdline-watch --collect sh -c {shlex.quote(watcher)}").rc == 0
    try:
        run = run_playbook("converge.yml", "--check", "--diff", "-vvv")
    finally:
        host.run("touch /root/stop; sleep 0.2; rm -f /usr/local/bin/pgbackrest")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    changed = recap_changed(output)
    assert changed and not any(changed.values()), changed
    ancestry = host.file(ANCESTRY).content.decode()
    sampled = host.file("/root/cmdlines.txt").content.decode(errors="replace")
    # The probe's shell (its options on its command line) and the sudo that ran it as the
    # pgBackRest user, the command line the passphrase was once on.
    assert re.search(r"^sh -c .*--repo1-cipher-type=aes-256-cbc", ancestry, re.M), ancestry[-2000:]
    assert re.search(r"^sudo .*-u pgbackrest .*BECOME-SUCCESS", ancestry, re.M), ancestry[-2000:]
    for form in secret_forms(cipher_pass):
        assert form not in output and form not in ancestry and form not in sampled, form
