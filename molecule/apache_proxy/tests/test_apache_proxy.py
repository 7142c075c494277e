"""Scenario apache_proxy: Apache mod_proxy in front of web2py under gunicorn on 127.0.0.1:8000,
then (last test) under web2py's own server, Rocket."""
from __future__ import annotations

import json
import time

import pytest
from conftest import (
    assert_http_redirect_and_admin_instance,
    GZIP_STATIC_PATHS,
    assert_precompressed_static,
    assert_session_cookies_follow_the_scheme,
    assert_ipv6_and_http2,
    Client,
    probe_env,
    assert_check_mode_clean,
    secret_values,
    assert_mozilla_intermediate,
    ADMIN_PATHS,
    ODD_ADMIN_PATHS,
    assert_admin_not_reached,
    assert_appadmin_canary_over_https,
    assert_forwarding_headers_ignored,
    assert_trusted_proxy_believed,
    run_playbook,
    STATIC_PATHS,
    assert_admin_login,
    assert_appconfig_as_written,
    assert_bad_config_rejected,
    assert_db_roundtrip,
    assert_probe_answers,
    assert_session_kept,
    assert_static_by_web_server,
    assert_tls_client_detects_old_protocols,
    assert_tls_policy,
    assert_ticket_written,
    processes,
)

ROOT = "/srv/web2py/web2py"
SITE = "/etc/apache2/sites-available/web2py.conf"
UNIT = "/etc/systemd/system/web2py.service"


def test_check_mode_on_the_converged_host_changes_nothing(lab_vars):
    """First, on the state converge left: --check --diff reports 0 changes, -v shows no secret."""
    assert_check_mode_clean(secrets=secret_values(lab_vars))


def test_services_running(host):
    for name in ("apache2", "web2py"):
        svc = host.service(name)
        assert svc.is_running and svc.is_enabled


def test_backend_is_gunicorn_as_web2py_without_password_on_command_line(host, lab_vars):
    backend = [(user, args) for user, args in processes(host) if "anyserver.py" in args]
    # gunicorn's arbiter and 2 workers (web2py_server_gunicorn_workers), all as web2py
    assert len(backend) == 3 and {user for user, _args in backend} == {"web2py"}
    assert all("-s gunicorn -i 127.0.0.1 -p 8000" in args for _user, args in backend)
    secret = lab_vars["web2py_admin_password"]
    assert all(secret not in args for _user, args in processes(host))
    assert secret not in host.file(UNIT).content_string
    assert "--workers 2" in host.file(UNIT).content_string


def test_only_apache_listens_on_public_addresses(host):
    listeners = host.run("ss -Hltnp").stdout.splitlines()
    assert listeners
    backend = [line for line in listeners if line.split()[3].endswith(":8000")]
    assert [line.split()[3] for line in backend] == ["127.0.0.1:8000"]
    for line in listeners:
        local = line.split()[3]
        if local.startswith(("127.", "[::1]")):
            continue
        assert '"apache2"' in line, line
    # and nothing answers on the backend port from the container's own address
    ip = host.run("hostname -I").stdout.split()[0]
    assert host.run(f"curl -s --max-time 5 http://{ip}:8000/probe/default/ping").rc != 0


def test_probe_over_http_and_https(http, https):
    assert_probe_answers(http)
    assert_probe_answers(https)


def test_backend_sees_https_and_its_own_port(http, https):
    env = https.get("/probe/default/env?a=1&b=2").json()
    assert env["is_https"] is True and env["scheme"] == "https"
    assert env["server_port"] == "8000"  # so admin reads parameters_8000.py
    assert env["query"] == "a=1&b=2"
    assert env["host"] == "127.0.0.1"  # ProxyPreserveHost
    assert http.get("/probe/default/env").json()["is_https"] is False


def test_client_cannot_claim_https_over_http(http):
    env = http.get("/probe/default/env", "-H", "X-Forwarded-Proto: https").json()
    assert env["is_https"] is False and env["scheme"] == "http"


def test_server_header_is_apache_without_version(http, https):
    for client in (http, https):
        assert client.get("/probe/default/ping").headers["server"] == "Apache"
        assert client.get("/nothing/here").headers["server"] == "Apache"


