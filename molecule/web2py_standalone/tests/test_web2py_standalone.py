"""Scenario web2py_standalone: web2py's own server (Rocket) on 0.0.0.0:8000, no web server in front
on the host; 127.0.0.2 plays the trusted balancer, 127.0.0.3 any other client."""
from __future__ import annotations

import json
import shlex

from conftest import (
    GZIP_STATIC_PATHS,
    assert_precompressed_static,
    Client,
    assert_admin_login,
    assert_appconfig_as_written,
    assert_check_mode_clean,
    assert_db_roundtrip,
    assert_forwarding_headers_ignored,
    assert_probe_answers,
    assert_session_cookie_flags,
    assert_session_kept,
    assert_ticket_written,
    assert_trusted_proxy_believed,
    changed_tasks,
    processes,
    run_playbook,
    secret_values,
)

ROOT = "/srv/web2py/web2py"
UNIT = "/etc/systemd/system/web2py.service"
LAUNCHER = "/usr/local/libexec/web2py-deploy/web2py-server.py"
FACT = "/etc/ansible/facts.d/web2py_frontend.fact"
# What a client says to pass for a local client over HTTPS (every spelling web2py reads).
FORGED = ("-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-For: 127.0.0.1", "-H", "X-Real-IP: 127.0.0.1",
          "-H", "Forwarded: for=127.0.0.1;proto=https", "-H", "X_Forwarded_Proto: https", "-H", "X.Forwarded.Proto: https",
          "-H", "X-Forwarded.Proto: https", "-H", "x.forwarded-proto: https")


def test_check_mode_on_the_converged_host_changes_nothing(lab_vars):
    """First, on the state converge left: --check --diff reports 0 changes, -v shows no secret."""
    assert_check_mode_clean(secrets=secret_values(lab_vars))


def test_rocket_runs_as_web2py_through_the_launcher_without_the_password(host, lab_vars):
    svc = host.service("web2py")
    assert svc.is_running and svc.is_enabled
    server = [(user, args) for user, args in processes(host) if "web2py.py" in args and " -K " not in args]
    assert server and {user for user, _args in server} == {"web2py"}, server
    start = f"/srv/web2py/venv/bin/python {LAUNCHER} --trust 127.0.0.2 --trust fd00:1:2::/48 -- {ROOT}/web2py.py "
    assert all(args.startswith(start) for _user, args in server), server
    secret = lab_vars["web2py_admin_password"]
    assert all(secret not in args for _user, args in processes(host))
    assert secret not in host.file(UNIT).content_string
    launcher = host.file(LAUNCHER)
    assert (launcher.user, launcher.group, launcher.mode) == ("root", "root", 0o644)
    show = host.run("systemctl show -p User -p NoNewPrivileges -p ProtectSystem -p ReadWritePaths web2py").stdout
    assert "User=web2py" in show and "NoNewPrivileges=yes" in show and "ProtectSystem=strict" in show, show


def test_listens_on_every_address(host):
    listeners = [line.split()[3] for line in host.run("ss -Hltn").stdout.splitlines()]
    assert "0.0.0.0:8000" in listeners, listeners


def test_probe_answers_with_its_session_database_and_settings(host, lab_vars):
    client = Client(host, "http://127.0.0.1:8000", "/tmp/jar-standalone")
    assert_probe_answers(client)
    assert_session_kept(client)
    assert_db_roundtrip(client)
    assert_appconfig_as_written(client, lab_vars)
    assert_ticket_written(host, client)
    # and from the host's own address on its network
    address = host.run("hostname -I").stdout.split()[0]
    assert_probe_answers(Client(host, f"http://{address}:8000", "/tmp/jar-standalone-net"))


def test_session_cookie_of_the_cookie_store_is_httponly_strict_and_secure_over_https(host):
    """session_store=cookie: the cookie that holds the session gets what the session id cookie
    gets (web2py marks neither Secure, nor this one HttpOnly or SameSite): Secure only when the
    balancer says the client came over HTTPS, never when a client claims it."""
    base, names = "http://127.0.0.1:8000", ("session_data_probe",)
    assert_session_cookie_flags(host, base, False, same_site="Strict", names=names)
    assert_session_cookie_flags(host, base, False, "--interface", "127.0.0.3", *FORGED, same_site="Strict", names=names)
    assert_session_cookie_flags(host, base, True, "--interface", "127.0.0.2", "-H", "X-Forwarded-Proto: https",
                                same_site="Strict", names=names)


