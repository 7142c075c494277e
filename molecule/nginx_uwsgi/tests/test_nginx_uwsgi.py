"""Scenario nginx_uwsgi: behaviour through nginx, uWSGI and TLS."""
from __future__ import annotations

import json
import re
import shlex
import time

import pytest
from conftest import (
    assert_http_redirect_and_admin_instance,
    GZIP_STATIC_PATHS,
    assert_precompressed_static,
    assert_session_cookies_follow_the_scheme,
    assert_ipv6_and_http2,
    assert_rotation_preview_hides_secrets,
    run_playbook,
    write_tls_fixtures,
    secret_values,
    assert_mozilla_check_detects_a_weak_server,
    assert_mozilla_intermediate,
    ADMIN_PATHS,
    ODD_ADMIN_PATHS,
    assert_admin_not_reached,
    assert_appadmin_canary_over_https,
    assert_forwarding_headers_ignored,
    assert_host_port_not_believed,
    assert_raw_admin_requests_refused,
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
    assert_ticket_written,
    assert_tls_policy,
    assert_unix_socket_for_only,
    processes,
)

ROOT = "/srv/web2py/web2py"
SOCKET = "/run/uwsgi/web2py/socket"
SITE = "/etc/nginx/sites-enabled/web2py.conf"
CONTROL_VASSAL = "/etc/uwsgi-emperor/vassals/locale-control.ini"


def test_check_mode_previews_a_password_rotation_alone_and_hides_secrets(lab_vars):
    """First, on the state converge left, one --check --diff -v run with a new admin password and a
    database URI with a password (appconfig.ini) previews the changes and shows neither admin
    password nor the database password; no other task reports a change (check mode on the converged
    host changes nothing else) and no secret of the scenario shows."""
    rotation = {"web2py_admin_password": "rotated-Admin-Passw0rd-5c9d",
                "web2py_probe_db_uri": "postgres://web2py:rotated-Db-Passw0rd-81fe@127.0.0.1:5432/web2py"}
    assert_rotation_preview_hides_secrets(
        rotation,
        secret_values(lab_vars) + (lab_vars["web2py_admin_password"], rotation["web2py_admin_password"], "rotated-Db-Passw0rd-81fe"),
        tasks=("Write parameters_<port>.py", "Render private/appconfig.ini"),
        # what follows from them: the driver of the new URI's database (the probe's own URI is
        # SQLite) in the virtualenv, and uWSGI's graceful reload for the new appconfig.ini
        also=("Create the virtualenv with web2py's runtime dependencies", "Reload the web2py vassal gracefully"))


def test_took_the_host_over_from_lighttpd(host):
    """prepare.yml left lighttpd on port 80; the role stopped and disabled it."""
    lighttpd = host.service("lighttpd")
    assert not lighttpd.is_running and not lighttpd.is_enabled


def test_services_running(host):
    for name in ("nginx", "uwsgi-emperor"):
        svc = host.service(name)
        assert svc.is_running and svc.is_enabled
    assert host.run("systemctl show -p Type --value uwsgi-emperor").stdout.strip() == "notify"


def test_workers_run_as_web2py(host):
    procs = processes(host)
    emperor = [user for user, args in procs if args.startswith("/usr/bin/uwsgi --ini")]
    vassal = [user for user, args in procs if args.startswith("[web2py] uWSGI")]
    assert emperor == ["root"]
    # the vassal's master and its 2 workers, all as web2py
    assert len(vassal) == 3 and set(vassal) == {"web2py"}


def test_socket_under_run_for_nginx_only(host):
    assert_unix_socket_for_only(host, SOCKET, "www-data")


def test_probe_over_http_and_https(http, https):
    assert_probe_answers(http)
    assert_probe_answers(https)


def test_hsts_on_https_only(http, https):
    assert https.get("/probe/default/ping").headers["strict-transport-security"] == "max-age=63072000"
    assert "strict-transport-security" not in http.get("/probe/default/ping").headers


def test_server_version_hidden(http):
    assert http.get("/probe/default/ping").headers["server"] == "nginx"


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


def test_backend_sees_scheme_and_port(http, https):
    assert https.get("/probe/default/env").json()["scheme"] == "https"
    assert https.get("/probe/default/env").json()["server_port"] == "443"
    assert http.get("/probe/default/env").json()["scheme"] == "http"


def test_appconfig_as_written_over_https(https, lab_vars):
    """Non-ASCII, %, quotes, ; and # in appconfig values reach web2py as written through
    nginx and uWSGI (the vassal's entry point keeps LC_CTYPE UTF-8 after web2py's import)."""
    assert_appconfig_as_written(https, lab_vars)


