"""Scenario redis: Redis for web2py sessions and cache, checked with redis-cli inside the container.

Passwords reach redis-cli through REDISCLI_AUTH, never as one of its arguments.
"""
from __future__ import annotations

import hashlib
import shlex
import time

import pytest
from conftest import (PKI_CA, assert_pki_files, assert_rotation_preview_hides_secrets,
                      assert_tls_1_2_and_1_3_only, other_ca, processes, run_playbook, secret_values)

CONF = "/etc/redis/redis.conf"
ACL = "/etc/redis/users.acl"
PORT = 6379
UNIT = "redis-server.service"


def cli(host, *args: str, user: str | None = None, password: str | None = None, tls: str = f"--tls --cacert {PKI_CA}",
        check: bool = True) -> str:
    """One redis-cli command against 127.0.0.1 (over TLS, the server verified with the private
    CA); returns the reply (errors included) as text."""
    env = f"REDISCLI_AUTH={shlex.quote(password)} " if password is not None else ""
    who = f"--user {shlex.quote(user)} " if user is not None else ""
    line = " ".join(shlex.quote(a) for a in args)
    out = host.run(f"{env}timeout 10 redis-cli --no-auth-warning {tls} -h 127.0.0.1 -p {PORT} {who}{line} 2>&1")
    assert out.rc == 0 or not check, (args, out.rc, out.stdout)
    return out.stdout.strip()


def test_check_mode_previews_a_password_rotation_alone_and_hides_secrets(lab_vars):
    """First, on the state converge left, one --check --diff -v run with new app and admin passwords
    previews the change to users.acl (and to the probe's appconfig.ini, which holds the app
    password) and shows neither password, old or new, nor their stored sha256 hashes; no other task
    reports a change (check mode on the converged host changes nothing else) and no secret of the
    scenario shows."""
    rotation = {"redis_app_password": "rotated-Redis-app-9f2c", "redis_admin_password": "rotated-Redis-adm-4b7e"}
    plain = [lab_vars["redis_app_password"], lab_vars["redis_admin_password"], *rotation.values()]
    assert_rotation_preview_hides_secrets(
        rotation, secret_values(lab_vars) + tuple(plain) + tuple(hashlib.sha256(p.encode()).hexdigest() for p in plain),
        tasks=("Write the ACL users", "Render private/appconfig.ini"))


@pytest.fixture
def app(host, lab_vars):
    def run(*args: str) -> str:
        return cli(host, *args, user="web2py", password=lab_vars["redis_app_password"])
    return run


@pytest.fixture
def admin(host, lab_vars):
    def run(*args: str) -> str:
        return cli(host, *args, user="admin", password=lab_vars["redis_admin_password"])
    return run


def secrets(lab_vars) -> list[str]:
    """The lab's passwords and the hashes stored for them."""
    plain = [lab_vars["redis_app_password"], lab_vars["redis_admin_password"]]
    return plain + [hashlib.sha256(p.encode()).hexdigest() for p in plain]


def main_pid(host) -> str:
    return host.run(f"systemctl show -p MainPID --value {UNIT}").stdout.strip()


def wait_answering(host, app) -> None:
    for _i in range(60):
        if host.run(f"systemctl is-active {UNIT}").stdout.strip() == "active" and app("PING") == "PONG":
            return
        time.sleep(0.5)
    pytest.fail("redis did not answer within 30 s")


def redis_listeners(host) -> set[str]:
    """Local addresses of the TCP listeners in redis-server.service's cgroup (ss -e shows it)."""
    found = set()
    for line in host.run("ss -Hltne").stdout.splitlines():
        fields = line.split()
        if any(f.startswith("cgroup:") and f.endswith(f"/{UNIT}") for f in fields):
            found.add(fields[3])
    return found


def test_service_running_and_enabled_as_redis(host):
    svc = host.service("redis-server")
    assert svc.is_running and svc.is_enabled
    assert host.run(f"systemctl show -p Type --value {UNIT}").stdout.strip() == "notify"
    servers = [user for user, args in processes(host) if args.startswith("/usr/bin/redis-server")]
    assert servers == ["redis"]


def test_listens_on_loopback_only(host):
    expected = {f"127.0.0.1:{PORT}"}
    # -::1 is optional: it is bound only when the host has IPv6 loopback.
    if "00000000000000000000000000000001" in host.file("/proc/net/if_inet6").content_string:
        expected.add(f"[::1]:{PORT}")
    assert redis_listeners(host) == expected
    procs = [args for _user, args in processes(host) if args.startswith("/usr/bin/redis-server")]
    assert procs == [f"/usr/bin/redis-server 127.0.0.1:{PORT}"]