def test_cookie_store_keeps_sessions_also_from_cookies_web2py_3_wrote_as_bytes(host):
    """web2py 3.3.3's cookie store fails every request after a session's first (its
    secure_loads wants bytes) and writes the session as b'...': the managed model hands it
    bytes, writes text, and reads the b'...' cookies written before."""
    client = Client(host, "http://127.0.0.1:8000", "/tmp/jar-cookie-store")
    assert [client.get("/probe/default/counter").json()["counter"] for _i in range(3)] == [1, 2, 3]
    value = host.run("awk '$6 == \"session_data_probe\" {print $7}' /tmp/jar-cookie-store").stdout.strip()
    assert value.startswith("hmac256:"), value
    old = "Cookie: session_data_probe=\"b'" + value + "'\""
    answer = host.run(f"curl -s -H {shlex.quote(old)} http://127.0.0.1:8000/probe/default/counter")
    assert json.loads(answer.stdout) == {"counter": 4}, answer.stdout[:300]


def test_precompressed_static_files_from_web2pys_own_handler(host):
    """No web server: web2py's static handler sends the .gz the role made (to clients that name
    gzip in lower case, q=0 or not: web2py's own rule)."""
    for path in GZIP_STATIC_PATHS:
        assert_precompressed_static(host, "http://127.0.0.1:8000", path, web2py_handler=True)


def test_forwarding_headers_of_other_clients_are_ignored(host):
    assert_forwarding_headers_ignored(host, "http", 8000)


def test_the_balancer_is_believed(host):
    assert_trusted_proxy_believed(host, "http", 8000)


def test_admin_locally_with_the_password_of_its_port(host, lab_vars):
    assert_admin_login(Client(host, "http://127.0.0.1:8000", "/tmp/jar-admin-local"), lab_vars["web2py_admin_password"])
    files = sorted(f for f in host.run(f"ls {ROOT}").stdout.split() if f.startswith("parameters_"))
    assert files == ["parameters_8000.py"], files


def test_admin_refused_to_a_client_that_claims_https(host):
    """The launcher drops the forged headers: web2py sees plain HTTP from a client that is not
    local, and admin refuses ("insecure channel") instead of showing its login page."""
    client = Client(host, "http://127.0.0.1:8000", "/tmp/jar-admin-forged")
    for path in ("/admin/default/index", "/admin", "/admin/appadmin/index", "/%61dmin/default/index"):
        answer = client.get(path, "--path-as-is", "--interface", "127.0.0.3", *FORGED)
        assert "Administrator Password" not in answer.body and 'name="password"' not in answer.body, (path, answer.body[:300])
        assert answer.status in (200, 303, 400, 403, 404), (path, answer.status)
        if answer.status == 200 and path != "/%61dmin/default/index":
            assert "insecure channel" in answer.body, (path, answer.body[:300])


def test_admin_through_the_balancer_over_its_https(host):
    """The balancer (127.0.0.2) ended TLS and says so: admin shows its login page."""
    client = Client(host, "http://127.0.0.1:8000", "/tmp/jar-admin-balancer")
    page = client.get("/admin/default/index", "--interface", "127.0.0.2", "-H", "X-Forwarded-Proto: https",
                      "-H", "X-Forwarded-For: 198.51.100.4")
    assert page.status == 200 and 'name="password"' in page.body, (page.status, page.body[:300])


def test_takes_the_host_over_from_another_recipe(host):
    """Last: a recipe recorded a unit of its own; the next converge stops and disables it, records
    the standalone recipe, and the site answers."""
    unit = "/etc/systemd/system/w2p-old-frontend.service"
    host.run(f"printf '[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > {unit}"
             " && systemctl daemon-reload && systemctl enable --now w2p-old-frontend.service")
    record = {"web2py": {"name": "nginx_uwsgi", "units": ["w2p-old-frontend.service"]}}
    assert host.run(f"printf '%s\\n' {json.dumps(json.dumps(record))} > {FACT}").rc == 0
    # a stale password file of another port, with the owner and mode of the real one
    assert host.run(f"cp -p {ROOT}/parameters_8000.py {ROOT}/parameters_443.py && echo stale > {ROOT}/parameters_443.py").rc == 0
    run = run_playbook("converge.yml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert sorted(changed_tasks(output)) == [
        "web2py.deploy.web2py_frontend : Record this recipe's units (read by the next front end on this host)",
        "web2py.deploy.web2py_frontend : Remove the parameters files of other ports",
        "web2py.deploy.web2py_frontend : Stop and disable the previous recipe's units",
    ], changed_tasks(output)
    assert host.run("systemctl is-active w2p-old-frontend.service").stdout.strip() != "active"
    assert host.run("systemctl is-enabled w2p-old-frontend.service").stdout.strip() == "disabled"
    recorded = json.loads(host.file(FACT).content_string)
    assert recorded["web2py"] == {"name": "standalone", "units": ["web2py.service"]}
    assert not host.file(f"{ROOT}/parameters_443.py").exists
    assert_probe_answers(Client(host, "http://127.0.0.1:8000", "/tmp/jar-standalone-after"))
