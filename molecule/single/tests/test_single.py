"""Scenario single: one host with everything, checked through its nginx front end."""
from __future__ import annotations

import json
import shlex
import time

import pytest
from conftest import (
    ADMIN_PATHS,
    Client,
    assert_appconfig_as_written,
    assert_check_mode_clean,
    assert_static_by_web_server,
    assert_ticket_written,
    assert_tls_policy,
    changed_tasks,
    processes,
    recap_changed,
    run_playbook,
)

# Where a secret could be written on the host (searched recursively).
SEARCHED = "/etc /srv /opt /var/lib /var/backups /var/log /var/tmp /run /home /root /usr/local /tmp"
SERVICE_USERS = {"web2py", "www-data", "postgres", "redis"}
# Long-running processes allowed to run as root: the init and journal, nginx's master (binds
# 80/443, its workers are www-data) and the uWSGI emperor (starts each vassal under its uid).
ROOT_PROGRAMS = {"systemd", "systemd-journal", "nginx", "uwsgi"}


def rendered(host, name: str) -> str:
    """A variable as Ansible renders it (the lab's passwords are lookups with a default)."""
    return host.ansible("debug", f"msg={{{{ {name} }}}}", check=False)["msg"]


def secrets(host) -> dict[str, str]:
    values = {name: rendered(host, name) for name in ("web2py_admin_password", "postgres_db_password", "redis_app_password")}
    assert all(value and "{" not in value for value in values.values()), values.keys()
    return values


def test_check_mode_on_the_converged_host_changes_nothing(host):
    """First: --check --diff of playbooks/single.yml reports 0 changes; its -v output (diffs
    included) shows none of the three secrets."""
    assert_check_mode_clean(secrets=tuple(secrets(host).values()))


def postgres_unit(host) -> str:
    """postgresql@<version>-main: 15 on Debian 12, 17 on Debian 13."""
    versions = host.run("ls /etc/postgresql").stdout.split()
    assert len(versions) == 1, versions
    return f"postgresql@{versions[0]}-main"


def test_every_service_runs(host):
    for name in ("nginx", "uwsgi-emperor", postgres_unit(host), "redis-server", "web2py-scheduler@probe"):
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
    keys = host.run(f"REDISCLI_AUTH={shlex.quote(password)} redis-cli --user web2py --no-auth-warning --scan --pattern 'w2p:*'")
    assert "w2p:sess:probe:" in keys.stdout and "w2p:cache:probe:" in keys.stdout, keys.stdout + keys.stderr


def test_lab_secrets_carry_what_breaks_escaping(host):
    """The end-to-end tests above ran with passwords holding %, ;, #, =, :, spaces, both quotes
    and non-ASCII (inventories/lab-single): PostgreSQL through the probe's DAL URI, Redis
    through its ACL user."""
    for name in ("postgres_db_password", "redis_app_password"):
        value = rendered(host, name)
        assert all(char in value for char in "%;#=: '\"ü"), name


def test_appconfig_values_reach_web2py_as_written(https, lab_vars):
    assert_appconfig_as_written(https, lab_vars)


def test_error_writes_a_ticket(host, https):
    assert_ticket_written(host, https)


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
    values = secrets(host).values()
    for _user, args in processes(host):
        for secret in values:
            assert secret not in args


def grep_secret(host, secret: str, where: str) -> list[str]:
    """Files under where holding secret (given on stdin, never on a command line)."""
    out = host.run(f"printf '%s\\n' {shlex.quote(secret)} | grep -rlsF -f - {where}")
    return out.stdout.split()


def test_secrets_only_in_private_files_of_their_service_user(host):
    found = {}
    for name, secret in secrets(host).items():
        for path in grep_secret(host, secret, SEARCHED):
            info = host.file(path)
            found[path] = name
            assert info.mode == 0o600 and info.user in SERVICE_USERS, (name, path, oct(info.mode), info.user)
    # The search works: the application's appconfig holds the database and Redis passwords
    # (the admin password is only stored as a pbkdf2 hash, Redis's ACL file as SHA-256).
    appconfig = "/srv/web2py/web2py/applications/probe/private/appconfig.ini"
    assert found.get(appconfig) in ("postgres_db_password", "redis_app_password"), found
    assert "web2py_admin_password" not in found.values()