def test_unauthenticated_client_refused(host):
    assert cli(host, "PING").startswith("NOAUTH")
    assert cli(host, "SET", "w2p:anon", "1").startswith("NOAUTH")
    # The default user is off: even its (empty) password does not open it.
    assert "WRONGPASS" in cli(host, "AUTH", "default", "")


def test_plaintext_client_gets_no_answer(host, lab_vars):
    answer = cli(host, "PING", user="web2py", password=lab_vars["redis_app_password"], tls="", check=False)
    assert "PONG" not in answer and "NOAUTH" not in answer, answer


def test_client_trusting_another_ca_refuses_the_server(host, lab_vars):
    answer = cli(host, "PING", user="web2py", password=lab_vars["redis_app_password"],
                 tls=f"--tls --cacert {other_ca(host)}", check=False)
    assert "certificate verify failed" in answer and "PONG" not in answer, answer


def test_tls_1_2_and_1_3_only(host):
    assert_tls_1_2_and_1_3_only(host, f"-connect 127.0.0.1:{PORT}")


def test_key_made_on_the_host_certificate_signed_by_the_ca(host):
    assert_pki_files(host, "redis", "redis")


def test_default_user_is_off(admin):
    flags = admin("ACL", "GETUSER", "default").splitlines()
    assert flags[flags.index("flags") + 1] == "off"
    assert "nopass" not in admin("ACL", "LIST")


def test_app_user_sets_gets_and_expires(app):
    assert app("PING") == "PONG"
    assert app("ACL", "WHOAMI") == "web2py"
    assert app("SET", "w2p:cache:labtest:k", "v1", "EX", "120") == "OK"
    assert app("GET", "w2p:cache:labtest:k") == "v1"
    assert app("EXPIRE", "w2p:cache:labtest:k", "90") == "1"
    assert 0 < int(app("TTL", "w2p:cache:labtest:k")) <= 90
    # What web2py's redis_session does: a hash per session, an id index, a serial.
    assert app("HSET", "w2p:sess:labtest:1", "unique_key", "abc", "session_data", "x") == "2"
    assert app("HGET", "w2p:sess:labtest:1", "unique_key") == "abc"
    assert app("SADD", "w2p:sess:labtest:id_idx", "w2p:sess:labtest:1") in ("0", "1")
    assert int(app("INCR", "w2p:sess:labtest:serial")) >= 1
    # web2py's lock release script (EVALSHA/SCRIPT LOAD through redis-py's register_script).
    assert app("SET", "w2p:sess:labtest:1:lock", "me", "EX", "10", "NX") == "OK"
    script = 'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end'
    assert app("EVAL", script, "1", "w2p:sess:labtest:1:lock", "me") == "1"
    assert app("DEL", "w2p:cache:labtest:k", "w2p:sess:labtest:1") == "2"


def test_app_user_limited_to_web2py_keys(app):
    assert app("SET", "other:key", "1").startswith("NOPERM")
    assert app("GET", "other:key").startswith("NOPERM")
    assert app("PUBLISH", "chan", "hello").startswith("NOPERM")


def test_wrong_password_refused(host):
    assert "WRONGPASS" in cli(host, "PING", user="web2py", password="not-the-password")
    assert "WRONGPASS" in cli(host, "PING", user="nosuchuser", password="not-the-password")


@pytest.mark.parametrize("command", [
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("SHUTDOWN", "NOSAVE"),
    ("DEBUG", "SLEEP", "0"),
    ("KEYS", "*"),
    ("ACL", "LIST"),
    ("ACL", "SETUSER", "evil", "on", ">x", "+@all"),
    ("SAVE",),
    ("BGSAVE",),
    ("BGREWRITEAOF",),
    ("REPLICAOF", "NO", "ONE"),
    ("MODULE", "LIST"),
    ("CLIENT", "KILL", "TYPE", "normal"),
    ("INFO",),
])
def test_app_user_refused_dangerous_commands(app, admin, command):
    # Redis 7.0: "This user has no permissions to run ...", 8.0: "User web2py has no permissions ...".
    assert "has no permissions to run" in admin("ACL", "DRYRUN", "web2py", *command), command
    reply = app(*command)
    if command[0] == "DEBUG":  # disabled for every user (enable-debug-command no), checked first
        assert reply.startswith("ERR DEBUG command not allowed"), reply
    else:
        assert reply.startswith("NOPERM"), (command, reply)
    assert app("PING") == "PONG"