def test_hsts_on_https_only(http, https):
    assert https.get("/probe/default/ping").headers["strict-transport-security"] == "max-age=63072000"
    assert "strict-transport-security" not in http.get("/probe/default/ping").headers


def test_only_listed_apps_are_proxied(http):
    for path in ("/examples/default/index", "/probex/default/ping"):
        r = http.get(path)
        # refused by Apache (empty document root), never answered by web2py
        assert r.status in (403, 404) and "x-powered-by" not in r.headers
    root = http.get("/")
    assert root.status == 302 and root.headers["location"].endswith("/probe/")


def test_session_cookie_kept(https):
    assert_session_kept(https)


@pytest.mark.parametrize("path", GZIP_STATIC_PATHS)
def test_precompressed_static_files_to_clients_that_accept_gzip(host, path):
    assert_precompressed_static(host, "https://127.0.0.1", path)
    assert_precompressed_static(host, "http://127.0.0.1", path)


def test_session_cookies_httponly_samesite_and_secure_over_https(host):
    assert_session_cookies_follow_the_scheme(host)


def test_db_row_written_and_read(http):
    assert_db_roundtrip(http)


@pytest.mark.parametrize("path", STATIC_PATHS)
def test_static_served_by_apache(http, https, path):
    assert_static_by_web_server(http, path)
    assert_static_by_web_server(https, path)


def test_static_still_served_with_backend_stopped(host, http):
    host.run("systemctl stop web2py")
    try:
        assert http.get("/probe/static/probe.txt").status == 200
        assert http.get("/probe/default/ping").status == 503
    finally:
        host.run("systemctl start web2py")
    deadline = time.monotonic() + 30
    while http.get("/probe/default/ping").status != 200:
        assert time.monotonic() < deadline, "backend did not come back within 30 s"
        time.sleep(0.5)


def test_backend_restart_causes_no_lasting_503(host, http):
    """retry=0: once the restarted backend listens, Apache uses it at once."""
    assert host.run("systemctl restart web2py").rc == 0
    waited = 0.0
    while http.get("/probe/default/ping").status != 200:
        assert waited < 20, "still failing 20 s after the restart"
        time.sleep(0.25)
        waited += 0.25
    # From then on every request succeeds (a 60 s error state would answer 503 here).
    assert [http.get("/probe/default/ping").status for _i in range(10)] == [200] * 10


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_refused_over_http(http, path):
    assert http.get(path).status == 403


def test_admin_login_over_https(host, https, lab_vars):
    # Behind the proxy web2py sees SERVER_PORT 8000: parameters_8000.py, not parameters_443.py.
    assert host.file(f"{ROOT}/parameters_8000.py").mode == 0o600
    assert not host.file(f"{ROOT}/parameters_443.py").exists
    assert_admin_login(https, lab_vars["web2py_admin_password"])


def test_tls_versions(host):
    assert_tls_policy(host, 443)


def test_ipv6_and_http2(host):
    """Apache's `Listen <port>` takes IPv6 and IPv4 on a host with IPv6, and mod_http2 with
    `Protocols h2 http/1.1` answers HTTP/2 on HTTPS (to the backend it stays HTTP/1.1)."""
    assert_ipv6_and_http2(host)


def test_mozilla_intermediate_tls_scan(host):
    """sslyze from the controller: Mozilla intermediate, the lab chain served and verified."""
    assert_mozilla_intermediate(host)


def test_tls_probe_can_detect_old_protocols(host):
    assert_tls_client_detects_old_protocols(host)


def test_web2py_change_restarts_the_backend(host, http):
    """A change of web2py's settings (an appconfig.ini value) notifies 'web2py changed': the
    backend (web2py_server's service) restarts with it."""
    pid = host.run("systemctl show -p MainPID --value web2py").stdout.strip()
    run = run_playbook("converge.yml", "-e", "web2py_session_expiry=7200")
    assert run.returncode == 0, run.stdout[-2000:]
    assert "Restart web2py's server" in run.stdout
    assert host.run("systemctl show -p MainPID --value web2py").stdout.strip() != pid
    deadline = time.monotonic() + 30
    while http.get("/probe/default/ping").status != 200:
        assert time.monotonic() < deadline
        time.sleep(0.5)


