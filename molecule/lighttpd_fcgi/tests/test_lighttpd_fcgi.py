"""Scenario lighttpd_fcgi: behaviour through lighttpd, the uWSGI FastCGI backend and TLS.

Tests run in file order; the ones that re-run the role (admin enabled, a bad value) come last.
"""
from __future__ import annotations

import json
import re
import shlex
import subprocess
from urllib.parse import quote

import pytest
from conftest import (
    assert_http_redirect_and_admin_instance,
    wait_for_ping,
    GZIP_STATIC_PATHS,
    assert_precompressed_static,
    assert_session_cookies_follow_the_scheme,
    assert_ipv6_and_http2,
    ODD_ADMIN_PATHS,
    assert_admin_not_reached,
    assert_appadmin_canary_over_https,
    assert_forwarding_headers_ignored,
    assert_trusted_proxy_believed,
    assert_admin_login,
    assert_appconfig_as_written,
    assert_check_mode_clean,
    assert_mozilla_intermediate,
    assert_ticket_written,
    run_playbook,
    secret_values,
    tls_handshake,
)

ROOT = "/srv/web2py/web2py"
SOCKET = "/run/web2py-fcgi/web2py.sock"
CONF = "/etc/lighttpd/lighttpd.conf"
HANDLER = "/usr/local/libexec/web2py-deploy/web2py-fcgi.py"
INI = "/etc/web2py-deploy/lighttpd-fcgi/web2py.ini"
VENV = "/srv/web2py/venv"
SQLITE_MAGIC = "SQLite format 3"
# The state the last tests put the host in: admin over HTTPS, a prefork backend, host names.
ADMIN_RUN_VARS = {
    "lighttpd_fcgi_admin_enabled": True,
    "lighttpd_fcgi_mode": "prefork",
    "lighttpd_fcgi_max_children": 4,
    "lighttpd_fcgi_server_names": ["127.0.0.1", "localhost"],
}


def play(playbook: str, extra: dict) -> subprocess.CompletedProcess:
    return run_playbook(playbook, "-e", json.dumps(extra))


def backend_pid(host) -> str:
    return host.run("systemctl show -p MainPID --value web2py-fcgi.service").stdout.strip()


def backend_processes(host) -> list[tuple[str, str, str]]:
    """(pid, user, args) of the backend's main process (uWSGI's master) and its children (the
    workers)."""
    pid = backend_pid(host)
    out = host.run(f"ps -o pid=,user=,args= -p {pid} --ppid {pid}").stdout.splitlines()
    return [tuple(line.split(None, 2)) for line in out]


def worker_pids(host) -> set[str]:
    """The master's children: uWSGI's workers."""
    return set(host.run(f"ps -o pid= --ppid {backend_pid(host)}").stdout.split())


def wait_for_socket_and_backend(host):
    host.run(
        "for i in $(seq 40); do systemctl is-active -q web2py-fcgi.service && "
        "test -S /run/web2py-fcgi/web2py.sock && break; sleep 0.5; done"
    )


def test_check_mode_on_the_converged_host_changes_nothing(lab_vars):
    """First, on the state converge left: --check --diff reports 0 changes, -v shows no secret."""
    assert_check_mode_clean(secrets=secret_values(lab_vars))


def test_services_running(host):
    for name in ("lighttpd", "web2py-fcgi.socket", "web2py-fcgi.service"):
        svc = host.service(name)
        assert svc.is_running and svc.is_enabled, name
    # The backend gets its listening socket from systemd (socket activation).
    assert host.run("systemctl show -p TriggeredBy --value web2py-fcgi.service").stdout.strip() == "web2py-fcgi.socket"
    assert host.run("systemctl show -p NoNewPrivileges --value web2py-fcgi.service").stdout.strip() == "yes"
    assert host.run("systemctl show -p ProtectSystem --value web2py-fcgi.service").stdout.strip() == "strict"