def test_config_as_set(admin):
    def get(name: str) -> str:
        reply = admin("CONFIG", "GET", name).split("\n")
        assert reply[0] == name, reply
        return reply[1] if len(reply) > 1 else ""
    assert get("protected-mode") == "yes"
    assert get("maxmemory") == str(64 * 1024 * 1024)
    assert get("maxmemory-policy") == "volatile-lru"
    assert get("appendonly") == "no"  # see the role's README: RDB snapshots instead
    assert get("save") == "300 1 60 100 10 10000"
    assert get("bind") == "127.0.0.1 -::1"
    # TLS only: no plaintext port.
    assert get("port") == "0" and get("tls-port") == str(PORT)
    assert get("tls-protocols") == "TLSv1.2 TLSv1.3" and get("tls-auth-clients") == "no"
    assert get("tls-ca-cert-file") == PKI_CA
    assert get("databases") == "16"
    assert get("aclfile") == ACL
    assert get("logfile") == ""
    assert get("enable-debug-command") == "no"


def test_logs_in_the_journal(host):
    out = host.run(f"journalctl -u {UNIT} --no-pager -o cat").stdout
    assert "Ready to accept connections" in out


def test_config_files_read_only_for_redis(host, admin):
    """CONFIG REWRITE cannot make the live file drift from the managed one (drop-in)."""
    before = (host.file(CONF).sha256sum, host.file(ACL).sha256sum)
    assert "Read-only file system" in admin("CONFIG", "REWRITE")
    assert admin("ACL", "SAVE").startswith("ERR There was an error trying to save the ACLs")
    assert (host.file(CONF).sha256sum, host.file(ACL).sha256sum) == before


def test_key_with_ttl_survives_restart_then_expires(host, app):
    key = f"w2p:sess:labtest:restart-{int(time.time())}"
    assert app("SET", key, "kept", "EX", "20") == "OK"
    pid = main_pid(host)
    assert host.run(f"systemctl restart {UNIT}").rc == 0
    wait_answering(host, app)
    assert main_pid(host) != pid
    assert app("GET", key) == "kept"
    assert 0 < int(app("TTL", key)) <= 20
    for _i in range(40):  # still expires after its TTL (bounded: 40 s)
        if app("EXISTS", key) == "0":
            break
        time.sleep(1)
    assert app("EXISTS", key) == "0"


def test_password_on_no_command_line(host, lab_vars):
    for _user, args in processes(host):
        for secret in secrets(lab_vars):
            assert secret not in args
    unit = host.run(f"systemctl show -p ExecStart --value {UNIT}").stdout
    assert "/etc/redis/redis.conf" in unit and not any(s in unit for s in secrets(lab_vars))


def test_no_secret_in_world_readable_files(host, lab_vars):
    assert host.file("/etc/redis").mode & 0o007 == 0
    files = host.run("find /etc/redis -type f").stdout.split()
    assert CONF in files and ACL in files
    for path in files:
        f = host.file(path)
        content = f.content_string
        assert lab_vars["redis_app_password"] not in content and lab_vars["redis_admin_password"] not in content
        if f.mode & 0o004:
            assert not any(s in content for s in secrets(lab_vars)), path
    acl = host.file(ACL)
    assert (acl.user, acl.group, acl.mode) == ("root", "redis", 0o640)
    conf = host.file(CONF)
    assert conf.mode & 0o007 == 0
    directives = [line.split()[0] for line in conf.content_string.splitlines() if line.strip() and line[0] != "#"]
    assert "aclfile" in directives and "requirepass" not in directives and "user" not in directives


def test_acl_file_stores_hashes(host, lab_vars):
    lines = host.file(ACL).content_string.splitlines()
    app_hash = hashlib.sha256(lab_vars["redis_app_password"].encode()).hexdigest()
    admin_hash = hashlib.sha256(lab_vars["redis_admin_password"].encode()).hexdigest()
    assert lines[0].startswith("user default off")
    assert any(line.startswith(f"user web2py on #{app_hash} ") for line in lines)
    assert any(line.startswith(f"user admin on #{admin_hash} ") for line in lines)
    assert not any("nopass" in line or ">" in line for line in lines)


