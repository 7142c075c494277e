"""Scenario apache_wsgi: the host is switched from nginx_uwsgi to Apache + mod_wsgi."""
from __future__ import annotations

import pytest
from conftest import (
    assert_http_redirect_and_admin_instance,
    GZIP_STATIC_PATHS,
    assert_precompressed_static,
    assert_session_cookies_follow_the_scheme,
    assert_ipv6_and_http2,
    assert_check_mode_clean,
    secret_values,
    assert_mozilla_intermediate,
    ADMIN_PATHS,
    ODD_ADMIN_PATHS,
    assert_admin_not_reached,
    assert_appadmin_canary_over_https,
    assert_forwarding_headers_ignored,
    assert_host_port_not_believed,
    assert_trusted_proxy_believed,
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


def test_check_mode_on_the_converged_host_changes_nothing(lab_vars):
    """First, on the state converge left: --check --diff reports 0 changes, -v shows no secret."""
    assert_check_mode_clean(secrets=secret_values(lab_vars))


def test_switch_stopped_the_nginx_recipe(host):
    """prepare.yml ran nginx_uwsgi; converge took the host over."""
    assert host.package("nginx").is_installed  # it was there before the switch
    for name in ("nginx", "uwsgi-emperor"):
        svc = host.service(name)
        assert not svc.is_running and not svc.is_enabled
    assert not [args for _user, args in processes(host) if "uwsgi" in args or "nginx" in args]
    apache = host.service("apache2")
    assert apache.is_running and apache.is_enabled


def test_only_apache_listens_on_web_ports(host):
    for port in (80, 443):
        out = host.run(f"ss -Hltnp 'sport = :{port}'").stdout
        assert out and all('"apache2"' in line for line in out.splitlines()), out


def test_wsgi_daemons_run_as_web2py(host):
    daemons = [user for user, args in processes(host) if args.startswith("(wsgi:web2py)")]
    assert daemons == ["web2py", "web2py"]  # apache_wsgi_processes: 2
    # Apache's own workers never run the application and never run as web2py.
    apache = {user for user, args in processes(host) if args.startswith("/usr/sbin/apache2")}
    assert apache == {"root", "www-data"}


def test_probe_over_http_and_https(http, https):
    assert_probe_answers(http)
    assert_probe_answers(https)


def test_answers_come_from_the_daemon_process(host, https):
    """mod_wsgi's daemon (not Apache's embedded interpreter) runs web2py: the env action sees
    Apache as the server and the request as HTTPS on port 443."""
    env = https.get("/probe/default/env").json()
    assert env["scheme"] == "https" and env["server_port"] == "443"
    assert host.run("grep -c '^WSGIRestrictEmbedded On' %s" % SITE).stdout.strip() == "1"


def test_hsts_on_https_only(http, https):
    assert https.get("/probe/default/ping").headers["strict-transport-security"] == "max-age=63072000"
    assert "strict-transport-security" not in http.get("/probe/default/ping").headers


def test_server_version_hidden(http):
    r = http.get("/nothing/here")
    assert r.headers["server"] == "Apache"
    assert "Apache/" not in r.body


def test_trace_disabled(host):
    out = host.run("curl -s -o /dev/null -w '%{http_code}' -X TRACE http://127.0.0.1/probe/default/ping")
    assert out.stdout == "405"


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
    assert "strict-transport-security" in https.get(path).headers


@pytest.mark.parametrize("path", ["/wsgihandler.py", "/parameters_443.py", "/web2py.py",
                                  "/applications/probe/databases/storage.sqlite"])
def test_web2py_folder_not_served_as_files(http, path):
    """Only the handler is granted in the web2py folder: nothing there is ever sent as a file."""
    r = http.get(path)
    assert "pbkdf2" not in r.body and "import" not in r.body and "SQLite" not in r.body


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_refused_over_http(http, path):
    assert http.get(path).status == 403


def test_admin_login_over_https(host, https, lab_vars):
    assert host.file(f"{ROOT}/parameters_443.py").mode == 0o600
    assert_admin_login(https, lab_vars["web2py_admin_password"])


def test_host_header_port_does_not_choose_the_password_file(host, https):
    """Apache's default (UseCanonicalName Off) made SERVER_PORT the Host header's port: with
    "Host: localhost:8000" admin read parameters_8000.py, and a stale file's old password logged in."""
    assert_host_port_not_believed(host, https, ROOT)


def test_tls_versions(host):
    assert_tls_policy(host, 443)


def test_ipv6_and_http2(host):
    """Apache's `Listen <port>` takes IPv6 and IPv4 on a host with IPv6, and mod_http2 with
    `Protocols h2 http/1.1` answers HTTP/2 on HTTPS."""
    assert_ipv6_and_http2(host)


def test_mozilla_intermediate_tls_scan(host):
    """sslyze from the controller: Mozilla intermediate, the lab chain served and verified."""
    assert_mozilla_intermediate(host)


def test_tls_probe_can_detect_old_protocols(host):
    assert_tls_client_detects_old_protocols(host)


def test_config_is_valid(host):
    assert host.run("apache2ctl -t").rc == 0


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
    Apache and mod_wsgi (the daemon loads web2py through the web2py role's entry point, which keeps LC_CTYPE UTF-8 after web2py's import)."""
    assert_appconfig_as_written(https, lab_vars)


def test_error_writes_a_ticket(host, https):
    """An error answers 500 and web2py writes its ticket with traceback and snapshot."""
    assert_ticket_written(host, https)


def test_http_redirect_and_admin_instance(host, http, https, lab_vars):
    """The guide's admin recipe (web2py_admin_instance) and the HTTP redirect, on together (one
    converge) then off again: admin on 127.0.0.1:8001 only, the public site without admin or
    appadmin over HTTPS too; plain HTTP only redirects to HTTPS."""
    assert_http_redirect_and_admin_instance(host, http, https, lab_vars["web2py_admin_password"],
                                            redirect={"apache_wsgi_http_redirect": True})