def test_secrets_not_in_the_journal(host):
    journal = host.run("journalctl -o cat --no-pager")
    assert journal.rc == 0 and len(journal.stdout) > 1000
    for name, secret in secrets(host).items():
        assert secret not in journal.stdout, name


def test_long_running_services_are_not_root(host):
    roots = {args.split()[0] for user, args in processes(host) if user == "root"}
    programs = {line.split()[1] for line in host.run("ps -eo user=,comm=").stdout.splitlines()
                if line.split()[0] == "root"}
    assert programs - {"ps", "sh", "bash"} <= ROOT_PROGRAMS, roots
    users = {user for user, args in processes(host)}
    assert {"web2py", "www-data", "postgres", "redis"} <= users
    for user, args in processes(host):
        if args.startswith("nginx: worker"):
            assert user == "www-data"
        if "uwsgi" in args and "--ini /etc/uwsgi-emperor/emperor.ini" not in args:
            assert user == "web2py", args


def test_only_the_front_end_listens_on_public_addresses(host):
    public = []
    for line in host.run("ss -Hltnup").stdout.splitlines():
        fields = line.split()
        address, port = fields[4].rsplit(":", 1)
        if address not in ("127.0.0.1", "[::1]"):
            public.append((address, port, fields[6] if len(fields) > 6 else ""))
    assert public and all(port in ("80", "443") and '"nginx"' in users for _address, port, users in public), public


# Last: the host (nginx_uwsgi, converged twice by the scenario) is switched through every other
# recipe of single.yml. Each step converges twice (the second run changes nothing), the site answers through the new front
# end (standalone: web2py's own server on 127.0.0.1:8000), the previous recipe's units are stopped
# and disabled, and the scheduler keeps running beside every recipe (its base role no longer
# touches web2py.service: apache_proxy and standalone answered 503 after a second converge).
SWITCH = [
    ("apache_wsgi", {"apache2"}),
    ("apache_proxy", {"apache2", "web2py"}),
    ("lighttpd_fcgi", {"lighttpd", "lighttpd.socket", "web2py-fcgi.socket"}),
    ("standalone", {"web2py"}),
]
ALL_UNITS = {"nginx", "uwsgi-emperor", "apache2", "lighttpd", "lighttpd.socket", "web2py-fcgi.socket", "web2py-fcgi", "web2py"}


def unit_up(host, unit: str) -> tuple[bool, bool]:
    """(active, enabled); a unit that is not installed is neither."""
    active = host.run(f"systemctl is-active {unit}").stdout.strip() == "active"
    enabled = host.run(f"systemctl is-enabled {unit}").stdout.strip() == "enabled"
    return active, enabled


def converge_as(frontend: str) -> str:
    run = run_playbook("converge.yml", "-e", json.dumps({"single_frontend": frontend}))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    return output


@pytest.mark.parametrize("frontend,units", SWITCH, ids=[name for name, _units in SWITCH])
def test_switch_recipe_converges_twice_and_serves(host, frontend, units):
    converge_as(frontend)
    second = converge_as(frontend)
    assert set(recap_changed(second).values()) == {0}, changed_tasks(second)
    for unit in units:
        assert unit_up(host, unit) == (True, True), (frontend, unit)
    for unit in ALL_UNITS - units - {"web2py-fcgi"}:  # (the socket starts the FastCGI service)
        assert unit_up(host, unit) == (False, False), (frontend, unit)
    assert unit_up(host, "web2py-scheduler@probe")[0]
    client = (Client(host, "http://127.0.0.1:8000", "/tmp/jar-standalone") if frontend == "standalone"
              else Client(host, "https://127.0.0.1", f"/tmp/jar-{frontend}"))
    for _attempt in range(30):
        answer = client.get("/probe/default/ping")
        if answer.status == 200:
            break
        time.sleep(1)
    assert answer.status == 200 and answer.body == "pong", (frontend, answer.status)
    assert client.get("/probe/default/dbrw").json()["engine"] == "postgres"
    recorded = json.loads(host.file("/etc/ansible/facts.d/web2py_frontend.fact").content_string)
    assert recorded["web2py"]["name"] == frontend
    # The admin password file is the one for the port web2py sees behind this front end.
    port = "8000" if frontend in ("apache_proxy", "standalone") else "443"
    files = host.run("ls /srv/web2py/web2py").stdout.split()
    assert [f for f in files if f.startswith("parameters_")] == [f"parameters_{port}.py"], files