def test_web2py_handler_alone_reads_appconfig_as_ascii_under_uwsgi(host, https):
    """Control for the entry point: web2py's own wsgihandler:application in a second vassal
    (same user, virtualenv and folder; HTTP on 127.0.0.1:9098 only) fails the same request with
    an ASCII decode error: web2py's import sets LC_CTYPE to "C", and Python in uWSGI has no
    UTF-8 mode to fall back on. The site's vassal serves it meanwhile."""
    ini = "\n".join([
        "[uwsgi]", "strict = true", "plugins = python3", "master = true", "need-app = true",
        "uid = web2py", "gid = web2py", "http-socket = 127.0.0.1:9098", f"chdir = {ROOT}",
        "virtualenv = /srv/web2py/venv", f"pythonpath = {ROOT}", "module = wsgihandler:application",
        "processes = 1", "",
    ])
    assert host.run(f"printf %s {shlex.quote(ini)} > {CONTROL_VASSAL}").rc == 0
    try:
        up = host.run("for i in $(seq 60); do curl -s -o /dev/null http://127.0.0.1:9098/probe/default/ping && exit 0; "
                      "sleep 0.5; done; exit 1")
        assert up.rc == 0, host.run("journalctl -u uwsgi-emperor -n 30 --no-pager").stdout
        body = host.run("curl -s http://127.0.0.1:9098/probe/default/config").stdout
        assert "Ticket issued" in body, body[:300]
        ticket = re.search(r"probe/([0-9a-zA-Z.:_-]+)", body.split("Ticket issued", 1)[1]).group(1)
        script = "import pickle, sys; print(pickle.load(open(sys.argv[1], 'rb'))['traceback'])"
        traceback = host.run(f"cd {ROOT} && sudo -u web2py /srv/web2py/venv/bin/python -c {shlex.quote(script)} "
                             f"{ROOT}/applications/probe/errors/{ticket}").stdout
        assert "UnicodeDecodeError: 'ascii' codec" in traceback and "appconfig.py" in traceback, traceback[-1500:]
        assert https.get("/probe/default/config").status == 200
    finally:
        host.run(f"rm -f {CONTROL_VASSAL}")
    host.run("for i in $(seq 40); do curl -s -o /dev/null http://127.0.0.1:9098/ || exit 0; sleep 0.5; done")
    assert host.run("curl -s -o /dev/null http://127.0.0.1:9098/").rc != 0


def test_error_writes_a_ticket(host, https):
    """An error answers 500 and web2py writes its ticket with traceback and snapshot."""
    assert_ticket_written(host, https)


@pytest.mark.parametrize("path", STATIC_PATHS)
def test_static_served_by_nginx(http, https, path):
    assert_static_by_web_server(http, path)
    assert_static_by_web_server(https, path)
    # HSTS survives the static location.
    assert "strict-transport-security" in https.get(path).headers


def test_static_still_served_with_uwsgi_stopped(host, http):
    """After the tests above (an error ticket, requests on every worker), the emperor stops in
    seconds and leaves no worker behind: a worker waiting in Python's finalization for its other
    request thread outlived its master, and the stop waited for systemd to kill it (~2 min)."""
    took = host.run("start=$(date +%s%N); systemctl stop uwsgi-emperor; echo $(( ($(date +%s%N) - start) / 1000000 ))")
    try:
        assert took.rc == 0 and int(took.stdout.strip()) < 15000, f"stop took {took.stdout.strip()} ms"
        # ([u]: the pattern does not match the shell running it)
        assert host.run("ps -eo args | grep -c '[u]WSGI worker'").stdout.strip() == "0", \
            host.run("ps -eo pid,ppid,etime,args | grep -i '[u]wsgi'").stdout
        assert http.get("/probe/static/probe.txt").status == 200
        assert http.get("/probe/default/ping").status == 502
    finally:
        host.run("systemctl start uwsgi-emperor")
        host.run("for i in $(seq 30); do test -S /run/uwsgi/web2py/socket && break; sleep 0.5; done")
    assert http.get("/probe/default/ping").status == 200


def test_emperor_restarts_promptly_and_cleanly(host, http):
    """die-on-term makes SIGTERM the shutdown signal (SIGQUIT would be a brutal reload): a
    restart must not respawn vassals and workers for ~30 s before the emperor exits."""
    since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    took = host.run("start=$(date +%s%N); systemctl restart uwsgi-emperor; echo $(( ($(date +%s%N) - start) / 1000000 ))")
    assert took.rc == 0, took.stderr
    assert int(took.stdout.strip()) < 10000, f"restart took {took.stdout.strip()} ms"
    host.run("for i in $(seq 30); do test -S /run/uwsgi/web2py/socket && break; sleep 0.5; done")
    assert http.get("/probe/default/ping").status == 200
    journal = host.run(f"journalctl -u uwsgi-emperor --since '{since}' --no-pager").stdout
    assert "goodbye to uWSGI" in journal
    assert "lost communication with the Emperor" not in journal and "RE)spawned uWSGI master" not in journal


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_refused_over_http(http, path):
    assert http.get(path).status == 403