def assert_refused(host, app, lab_vars, playbook: str, *markers: str) -> str:
    """The play fails, the live files and the running server are untouched, no secret leaks."""
    before = (host.file(CONF).sha256sum, host.file(ACL).sha256sum, main_pid(host))
    run = run_playbook(playbook)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    for marker in markers:
        assert marker in output, marker
    assert not any(s in output for s in secrets(lab_vars))
    assert (host.file(CONF).sha256sum, host.file(ACL).sha256sum, main_pid(host)) == before
    assert app("PING") == "PONG"
    return output


def test_bad_extra_config_refused(host, app, lab_vars):
    output = assert_refused(host, app, lab_vars, "bad-config.yml",
                            "failed to validate", "this-is-not-a-directive")
    # redis-server's own refusal: "Bad directive" (7.0), "Unresolved Configuration(s)" (8.0).
    assert "Bad directive" in output or "Unresolved Configuration(s) Detected" in output
    # The run went through the ACL task (no_log) before failing on redis.conf.
    assert "Write the ACL users" in output
    assert host.run("ls /tmp | grep -c redis-check").stdout.strip() == "0"


def test_bad_acl_rule_refused(host, app, lab_vars):
    assert_refused(host, app, lab_vars, "bad-acl.yml", "Write the ACL users", "censored")
    assert "monitor" not in host.file(ACL).content_string


def test_missing_password_refused(host, app, lab_vars):
    assert_refused(host, app, lab_vars, "no-password.yml", "redis_app_password is required")


def as_redis(host, command: str):
    return host.run(f"setpriv --reuid=redis --regid=redis --init-groups sh -c {shlex.quote(command)}")


def test_etc_redis_taken_back_without_following_links_redis_planted(host, app):
    """Debian hands /etc/redis to redis (2770) at install and upgrade. Left that way, with a link
    redis planted in place of users.acl and another beside it, the next run takes the folder back,
    refuses and names the links (their target, a root-only file, keeps its owner, mode and
    content) and leaves the running server alone; once they are removed it repairs the files.
    dpkg's overrides then keep the folder root's across a re-run of the package's postinst."""
    canary = "/root/redis-canary"
    host.run(f"printf 'canary\\n' > {canary} && chmod 0600 {canary}")
    assert host.run(f"chown redis:redis /etc/redis {CONF} {ACL} && chmod 2770 /etc/redis").rc == 0
    planted = as_redis(host, f"ln -s {canary} /etc/redis/acl.new && mv -T /etc/redis/acl.new {ACL}"
                             f" && ln -s /etc/shadow /etc/redis/planted.conf")
    assert planted.rc == 0, planted.stderr
    pid = main_pid(host)

    refused = run_playbook("reclaim.yml")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "entries were refused" in output
    assert "users.acl: symbolic link made by redis" in output and "planted.conf" in output
    canary_file = host.file(canary)
    assert (canary_file.user, canary_file.group, canary_file.mode, canary_file.content_string) == ("root", "root", 0o600, "canary\n")
    shadow = host.file("/etc/shadow")
    assert (shadow.user, shadow.mode) == ("root", 0o640)
    folder = host.file("/etc/redis")
    assert (folder.user, folder.group, folder.mode) == ("root", "redis", 0o750)
    assert as_redis(host, "touch /etc/redis/x").rc != 0
    assert main_pid(host) == pid and app("PING") == "PONG"

    assert host.run(f"rm {ACL} /etc/redis/planted.conf").rc == 0
    repaired = run_playbook("reclaim.yml")
    assert repaired.returncode == 0, repaired.stdout[-3000:]
    wait_answering(host, app)
    for path in (CONF, ACL):
        f = host.file(path)
        assert (f.is_file, f.is_symlink, f.user, f.group, f.mode) == (True, False, "root", "redis", 0o640), path
    overrides = host.run("dpkg-statoverride --list").stdout.splitlines()
    assert "root redis 750 /etc/redis" in overrides and f"root redis 640 {CONF}" in overrides
    # What an upgrade of redis-tools runs: it must leave the folder as it is.
    assert host.run("/var/lib/dpkg/info/redis-tools.postinst configure").rc == 0
    folder = host.file("/etc/redis")
    assert (folder.user, folder.group, folder.mode) == ("root", "redis", 0o750)
    assert host.file(canary).content_string == "canary\n"
    host.run(f"rm -f {canary}")