def test_backend_runs_as_web2py(host):
    procs = backend_processes(host)
    assert procs, "no FastCGI backend process"
    assert {user for _pid, user, _args in procs} == {"web2py"}
    assert host.run("systemctl show -p User --value web2py-fcgi.service").stdout.strip() == "web2py"
    for path in (HANDLER, INI):
        config = host.file(path)
        assert config.user == "root" and config.mode == 0o644, path
        assert host.run(f"sudo -u web2py sh -c 'echo >> {path}'").rc != 0, path
    # uWSGI's master FIFO (a graceful stop writes "q" to it): in a folder of the web2py user's only.
    fifo_dir = host.file("/run/web2py-fcgi-master")
    assert fifo_dir.user == "web2py" and fifo_dir.mode == 0o700 and host.file("/run/web2py-fcgi-master/fifo").is_pipe
    # web2py's venv is root's: the web2py user only reads it.
    assert host.file(f"{VENV}/lib").user == "root"
    assert host.run(f"sudo -u web2py touch {VENV}/lib/x").rc != 0


def test_backend_is_uwsgi_and_flup_is_gone(host):
    """The FastCGI server is uWSGI from Debian's packages (its master and workers, Python in its
    python3 plugin); flup is neither installed in web2py's virtualenv nor loaded anywhere."""
    assert host.run("systemctl show -p Type --value web2py-fcgi.service").stdout.strip() == "notify"
    assert host.package("uwsgi-core").is_installed and host.package("uwsgi-plugin-python3").is_installed
    procs = backend_processes(host)
    # The master and its one worker (threaded, this state), both the uWSGI binary.
    assert [args for _pid, _user, args in procs] == [f"/usr/bin/uwsgi --ini {INI}"] * 2, procs
    assert len(worker_pids(host)) == 1
    uwsgi = host.run("readlink -f /usr/bin/uwsgi").stdout.strip()
    for pid, _user, _args in procs:  # (as their user: root here has no CAP_SYS_PTRACE)
        assert host.run(f"sudo -u web2py readlink -f /proc/{pid}/exe").stdout.strip() == uwsgi, pid
    # The workers run web2py in uWSGI's embedded Python: the plugin, and never flup, is mapped.
    worker = next(iter(worker_pids(host)))
    maps = host.run(f"sudo -u web2py cat /proc/{worker}/maps").stdout
    assert re.search(r"/uwsgi/plugins/python3[0-9]*_plugin\.so$", maps, re.M) and "libpython3" in maps, maps
    assert "flup" not in maps
    assert host.run(f"{VENV}/bin/pip show flup").rc != 0
    assert host.run(f"{VENV}/bin/python -c 'import flup'").rc != 0
    assert host.run(f"find {VENV} -iname '*flup*'").stdout.strip() == ""
    assert "flup" not in host.file(HANDLER).content_string
    # uWSGI speaks FastCGI on systemd's socket, which it never bound itself.
    assert host.run(f"{uwsgi} --ini {INI} --get protocol").stdout.strip() == "fastcgi"
    # A request still running after lighttpd_fcgi_harakiri (60 s) loses its worker.
    assert host.run(f"{uwsgi} --ini {INI} --get harakiri").stdout.strip() == "60"
    journal = host.run("journalctl -u web2py-fcgi.service --no-pager -o cat").stdout
    assert "SystemD socket activation detected" in journal
    assert "bound to UNIX address" not in journal


def test_socket_under_run_for_lighttpd_only(host):
    sock = host.file(SOCKET)
    assert sock.is_socket and sock.user == "www-data" and sock.group == "www-data" and sock.mode == 0o600
    probe = "import socket; s = socket.socket(socket.AF_UNIX); s.connect('%s')" % SOCKET
    for user in ("web2py", "nobody"):
        out = host.run(f"sudo -u {user} python3 -c \"{probe}\"")
        assert out.rc != 0 and "Permission denied" in out.stderr, user
    assert host.run(f"sudo -u www-data python3 -c \"{probe}\"").rc == 0


def test_backend_restart_keeps_the_socket(host, http):
    before = host.run(f"stat -c %i {SOCKET}").stdout.strip()
    pids = backend_pid(host)
    assert host.run("systemctl restart web2py-fcgi.service").rc == 0
    assert http.get("/probe/default/ping").body == "pong"
    assert host.run(f"stat -c %i {SOCKET}").stdout.strip() == before
    assert backend_pid(host) != pids