def test_admin_login_over_https(host, https, lab_vars):
    # Behind nginx web2py sees SERVER_PORT 443: the role wrote parameters_443.py.
    assert host.file(f"{ROOT}/parameters_443.py").mode == 0o600
    assert_admin_login(https, lab_vars["web2py_admin_password"])


def test_raw_admin_requests_refused_over_http(host):
    """Absolute request lines, HTTP/1.0 without Host, encoded slashes, a pipelined request."""
    assert_raw_admin_requests_refused(host, 80)


def test_host_header_port_does_not_choose_the_password_file(host, https):
    """SERVER_PORT is nginx's own port ($server_port), whatever port the Host header names: a
    password file planted for another port is never read."""
    assert_host_port_not_believed(host, https, ROOT)


def test_tls_versions(host):
    assert_tls_policy(host, 443)


def test_ipv6_and_http2(host):
    """nginx listens on [::] as well as IPv4 (nginx_uwsgi_ipv6) and speaks HTTP/2 on HTTPS (Debian 13:
    `http2 on;`, Debian 12: `listen ... http2`)."""
    assert_ipv6_and_http2(host)


def test_mozilla_intermediate_tls_scan(host):
    """sslyze from the controller: Mozilla intermediate, the lab chain served and verified."""
    assert_mozilla_intermediate(host)


def test_mozilla_scan_can_fail(host):
    assert_mozilla_check_detects_a_weak_server(host)


def test_tls_probe_can_detect_old_protocols(host):
    assert_tls_client_detects_old_protocols(host)


def test_invalid_nginx_value_fails_and_site_keeps_serving(host, http, lab_vars):
    assert_bad_config_rejected(host, http, "bad-config.yml", "this_is_not_a_directive", SITE,
                               lab_vars["web2py_admin_password"])
    assert host.run("nginx -t").rc == 0


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


def served_certificate(host) -> str:
    """SHA-256 fingerprint of the certificate nginx serves on 443."""
    out = host.run("echo | timeout 10 openssl s_client -connect 127.0.0.1:443 -servername localhost 2>/dev/null"
                   " | openssl x509 -noout -fingerprint -sha256")
    assert out.rc == 0 and "Fingerprint=" in out.stdout, out.stdout + out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("files, variable", [
    ({"web2py_tls_key_src": "other.key"}, "web2py_tls_key_src"),
    ({"web2py_tls_cert_src": "expired.crt", "web2py_tls_key_src": "leaf.key", "web2py_tls_chain_src": ""},
     "web2py_tls_cert_src"),
], ids=["key-mismatch", "cert-expired"])
def test_bad_tls_file_fails_and_the_old_certificate_keeps_serving(host, https, tmp_path, files, variable):
    """On the converged host, a wrong operator TLS file (test-only, conftest.write_tls_fixtures)
    fails the play with a message naming its variable; the installed files and the certificate
    nginx serves are the ones before, and the site answers over HTTPS."""
    paths = write_tls_fixtures(str(tmp_path))
    installed = {name: host.file(f"/etc/web2py-deploy/tls/{name}").sha256sum for name in ("server.crt", "server.key")}
    before = served_certificate(host)
    extra = {name: paths[value] if value else "" for name, value in files.items()}
    run = run_playbook("converge.yml", "-e", json.dumps(extra))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    fatal = re.findall(r"^(?:fatal|failed): .*$", output, re.M)
    assert fatal and variable in fatal[0], fatal
    assert "PRIVATE KEY-----" not in output
    with open(extra["web2py_tls_key_src"], encoding="ascii") as key:
        body = [line for line in key.read().splitlines() if line and not line.startswith("-----")]
    assert body and not [line for line in body if line in output]  # no line of the key's PEM
    assert {name: host.file(f"/etc/web2py-deploy/tls/{name}").sha256sum for name in installed} == installed
    assert served_certificate(host) == before
    assert_probe_answers(https)


