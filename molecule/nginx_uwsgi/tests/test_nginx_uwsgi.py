"""Scenario nginx_uwsgi: behaviour through nginx, uWSGI and TLS."""
from __future__ import annotations

import os
import subprocess

import pytest
from conftest import Client, assert_admin_login, tls_handshake

ROOT = "/srv/web2py/web2py"
SOCKET = "/run/uwsgi/web2py/socket"
SITE = "/etc/nginx/sites-enabled/web2py.conf"


@pytest.fixture
def http(host):
    return Client(host, "http://127.0.0.1", "/tmp/jar-http")


@pytest.fixture
def https(host):
    return Client(host, "https://127.0.0.1", "/tmp/jar-https")


def test_services_running(host):
    for name in ("nginx", "uwsgi-emperor"):
        svc = host.service(name)
        assert svc.is_running and svc.is_enabled
    assert host.run("systemctl show -p Type --value uwsgi-emperor").stdout.strip() == "notify"


def test_workers_run_as_web2py(host):
    procs = [line.split(None, 1) for line in host.run("ps -eo user=,args=").stdout.splitlines()]
    emperor = [user for user, args in procs if args.startswith("/usr/bin/uwsgi --ini")]
    vassal = [user for user, args in procs if args.startswith("[web2py] uWSGI")]
    assert emperor == ["root"]
    # the vassal's master and its 2 workers, all as web2py
    assert len(vassal) == 3 and set(vassal) == {"web2py"}


def test_socket_under_run_for_nginx_only(host):
    sock = host.file(SOCKET)
    assert sock.is_socket and sock.user == "www-data" and sock.mode == 0o600
    probe = "import socket; s = socket.socket(socket.AF_UNIX); s.connect('%s')" % SOCKET
    for user in ("web2py", "nobody"):
        out = host.run(f"sudo -u {user} python3 -c \"{probe}\"")
        assert out.rc != 0 and "Permission denied" in out.stderr
    assert host.run(f"sudo -u www-data python3 -c \"{probe}\"").rc == 0


def test_probe_over_http_and_https(http, https):
    for client in (http, https):
        r = client.get("/probe/default/ping")
        assert r.status == 200 and r.body == "pong"
        assert r.headers.get("x-powered-by") == "web2py"


def test_hsts_on_https_only(http, https):
    assert https.get("/probe/default/ping").headers["strict-transport-security"] == "max-age=63072000"
    assert "strict-transport-security" not in http.get("/probe/default/ping").headers


def test_server_version_hidden(http):
    assert http.get("/probe/default/ping").headers["server"] == "nginx"


def test_session_cookie_kept(https):
    assert [https.get("/probe/default/counter").json()["counter"] for _i in range(3)] == [1, 2, 3]


def test_db_row_written_and_read(http):
    data = http.get("/probe/default/dbrw").json()
    assert data["wrote"] == data["read"]


def test_backend_sees_scheme_and_port(http, https):
    assert https.get("/probe/default/env").json()["scheme"] == "https"
    assert https.get("/probe/default/env").json()["server_port"] == "443"
    assert http.get("/probe/default/env").json()["scheme"] == "http"


@pytest.mark.parametrize("path", ["/probe/static/probe.txt", "/probe/static/_1.2.3/probe.txt"])
def test_static_served_by_nginx(host, http, https, path):
    for client in (http, https):
        r = client.get(path)
        assert r.status == 200
        assert r.body == "probe static file served by the web server\n"
        # nginx answered: no web2py header, long expiry.
        assert "x-powered-by" not in r.headers
        assert r.headers["cache-control"] == "max-age=31536000"
    # HSTS survives the static location.
    assert "strict-transport-security" in https.get(path).headers


def test_static_still_served_with_uwsgi_stopped(host, http):
    host.run("systemctl stop uwsgi-emperor")
    try:
        assert http.get("/probe/static/probe.txt").status == 200
        assert http.get("/probe/default/ping").status == 502
    finally:
        host.run("systemctl start uwsgi-emperor")
        host.run("for i in $(seq 30); do test -S /run/uwsgi/web2py/socket && break; sleep 0.5; done")
    assert http.get("/probe/default/ping").status == 200


@pytest.mark.parametrize("path", ["/admin/default/index", "/admin", "/probe/appadmin/index", "/probe/appadmin"])
def test_admin_refused_over_http(http, path):
    assert http.get(path).status == 403


def test_admin_login_over_https(host, https, lab_vars):
    # Behind nginx web2py sees SERVER_PORT 443: the role wrote parameters_443.py.
    assert host.file(f"{ROOT}/parameters_443.py").mode == 0o600
    assert_admin_login(https, lab_vars["web2py_admin_password"])


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


def test_invalid_nginx_value_fails_and_site_keeps_serving(host, http):
    """A bad nginx value fails the play before install; the running site keeps serving."""
    before = host.file(SITE).sha256sum
    scenario = os.path.dirname(os.path.dirname(__file__))
    run = subprocess.run(
        ["ansible-playbook", "-v", "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(scenario, "bad-config.yml")],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "failed to validate" in output and "this_is_not_a_directive" in output
    # The run went through the admin password task: at -v its secret is still masked.
    assert "Write parameters_<port>.py" in output
    assert "lab-admin-S3cret!" not in output
    assert host.file(SITE).sha256sum == before
    assert http.get("/probe/default/ping").status == 200
    assert host.run("nginx -t").rc == 0