def test_backend_started_by_the_first_request(host, http):
    """With the service stopped, systemd still listens and starts it for the next request."""
    host.run("systemctl stop web2py-fcgi.service")
    try:
        assert host.run("systemctl is-active web2py-fcgi.service").stdout.strip() != "active"
        assert http.get("/probe/default/ping").body == "pong"
        assert host.run("systemctl is-active web2py-fcgi.service").stdout.strip() == "active"
    finally:
        host.run("systemctl start web2py-fcgi.service")


@pytest.mark.parametrize("action", ["reload", "restart"])
def test_reload_and_restart_lose_no_request(host, http, action):
    """systemctl reload (the role's handler for a new ini file or new web2py code) and restart
    (a new unit) under load: every request made before, during and after answers 200. A reload
    keeps uWSGI's master and replaces its workers, the requests arriving meanwhile wait in the
    socket's backlog; a stop (ExecStop: "q" on the master FIFO) lets the workers finish theirs."""
    wait_for_socket_and_backend(host)
    wait_for_ping(http)
    master, workers = backend_pid(host), worker_pids(host)
    since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    codes, stop = "/tmp/reload-codes", "/tmp/reload-stop"
    # Four clients in a loop from 1 s before the action to 5 s after it (one status and time a line).
    load = (
        f"rm -f {codes} {stop}; for i in 1 2 3 4; do (while [ ! -e {stop} ]; do "
        f"curl -s -o /dev/null -w '%{{http_code}} %{{time_total}}\\n' --max-time 60 http://127.0.0.1/probe/default/ping >> {codes}; "
        f"done) & done; sleep 1; echo MARK >> {codes}; systemctl {action} web2py-fcgi.service; sleep 5; touch {stop}; wait"
    )
    assert host.run(load).rc == 0
    lines = host.file(codes).content_string.splitlines()
    mark = lines.index("MARK")
    before, after = lines[:mark], lines[mark + 1:]
    assert len(before) > 10 and len(after) > 10, (len(before), len(after))
    assert {line.split()[0] for line in before + after} == {"200"}, [line for line in lines if not line.startswith("200 ")]
    assert (backend_pid(host) == master) == (action == "reload")
    wait_for_ping(http)
    assert worker_pids(host) and not worker_pids(host) & workers
    journal = host.run(f"journalctl -u web2py-fcgi.service --since '{since}' --no-pager -o cat").stdout
    expected = "gracefully killing workers" if action == "reload" else "graceful shutdown triggered"
    assert expected in journal, journal[-2000:]


def test_large_headers_and_body_reach_web2py(host):
    """A request with about 6 KB of headers (uWSGI's default 4 KB buffer would refuse its
    FastCGI parameters) and a 2 MB body."""
    cookie = "c=" + "a" * 6000
    out = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' -H 'Cookie: {cookie}' http://127.0.0.1/probe/default/ping")
    assert out.stdout == "200", out.stdout + out.stderr
    out = host.run(
        "head -c 2000000 /dev/zero | tr '\\0' a > /tmp/body-2m && curl -s -w ' %{http_code}' "
        "-H 'Content-Type: application/octet-stream' --data-binary @/tmp/body-2m http://127.0.0.1/probe/default/ping"
    )
    assert out.stdout == "pong 200", out.stdout + out.stderr


def test_probe_over_http_and_https(http, https):
    for client in (http, https):
        r = client.get("/probe/default/ping")
        assert r.status == 200 and r.body == "pong"
        assert r.headers.get("x-powered-by") == "web2py"


def test_hsts_on_https_only(http, https):
    assert https.get("/probe/default/ping").headers["strict-transport-security"] == "max-age=63072000"
    assert "strict-transport-security" not in http.get("/probe/default/ping").headers


def test_server_version_hidden(http, https):
    for client in (http, https):
        assert client.get("/probe/default/ping").headers["server"] == "lighttpd"
        assert client.get("/probe/static/probe.txt").headers["server"] == "lighttpd"