def test_next_run_puts_back_what_was_changed_by_hand(host, https):
    """No shortcut stops checking: a service stopped and disabled, a package removed, the site and
    vassal files removed, the WSGI entry point, wsgihandler.py and a file of web2py's code edited
    and another deleted by hand, the web2py user given a shell, an unwanted application (examples)
    and a stale admin parameters file put back by hand are all undone by the next converge, and
    the site answers again. A local fact of the front ends that is not JSON is reported and
    written again."""
    fact = "/etc/ansible/facts.d/web2py_frontend.fact"
    handler, examples = "/srv/web2py/web2py/wsgihandler.py", "/srv/web2py/web2py/applications/examples"
    stale = "/srv/web2py/web2py/parameters_8080.py"
    vassal = "/etc/uwsgi-emperor/vassals/web2py.ini"
    site = "/etc/nginx/sites-enabled/web2py.conf"
    entry = "/usr/local/libexec/web2py-deploy/web2py-wsgi.py"
    code, gone = "/srv/web2py/web2py/gluon/contenttype.py", "/srv/web2py/web2py/anyserver.py"
    # written by web2py.deploy.web2py_files (several files in one module run)
    helper, timer = "/usr/local/libexec/web2py-deploy/check-candidate", "/etc/systemd/system/web2py-sessions2trash@.timer"
    before = {path: host.file(path).sha256sum for path in (vassal, site, entry, code, gone, helper, timer, handler)}
    assert not host.file(examples).exists and not host.file(stale).exists
    for command in ("systemctl disable --now nginx", "systemctl disable --now uwsgi-emperor",
                    f"rm -f {vassal} {site} {gone} {timer}", f"chmod 0666 {helper}",
                    f"echo '# edited' >> {entry}", f"echo '# edited' >> {code}", f"echo '# edited' >> {handler}",
                    "usermod -s /bin/bash web2py", f"mkdir -p {examples}/controllers", f"touch {stale}",
                    "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q acl", f"echo 'not json' > {fact}",
                    "gpasswd -d www-data web2py", "ln -s ../sites-available/default /etc/nginx/sites-enabled/default"):
        assert host.run(command).rc == 0, command
    assert host.run("dpkg-query -W -f '${Status}' acl").stdout.strip() != "install ok installed"
    run = run_playbook("converge.yml")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "holds no record of web2py" in run.stdout
    record = json.loads(host.file(fact).content_string)["web2py"]
    assert record == {"name": "nginx_uwsgi", "units": ["nginx.service", "uwsgi-emperor.service"]}, record
    for name in ("nginx", "uwsgi-emperor"):
        assert host.service(name).is_running and host.service(name).is_enabled, name
    assert {path: host.file(path).sha256sum for path in before} == before
    assert host.file(helper).mode == 0o755 and host.file(helper).user == "root"
    assert host.file(handler).mode == 0o640 and host.file(handler).user == "root"
    assert host.user("web2py").shell == "/usr/sbin/nologin"
    assert "web2py" in host.user("www-data").groups and not host.file("/etc/nginx/sites-enabled/default").exists
    assert not host.file(examples).exists and not host.file(stale).exists
    assert host.run("dpkg-query -W -f '${Status}' acl").stdout.strip() == "install ok installed"
    for _attempt in range(30):
        if https.get("/probe/default/ping").body == "pong":
            break
        time.sleep(1)
    assert https.get("/probe/default/ping").body == "pong"


def test_socket_folder_is_roots_so_the_web2py_user_cannot_plant_a_link(host):
    """uWSGI binds, chowns and chmods the socket as root, by path: a link the web2py user put in
    its place (after killing its own master, which the root emperor respawns) made root chown any
    file on the host. The folder is root's: the web2py user can neither replace nor add entries."""
    folder = host.file("/run/uwsgi/web2py")
    assert folder.user == "root" and folder.mode & 0o022 == 0
    out = host.run("sudo -u web2py sh -c 'ln -s /etc/shadow /run/uwsgi/web2py/x || mv -f /run/uwsgi/web2py/socket /run/uwsgi/web2py/y'")
    assert out.rc != 0
    assert host.file(SOCKET).is_socket and host.file(SOCKET).user == "www-data"
    assert host.file("/run/uwsgi/web2py.stats/stats").is_socket


def test_http_redirect_and_admin_instance(host, http, https, lab_vars):
    """The guide's admin recipe (web2py_admin_instance) and the HTTP redirect, on together (one
    converge) then off again: admin on 127.0.0.1:8001 only, the public site without admin or
    appadmin over HTTPS too; plain HTTP only redirects to HTTPS. The admin is
    reached through a real SSH tunnel; a --check run previews the instance first."""
    assert_http_redirect_and_admin_instance(host, http, https, lab_vars["web2py_admin_password"],
                                            redirect={"nginx_uwsgi_http_redirect": True}, tunnel=True, check=True)