def test_invalid_apache_value_fails_and_site_keeps_serving(host, http, lab_vars):
    assert_bad_config_rejected(host, http, "bad-config.yml", "ThisIsNotADirective", SITE,
                               lab_vars["web2py_admin_password"])
    assert host.run("apache2ctl -t").rc == 0


@pytest.mark.parametrize("scheme,port", [("http", 80), ("https", 443)])
def test_forged_forwarding_headers_ignored(host, scheme, port):
    assert_forwarding_headers_ignored(host, scheme, port)


@pytest.mark.parametrize("scheme,port", [("http", 80), ("https", 443)])
def test_trusted_proxy_believed(host, scheme, port):
    assert_trusted_proxy_believed(host, scheme, port)


def test_appadmin_canary_answers_over_https(https):
    assert_appadmin_canary_over_https(https)


@pytest.mark.parametrize("path", ODD_ADMIN_PATHS)
def test_odd_admin_paths_refused_over_http(http, path):
    assert_admin_not_reached(http, path)


def test_appconfig_as_written_over_https(https, lab_vars):
    """Non-ASCII, %, quotes, ; and # in appconfig values reach web2py as written through
    Apache and the gunicorn backend (web2py.service runs Python in UTF-8 mode)."""
    assert_appconfig_as_written(https, lab_vars)


def test_error_writes_a_ticket(host, https):
    """An error answers 500 and web2py writes its ticket with traceback and snapshot."""
    assert_ticket_written(host, https)


def test_rocket_backend_gets_no_forged_forwarding_headers(host, http, https, lab_vars):
    """Last: the same site with web2py's own server (Rocket), which, unlike gunicorn, maps
    X_Forwarded_Proto to the same variable as X-Forwarded-Proto. Straight to Rocket such a
    header makes web2py see HTTPS (the control); through Apache, no spelling of a forwarding
    header a client sends gets there, and admin stays refused over plain HTTP."""
    run = run_playbook("converge.yml", "-e", json.dumps({"apache_proxy_backend_server": "rocket",
                                                         "apache_proxy_http_redirect": False}))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert lab_vars["web2py_admin_password"] not in run.stdout + run.stderr
    backend = [args for user, args in processes(host) if user == "web2py" and "web2py.py" in args]
    assert backend and all("gunicorn" not in args and "anyserver" not in args for args in backend), backend
    assert "127.0.0.1:8000" in host.run("ss -Hltn").stdout
    direct = probe_env(Client(host, "http://127.0.0.1:8000", "/tmp/jar-rocket"), "-H", "X_Forwarded_Proto: https")
    assert direct["is_https"] is True, direct
    for scheme, port in (("http", 80), ("https", 443)):
        assert_forwarding_headers_ignored(host, scheme, port)
        assert_trusted_proxy_believed(host, scheme, port)
    for path in ODD_ADMIN_PATHS:
        assert_admin_not_reached(http, path)
    assert_appadmin_canary_over_https(https)


@pytest.mark.parametrize("path, header", [("/probe/probe/appadmin/index", "SCRIPT_NAME: /probe"),
                                          ("/probe/probe/admin/default/index", "SCRIPT_NAME: /probe"),
                                          ("/probe/default/ping", "PATH_INFO: /probe/appadmin/index")])
def test_a_path_prefix_in_a_header_routes_nothing_else(http, path, header):
    """gunicorn takes SCRIPT_NAME and PATH_INFO headers from Apache (a peer it trusts) and would
    cut the prefix off the path Apache checked: Apache drops them, the launcher refuses any
    SCRIPT_NAME. Over plain HTTP no appadmin canary and no admin session come back."""
    answer = http.get(path, "--interface", "127.0.0.3", "-H", header)
    assert "probe appadmin canary" not in answer.body and "session_id_admin" not in answer.headers.get("set-cookie", ""), answer.body[:300]
    assert answer.status != 200 or answer.body == "pong", (answer.status, answer.body[:300])


def test_http_redirect_and_admin_instance(host, http, https, lab_vars):
    """The guide's admin recipe (web2py_admin_instance) and the HTTP redirect, on together (one
    converge) then off again: admin on 127.0.0.1:8001 only, the public site without admin or
    appadmin over HTTPS too; plain HTTP only redirects to HTTPS."""
    assert_http_redirect_and_admin_instance(host, http, https, lab_vars["web2py_admin_password"],
                                            redirect={"apache_proxy_http_redirect": True})