def test_session_cookie_kept(https):
    assert [https.get("/probe/default/counter").json()["counter"] for _i in range(3)] == [1, 2, 3]


@pytest.mark.parametrize("path", GZIP_STATIC_PATHS)
def test_precompressed_static_files_to_clients_that_accept_gzip(host, path):
    assert_precompressed_static(host, "https://127.0.0.1", path)
    assert_precompressed_static(host, "http://127.0.0.1", path)


def test_session_cookies_httponly_samesite_and_secure_over_https(host):
    assert_session_cookies_follow_the_scheme(host)


def test_db_row_written_and_read(http):
    data = http.get("/probe/default/dbrw").json()
    assert data["wrote"] == data["read"]


def test_backend_sees_scheme_and_port(http, https):
    env = https.get("/probe/default/env").json()
    assert env["scheme"] == "https" and env["is_https"] is True
    assert env["server_port"] == "443"
    assert http.get("/probe/default/env").json()["scheme"] == "http"
    assert http.get("/probe/default/env").json()["server_port"] == "80"


def test_appconfig_as_written_over_https(https, lab_vars):
    """Non-ASCII, %, quotes, ; and # in appconfig values reach web2py as written through
    lighttpd and the FastCGI backend."""
    assert_appconfig_as_written(https, lab_vars)


