"""Scenario cluster: the lab's topology, checked through HAProxy like a user would.

The tests run on the load balancer; the other hosts are reached with testinfra.get_host.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import (PKI_CA, Client, assert_appconfig_as_written, assert_web2py_sees_the_shares, haproxy_servers, node,
                      other_ca, pg_startup, request_loop, wait_for_servers)

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
testinfra_hosts = [f"ansible://{INSTANCE}-lb"]
LB = f"{INSTANCE}-lb"
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


def test_firewall_lets_only_the_web2py_hosts_reach_the_database(host):
    """The firewall (firewall_enabled in the lab): the load balancer, no web2py host, gets no
    answer from PostgreSQL or Redis (dropped; pg_hba.conf would refuse it too: the postgres
    scenario's tests), nor from the app hosts' nginx from the database host; an app host gets
    through both firewalls to PostgreSQL, which refuses a startup without TLS."""
    probe = ("import socket, sys\n"
             "s = socket.socket(); s.settimeout(3)\n"
             "try:\n    s.connect((sys.argv[1], int(sys.argv[2]))); print('open')\n"
             "except socket.timeout:\n    print('dropped')\n"
             "except OSError as e:\n    print('error', e.errno)\n")
    for source, target, port in ((host, DB, 5432), (host, DB, 6379), (node(DB), APPS[0], 80)):
        out = source.run(f"python3 -c {shlex.quote(probe)} {target} {port}")
        assert out.stdout.strip() == "dropped", (target, port, out.stdout, out.stderr)
    assert "policy drop;" in node(DB).check_output("nft list table inet web2py_deploy")
    reached = pg_startup(node(APPS[0]), DB)
    assert reached.startswith("E ") and "no encryption" in reached, reached


# web2py's clients as the managed model makes them, in an app host's virtualenv: psycopg2
# (libpq) and redis-py, verifying the servers' certificates and names with the private CA.
CLIENTS = r"""
import json, os, sys
import psycopg2, redis
db, ca, mode = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
try:
    tls = {"sslmode": mode} if mode == "disable" else {"sslmode": mode, "sslrootcert": ca}
    conn = psycopg2.connect(host=db, dbname="web2py", user="web2py", password=os.environ["PG"], connect_timeout=5, **tls)
    cur = conn.cursor()
    cur.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    out["postgres"] = "%s %s" % cur.fetchone()
except Exception as error:
    out["postgres"] = "%s %s" % (type(error).__name__, str(error).strip())
try:
    tls = {} if mode == "disable" else {"ssl": True, "ssl_ca_certs": ca, "ssl_cert_reqs": "required", "ssl_check_hostname": True}
    out["redis"] = str(redis.Redis(host=db, port=6379, username="web2py", password=os.environ["RP"], socket_timeout=5, **tls).ping())
except Exception as error:
    out["redis"] = "%s %s" % (type(error).__name__, error)
print(json.dumps(out))
"""


def rendered(host, name: str) -> str:
    """A variable as the play renders it (the lab's secrets are templates)."""
    return host.ansible("debug", f"var={name}", check=False)[name]


def test_links_to_the_database_host_are_tls_with_the_servers_verified():
    app = node(APPS[0])
    secrets = (f"PG={shlex.quote(rendered(app, 'postgres_db_password'))} "
               f"RP={shlex.quote(rendered(app, 'redis_app_password'))}")

    def clients(ca: str, mode: str) -> dict:
        out = app.run(f"{secrets} /srv/web2py/venv/bin/python -c {shlex.quote(CLIENTS)} {DB} {ca or '-'} {mode}")
        assert out.rc == 0, out.stderr
        return json.loads(out.stdout)

    verified = clients(PKI_CA, "verify-full")
    assert verified["postgres"] in ("True TLSv1.3", "True TLSv1.2") and verified["redis"] == "True", verified
    plaintext = clients("", "disable")
    assert "no encryption" in plaintext["postgres"] and plaintext["redis"] != "True", plaintext
    other = clients(other_ca(app), "verify-full")
    assert "certificate verify failed" in other["postgres"] and "certificate verify failed" in other["redis"], other
    # libpq gets the CA before any model runs: from the WSGI entry point (app hosts) and from the
    # scheduler's unit (worker).
    entry = app.file("/usr/local/libexec/web2py-deploy/web2py-wsgi.py").content_string
    assert f'\nPGSSLROOTCERT = "{PKI_CA}"\n' in entry
    units = node(WORKER).run("systemctl show -p Environment web2py-scheduler@probe.service").stdout
    assert f"PGSSLROOTCERT={PKI_CA}" in units, units
    # What the probe's appconfig.ini tells web2py's clients.
    config = app.file("/srv/web2py/web2py/applications/probe/private/appconfig.ini").content_string
    assert "sslmode=verify-full" in config and "ca_file = /etc/web2py-deploy/pki/ca.crt" in config and "tls = true" in config


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


# --- rolling.yml under a request loop and a watch of HAProxy's server states: a successful run,
# --- the last server in service, an update that fails.

# --- Shared uploads and tickets (web2py.deploy.shared_storage: the db host keeps them) ---
SHARE = "/srv/web2py-shared/probe"
PROBE_DIR = "/srv/web2py/web2py/applications/probe"
TICKET_READER = (
    "import pickle, sys; sys.path.insert(0, '.'); t = pickle.load(open(sys.argv[1], 'rb')); "
    "print('ZeroDivisionError' in t['traceback'])"
)


def test_an_upload_through_one_app_host_is_served_by_every_app_host(host):
    content = f"shared upload {time.time_ns()} 100% ;#=: 'q' \"dq\" ü\n"
    host.run(f"printf %s {shlex.quote(content)} > /tmp/probe-upload.txt")
    stored = fresh(host, "upload").request("/probe/default/upload", "-F", "file=@/tmp/probe-upload.txt;filename=a b.txt")
    assert stored.status == 200, (stored.status, stored.body[:300])
    name, digest = stored.json()["name"], hashlib.sha256(content.encode()).hexdigest()
    assert stored.json()["sha256"] == digest
    readers = set()
    for index in range(8):  # fresh clients, round robin, no stickiness: both app hosts answer
        answer = fresh(host, f"up{index}").get(f"/probe/default/uploaded?name={name}")
        assert answer.status == 200 and answer.json()["sha256"] == digest, (answer.status, answer.body[:300])
        readers.add(answer.json()["host"])
    assert readers == set(APPS)
    for index in range(2):
        download = fresh(host, f"dl{index}").get(f"/probe/default/download/{name}")
        assert download.status == 200 and download.body == content, (download.status, download.body[:300])
    kept = node(DB).file(f"{SHARE}/uploads/{name}")
    assert kept.is_file and kept.user == "web2py-shared" and kept.mode == 0o640 and kept.content_string == content
    for app in APPS:
        app_host, path = node(app), f"{PROBE_DIR}/uploads/{name}"
        assert app_host.file(path).user == "web2py"
        assert app_host.run(f"runuser -u web2py -- cat {path}").stdout == content
        denied = app_host.run(f"runuser -u nobody -- cat {path}")
        assert denied.rc != 0 and "Permission denied" in denied.stderr, denied.stdout + denied.stderr


def test_the_shared_folders_are_mounted_locked_down(host):
    for app in (*APPS, WORKER):
        for folder in ("uploads", "errors"):
            out = node(app).run(f"findmnt -rn -o FSTYPE,SOURCE,OPTIONS --mountpoint {PROBE_DIR}/{folder}")
            fstype, source, options = out.stdout.split()
            assert (fstype, source) == ("fuse.sshfs", f"web2py-shared@{DB}:/probe/{folder}"), out.stdout
            assert {"nosuid", "nodev", "noexec", "allow_other", "default_permissions"} <= set(options.split(",")), options
        assert node(app).service("srv-web2py-web2py-applications-probe-uploads.mount").is_enabled
        # uWSGI's vassals on the app hosts, the scheduler's worker (its own mount namespace) on the worker
        assert_web2py_sees_the_shares(node(app), (f"{PROBE_DIR}/uploads", f"{PROBE_DIR}/errors"))
    # The account: SFTP in its folder only, from the web2py hosts' addresses with their keys.
    app1 = node(APPS[0])
    key = "-i /etc/web2py-deploy/shared-storage/id_ed25519 -o UserKnownHostsFile=/etc/web2py-deploy/shared-storage/known_hosts -o BatchMode=yes"
    address = DB
    shell = app1.run(f"ssh {key} web2py-shared@{address} id </dev/null")
    assert "uid=" not in shell.stdout, shell.stdout
    listing = app1.run(f"printf 'ls /\\ncd /etc\\n' | sftp {key} -b - web2py-shared@{address}")
    assert "/probe" in listing.stdout and listing.rc != 0, listing.stdout + listing.stderr  # cd /etc fails
    # Another host of the network (the balancer) has no key sshd accepts for the account.
    assert host.run(f"ssh -o BatchMode=yes -o StrictHostKeyChecking=no web2py-shared@{address} true").rc != 0


def test_tickets_of_every_app_host_are_in_one_place(host):
    tickets = []
    for app in APPS:  # /probe/default/fail answers local clients only: asked on each app host
        answer = Client(node(app), "https://127.0.0.1", "/tmp/jar-cluster-fail").get("/probe/default/fail")
        assert answer.status == 500 and "Ticket issued" in answer.body, (answer.status, answer.body[:300])
        tickets.append(re.search(r"probe/([0-9a-zA-Z.:_-]+)", answer.body.split("Ticket issued", 1)[1]).group(1))
    stored = set(node(DB).run(f"ls -1 {SHARE}/errors").stdout.split())
    assert set(tickets) <= stored, (tickets, stored)
    for app in APPS:  # each host reads the other's ticket in its own errors folder
        for ticket in tickets:
            out = node(app).run(f"cd /srv/web2py/web2py && runuser -u web2py -- ../venv/bin/python -c {shlex.quote(TICKET_READER)} "
                                f"applications/probe/errors/{ticket}")
            assert out.stdout.split() == ["True"], out.stdout + out.stderr


SITE_CONF = "/etc/nginx/sites-enabled/web2py.conf"
VASSAL = "/etc/uwsgi-emperor/vassals/web2py.ini"
STOP = "/tmp/rolling-stop"  # on the balancer: ends the state watch and the request loop
ROLLING_PLAY = "PLAY [Rolling update of the app hosts]"
# Samples HAProxy's server states every 0.2 s until the stop file exists (at most 4500 samples,
# past the run's timeout): one line "count srv_name srv_op_state srv_admin_state" per state seen.
STATE_WATCH = f"""
for _ in $(seq 4500); do
  [ -e {STOP} ] && break
  echo 'show servers state web2py_app' | socat stdio /run/haproxy/admin.sock | awk 'NR > 2 && NF > 6 {{print $4, $6, $7}}'
  sleep 0.2
done | sort | uniq -c
"""


def watch_servers(host) -> dict[str, set[tuple[str, str]]]:
    """Server name -> every (srv_op_state, srv_admin_state) HAProxy showed while the watch ran."""
    out = host.run(STATE_WATCH)
    assert out.rc == 0, out.stderr
    seen: dict[str, set[tuple[str, str]]] = {}
    for line in out.stdout.splitlines():
        _count, name, op_state, admin_state = line.split()
        seen.setdefault(name, set()).add((op_state, admin_state))
    return seen


def server_state(host, name: str) -> tuple[str, str]:
    """(srv_op_state, srv_admin_state) of one server now: ("2", "0") is running, neither drained
    nor in maintenance."""
    out = host.run("echo 'show servers state web2py_app' | socat stdio /run/haproxy/admin.sock").stdout
    return next((row[5], row[6]) for row in map(str.split, out.splitlines()[2:]) if len(row) > 6 and row[3] == name)


def config_sums(name: str) -> str:
    """sha256 of the app host's nginx site and uWSGI vassal."""
    out = node(name).run(f"sha256sum {SITE_CONF} {VASSAL}")
    assert out.rc == 0, out.stderr
    return out.stdout


def rolling_under_watch(host, extra: dict, requests: int, until_done: bool, limit: str = ""):
    """rolling.yml with extra variables (and --limit), HAProxy's server states watched from the
    start; from the banner of the play that drains, a bounded request loop through HAProxy (the
    check-mode play before it touches no balancer), stopped when the run ends if until_done.
    Returns (return code, output, loop result, states seen)."""
    playbook = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks/rolling.yml")
    # The uWSGI processes the app hosts have (test_rolling_update_drops_no_request sets 3): the run
    # then brings only the change it names.
    processes = int(node(APPS[0]).check_output(f"sed -n 's/^processes = //p' {VASSAL}"))
    command = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook,
               "-e", json.dumps({"nginx_uwsgi_processes": processes, **extra})] + (["--limit", limit] if limit else [])
    host.run(f"rm -f {STOP}")
    output, loop = [], None
    with ThreadPoolExecutor(max_workers=2) as pool:
        watch = pool.submit(watch_servers, host)
        try:
            with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
                timer = threading.Timer(900, run.kill)
                timer.start()
                for line in run.stdout:
                    output.append(line)
                    if loop is None and line.startswith(ROLLING_PLAY):
                        loop = pool.submit(request_loop, host, requests, URL, 0.05, STOP if until_done else "")
                returncode = run.wait()
                timer.cancel()
        finally:
            host.run(f"touch {STOP}")
        return returncode, "".join(output), loop.result(timeout=600) if loop else None, watch.result(timeout=60)


def rolling_play(output: str) -> str:
    """The output of the play that drains and updates (after the check-mode play)."""
    return output.split(ROLLING_PLAY, 1)[-1].split("PLAY RECAP", 1)[0]


def test_one_bad_value_on_one_host_stops_every_host_before_any_change(host):
    """site.yml's first plays validate every host's roles, one play per group: a bad HAProxy
    port (only the balancer runs that role) fails in the last of them, after the other groups'
    passed, naming the variable, and no host changes anything: the recap reports changed=0 for
    all five hosts and no play after the validation ran."""
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook,
                          "-e", json.dumps({"haproxy_https_port": 70000})],
                         capture_output=True, text=True, timeout=900, check=False,
                         env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"})
    output = run.stdout + run.stderr
    assert run.returncode != 0 and "haproxy_https_port" in output, output[-3000:]
    recap = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M))
    assert set(recap) >= {LB, *APPS, DB, WORKER} and set(recap.values()) == {"0"}, recap
    assert "PLAY [PostgreSQL servers]" not in output, output[-3000:]
    assert wait_for_servers(host, APPS) == {APPS[0]: True, APPS[1]: True}


def test_rolling_update_drops_no_request(host):
    # A real change on every app host (uWSGI gets three workers) so each one restarts.
    returncode, output, result, seen = rolling_under_watch(host, {"nginx_uwsgi_processes": 3}, 3000, until_done=True)
    assert returncode == 0, rolling_play(output)[-3000:]
    assert "Take this host out of every load balancer" in output
    for name in APPS:  # each host was drained under the loop, and is back
        assert any(admin != "0" for _op, admin in seen[name]), seen
    assert result["failed"] == 0 and result["ok"] >= 20, result
    for name in APPS:
        vassal = node(name).run("grep -h '^processes' /etc/uwsgi-emperor/vassals/*.ini").stdout
        assert vassal.split() == ["processes", "=", "3"], vassal
    assert wait_for_servers(host, APPS) == {APPS[0]: True, APPS[1]: True}


def test_rolling_update_never_drains_the_last_server_in_service(host):
    """nginx stopped on the second app host: HAProxy has the first one alone in service.
    rolling.yml refuses to drain it, naming it, before anything changes; requests keep being
    served. The run is limited to that host (and the balancers, whose facts it reads): the
    refusal reads HAProxy, not the play's hosts, and the check-mode play of the stopped host
    would only add time (the failed-update test below runs both)."""
    healthy, stopped = APPS
    before = {name: config_sums(name) for name in APPS}
    down = node(stopped)
    try:
        assert down.run("systemctl stop nginx").rc == 0
        for _attempt in range(60):
            if haproxy_servers(host) == {healthy: True, stopped: False}:
                break
            time.sleep(0.5)
        assert haproxy_servers(host) == {healthy: True, stopped: False}
        returncode, output, result, seen = rolling_under_watch(
            host, {"nginx_uwsgi_client_max_body_size": "12m"}, 60, until_done=False, limit=f"{healthy}:haproxy")
    finally:
        assert down.run("systemctl start nginx").rc == 0
        assert wait_for_servers(host, APPS) == {healthy: True, stopped: True}
    assert returncode != 0, rolling_play(output)[-3000:]
    assert f"{healthy} is not drained: no other server of backend web2py_app is in service" in output, rolling_play(output)[-3000:]
    assert "Take this host out of every load balancer" not in output
    assert seen[healthy] == {("2", "0")}, seen  # never drained nor in maintenance
    assert result["failed"] == 0 and result["ok"] == 60, result
    assert {name: config_sums(name) for name in APPS} == before