def test_backend_reads_text_as_utf8_after_web2py_import(host):
    """web2py's import sets LC_CTYPE to "C". The backend's Python starts in systemd's LANG=C.UTF-8,
    so it is not in UTF-8 mode: with gluon.main imported alone (the control) it reads text files
    as ASCII; the handler loads web2py through the web2py role's entry point, which sets
    C.UTF-8 back."""
    pid = backend_pid(host)
    assert "LANG=C.UTF-8" in host.run(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout.split()
    python = f"cd {ROOT} && sudo -u web2py env -i LANG=C.UTF-8 /srv/web2py/venv/bin/python -c"
    report = "print(sys.flags.utf8_mode, locale.getpreferredencoding(False))"
    gluon_alone = "import locale, sys; sys.path.insert(0, '.'); import gluon.main; " + report
    alone = host.run(f"{python} {shlex.quote(gluon_alone)}")
    assert alone.stdout.split() == ["0", "ANSI_X3.4-1968"], alone.stdout + alone.stderr
    load = (
        "import importlib.util, locale, sys; "
        f"spec = importlib.util.spec_from_file_location('handler', '{HANDLER}'); "
        "handler = importlib.util.module_from_spec(spec); spec.loader.exec_module(handler); "
        f"handler.load_web2py('{ROOT}'); "
    )
    handled = host.run(f"{python} {shlex.quote(load + report)}")
    assert handled.stdout.split() == ["0", "UTF-8"], handled.stdout + handled.stderr


def test_error_writes_a_ticket(host, https):
    """An error answers 500 and web2py writes its ticket with traceback and snapshot."""
    assert_ticket_written(host, https)


@pytest.mark.parametrize("path", ["/probe/static/probe.txt", "/probe/static/_1.2.3/probe.txt"])
def test_static_served_by_lighttpd(http, https, path):
    for client in (http, https):
        r = client.get(path)
        assert r.status == 200
        assert r.body == "probe static file served by the web server\n"
        # lighttpd answered: no web2py header, long expiry.
        assert "x-powered-by" not in r.headers
        assert r.headers["cache-control"] == "max-age=31536000"
    assert "strict-transport-security" in https.get(path).headers


def test_static_still_served_with_backend_stopped(host, http):
    # Both units: the socket alone would start the service again on the next request.
    host.run("systemctl stop web2py-fcgi.socket web2py-fcgi.service")
    try:
        assert http.get("/probe/static/probe.txt").status == 200
        assert http.get("/probe/default/ping").status in (502, 503)
    finally:
        host.run("systemctl start web2py-fcgi.socket web2py-fcgi.service")
        wait_for_socket_and_backend(host)
    wait_for_ping(http)


@pytest.mark.parametrize("path", [
    "/applications/probe/databases/storage.sqlite",
    "/probe/databases/storage.sqlite",
    "/probe/static/../databases/storage.sqlite",
    "/probe/static/%2e%2e/databases/storage.sqlite",
    "/probe/static/%2E%2E/databases/storage.sqlite",
    "/probe/static/..%2fdatabases/storage.sqlite",
    "/probe/static/%2e%2e%2fdatabases%2fstorage.sqlite",
    "/probe/static/_1.2.3/../../databases/storage.sqlite",
    "/probe/static/_1.2.3/..%2f..%2fdatabases/storage.sqlite",
    "/probe/static/%252e%252e/databases/storage.sqlite",
    "/probe/static/..%5cdatabases%5cstorage.sqlite",
    "//probe//databases//storage.sqlite",
    "/probe/databases/storage.sqlite?x=/static/y",
    "/applications/probe/static/../databases/storage.sqlite",
    "/handler_web2py.fcgi/../applications/probe/databases/storage.sqlite",
])
def test_database_never_served(host, http, https, path):
    assert host.file(f"{ROOT}/applications/probe/databases/storage.sqlite").exists
    for client in (http, https):
        r = client.get(path, "--path-as-is")
        assert r.status in (400, 403, 404), (path, r.status)
        assert SQLITE_MAGIC not in r.body


@pytest.mark.parametrize("path", [
    "/probe/private/appconfig.ini",
    "/probe/sessions/",
    "/probe/errors/",
    "/probe/cache/",
    "/probe/uploads/",
    "/probe/databases/",
])
def test_internals_denied(http, path):
    assert http.get(path).status == 403


@pytest.mark.parametrize("path", [
    "/parameters_443.py",
    "/wsgihandler.py",
    "/web2py.py",
    "/VERSION",
    "/probe/static/../../../parameters_443.py",
    "/probe/static/..%2f..%2f..%2fparameters_443.py",
    "/applications/probe/static/../../../wsgihandler.py",
    "/probe/static/%2e%2e/%2e%2e/%2e%2e/wsgihandler.py",
])
def test_web2py_root_files_never_served(host, https, path):
    assert host.file(f"{ROOT}/parameters_443.py").exists and host.file(f"{ROOT}/wsgihandler.py").exists
    r = https.get(path, "--path-as-is")
    assert r.status in (400, 403, 404), (path, r.status)
    assert "password=" not in r.body and "gluon" not in r.body


@pytest.mark.parametrize("path", ["/admin/default/index", "/admin", "/admin/", "/probe/appadmin/index", "/probe/appadmin"])
def test_admin_refused_over_http(http, path):
    assert http.get(path).status == 403


@pytest.mark.parametrize("path", ["/admin/default/index", "/admin", "/probe/appadmin/index"])
def test_admin_disabled_by_default_on_https(host, https, path):
    assert https.get(path).status == 403
    params = host.file(f"{ROOT}/parameters_443.py")
    assert params.mode == 0o600 and params.user == "web2py"
    assert params.content_string.strip() == "password=None"


def test_tls_versions(host):
    assert not tls_handshake(host, 443, "1.0")
    assert not tls_handshake(host, 443, "1.1")
    assert tls_handshake(host, 443, "1.2")
    assert tls_handshake(host, 443, "1.3")


def test_tls_probe_can_detect_old_protocols(host):
    """Control: the same client completes a TLS 1.0 handshake with a server that allows it."""
    host.run(
        "cd /tmp && (timeout 15 openssl s_server -accept 127.0.0.1:9443 -tls1 "
        "-cipher 'DEFAULT:@SECLEVEL=0' -cert /etc/web2py-deploy/tls/server.crt "
        "-key /etc/web2py-deploy/tls/server.key -quiet >/dev/null 2>&1 &) ; sleep 1"
    )
    assert tls_handshake(host, 9443, "1.0")


def test_tls_policy(host):
    def s_client(args):
        return host.run(f"echo | timeout 10 openssl s_client -connect 127.0.0.1:443 {args} 2>&1").stdout

    # Mozilla intermediate ciphers only: a CBC/RSA-kx suite is refused, a DHE one accepted
    # with a >= 2048-bit group.
    assert "Cipher is (NONE)" in s_client("-tls1_2 -cipher AES128-SHA")
    dhe = s_client("-tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256")
    assert "Cipher is DHE-RSA-AES128-GCM-SHA256" in dhe
    # OpenSSL 3.0 (Debian 12) says "Server Temp Key", 3.5 (Debian 13) "Peer Temp Key".
    bits = int(re.search(r"(?:Server|Peer) Temp Key: DH, (\d+) bits", dhe).group(1))
    assert bits >= 2048
    # The configured curves only (X25519:prime256v1:secp384r1): secp521r1 and X448, which
    # OpenSSL would otherwise accept, are refused.
    ecdhe = "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256"
    assert re.search(r"(?:Server|Peer) Temp Key: X25519,", s_client(f"{ecdhe} -curves X25519:prime256v1"))
    assert re.search(r"(?:Server|Peer) Temp Key: ECDH, secp384r1,", s_client(f"{ecdhe} -curves secp384r1"))
    for group in ("secp521r1", "X448"):
        assert "Cipher is (NONE)" in s_client(f"{ecdhe} -curves {group}")
        assert "Cipher is (NONE)" in s_client(f"-tls1_3 -groups {group}")
    # The client's cipher preference is honoured (no server preference).
    assert "Cipher is ECDHE-RSA-CHACHA20-POLY1305" in s_client(
        "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256")
    # No session tickets.
    tls12 = s_client("-tls1_2")
    assert "Cipher is ECDHE" in tls12 and "TLS session ticket" not in tls12


def test_ipv6_and_http2(host):
    """lighttpd.socket listens on [::] as well as IPv4 (lighttpd_fcgi_ipv6) and lighttpd speaks
    HTTP/2 on HTTPS."""
    assert_ipv6_and_http2(host)


def test_mozilla_intermediate_tls_scan(host):
    """sslyze from the controller: Mozilla intermediate, the lab chain served and verified."""
    assert_mozilla_intermediate(host)


def test_no_fcgi_prefix_leaks(http, https):
    """Redirects and URLs web2py builds never show the internal /handler_web2py.fcgi prefix."""
    env = https.get("/probe/default/env").body
    assert "handler_web2py" not in env
    # web2py redirects /probe to its default action with a URL it builds itself.
    for client in (http, https):
        r = client.get("/probe")
        assert r.status in (200, 303) and "handler_web2py" not in r.headers.get("location", "")
        r = client.get("/probe/default/counter")
        assert "handler_web2py" not in r.headers.get("set-cookie", "")


def test_admin_enabled_over_https_only(host, http, https, lab_vars):
    """Re-run the role with lighttpd_fcgi_admin_enabled (and a prefork backend, host names)."""
    master = backend_pid(host)
    run = play("converge.yml", ADMIN_RUN_VARS)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "lab-admin-S3cret!" not in run.stdout + run.stderr
    params = host.file(f"{ROOT}/parameters_443.py")
    assert params.mode == 0o600 and params.content_string.startswith('password="pbkdf2(1000,20,sha512)$')
    wait_for_socket_and_backend(host)
    wait_for_ping(https)
    # Over HTTPS the admin logs in; its redirect does not leak the FastCGI prefix.
    assert_admin_login(https, lab_vars["web2py_admin_password"])
    form = "&send=%2Fadmin%2Fdefault%2Fsite"
    r = https.request("/admin/default/index", stdin="password=" + quote(lab_vars["web2py_admin_password"], safe="") + form)
    assert r.status == 303 and r.headers["location"] == "/admin/default/site"
    # Still never over plain HTTP.
    for path in ("/admin/default/index", "/admin", "/probe/appadmin/index"):
        assert http.get(path).status == 403
    # The probe keeps working through the prefork backend: several processes, all web2py.
    assert [https.get("/probe/default/counter").json()["counter"] for _i in range(3)] == [1, 2, 3]
    procs = backend_processes(host)
    assert len(procs) >= 3 and {user for _pid, user, _args in procs} == {"web2py"}
    # uWSGI's new pool (4 single-threaded processes) came from a graceful reload: same master.
    assert backend_pid(host) == master
    assert len(worker_pids(host)) == 4
    # Host names: a listed one is served, any other refused.
    assert http.get("/probe/default/ping", "-H", "Host: localhost").status == 200
    assert http.get("/probe/default/ping", "-H", "Host: evil.example").status == 403


def test_prefork_backend_queues_busy_requests_instead_of_refusing(host):
    """48 clients at once against 4 prefork workers (this state): every request gets its 200,
    the surplus waits in the socket's backlog (it is never refused: the flup threaded server
    of earlier versions closed connections beyond its threads and lighttpd answered 503)."""
    out = host.run(
        "seq 96 | xargs -P 48 -I{} curl -s -o /dev/null -w '%{http_code}\\n' --max-time 60 "
        "http://127.0.0.1/probe/default/ping"
    )
    codes = out.stdout.split()
    assert len(codes) == 96 and set(codes) == {"200"}, sorted(set(codes))


def test_invalid_lighttpd_value_fails_and_site_keeps_serving(host, http, https):
    """A bad lighttpd value fails the play before install; the running site keeps serving."""
    before = host.file(CONF).sha256sum
    run = play("bad-config.yml", ADMIN_RUN_VARS)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    # lighttpd -tt on the candidate file refused it.
    assert "failed to validate" in output and "parser failed" in output
    # The run went through the admin password task: at -v its secret is still masked.
    assert "Write parameters_<port>.py" in output
    assert "lab-admin-S3cret!" not in output
    assert host.file(CONF).sha256sum == before
    assert "this_is_not_a_directive" not in host.file(CONF).content_string
    assert http.get("/probe/default/ping").status == 200
    assert https.get("/probe/default/ping").status == 200
    assert host.run(f"lighttpd -tt -f {CONF}").rc == 0


@pytest.mark.parametrize("scheme,port", [("http", 80), ("https", 443)])
def test_forged_forwarding_headers_ignored(host, scheme, port):
    assert_forwarding_headers_ignored(host, scheme, port)


@pytest.mark.parametrize("scheme,port", [("http", 80), ("https", 443)])
def test_trusted_proxy_believed(host, scheme, port):
    # mod_extforward applies the balancer's X-Forwarded-Proto either way (http included).
    assert_trusted_proxy_believed(host, scheme, port, proxy_may_say_http=True)


def test_appadmin_canary_answers_over_https(https):
    assert_appadmin_canary_over_https(https)


@pytest.mark.parametrize("path", ODD_ADMIN_PATHS)
def test_odd_admin_paths_refused_over_http(http, path):
    assert_admin_not_reached(http, path)


def test_http_redirect_and_admin_instance(host, http, https, lab_vars):
    """Last: the guide's admin recipe (web2py_admin_instance) and lighttpd_fcgi_http_redirect, on
    together (one converge, lighttpd_fcgi_admin_enabled still set: the instance wins) then off
    again: admin on 127.0.0.1:8001 only, the public site without admin or appadmin over HTTPS
    too; plain HTTP only redirects to HTTPS, for the site's names alone. Off: admin over HTTPS
    as lighttpd_fcgi_admin_enabled says."""
    def redirects() -> None:
        wait_for_ping(https)
        r = http.get("/probe/default/ping?x=1")
        assert r.status == 301 and r.headers["location"] == "https://127.0.0.1/probe/default/ping?x=1"
        r = http.get("/admin/default/index", "-H", "Host: localhost:80")
        assert r.status == 301 and r.headers["location"] == "https://localhost/admin/default/index"
        # Not even a redirect for other host names; nothing from the document root over HTTP.
        assert http.get("/probe/default/ping", "-H", "Host: evil.example").status == 403
        assert http.get("/parameters_443.py", "-H", "Host:", "-0").status == 403
        assert https.get("/probe/static/probe.txt").status == 200

    assert_http_redirect_and_admin_instance(host, http, https, lab_vars["web2py_admin_password"],
                                            redirect={**ADMIN_RUN_VARS, "lighttpd_fcgi_http_redirect": True},
                                            while_on=redirects, off=ADMIN_RUN_VARS)