def test_failed_rolling_update_puts_the_host_back_and_stops(host):
    """The first app host's nginx binary is not executable: check mode passes (it skips the
    site's validation), the real update fails at the site's nginx -t. The host is enabled again
    and serves with its old configuration, the run stops naming it, the second host is
    untouched, and no request fails from its drain to the end of the run."""
    failing, untouched = APPS
    before = {name: config_sums(name) for name in APPS}
    app = node(failing)
    mode = app.check_output("stat -c %a /usr/sbin/nginx")
    try:
        assert app.run("chmod a-x /usr/sbin/nginx").rc == 0
        returncode, output, result, seen = rolling_under_watch(
            host, {"nginx_uwsgi_client_max_body_size": "11m"}, 3000, until_done=True)
    finally:
        assert app.run(f"chmod {mode} /usr/sbin/nginx").rc == 0
    assert returncode != 0, rolling_play(output)[-3000:]
    message = " ".join(output.split()).replace('\\"', '"')  # the msg as JSON, on one line
    assert f'The update of {failing} failed at "Write the web2py site' in message, rolling_play(output)[-3000:]
    # web2py.deploy.web2py_files names the file and keeps the old one
    assert "web2py.conf: failed to validate" in message, rolling_play(output)[-3000:]
    kept = f"the old file is kept; no file of this task was written). It is back in service on {LB}."
    assert f"{kept} The remaining hosts were not touched." in message, rolling_play(output)[-3000:]
    assert "Take this host out of every load balancer" in output  # both hosts passed check mode
    assert any(admin != "0" for _op, admin in seen[failing]), seen  # it was drained, then enabled
    assert server_state(host, failing) == ("2", "0")
    assert f"[{untouched}" not in rolling_play(output)
    assert seen[untouched] == {("2", "0")}, seen
    assert result["failed"] == 0 and result["ok"] >= 20, result
    assert hosts_answering(host) == set(APPS)
    # The candidate site never replaced the live one, on either host.
    assert {name: config_sums(name) for name in APPS} == before
