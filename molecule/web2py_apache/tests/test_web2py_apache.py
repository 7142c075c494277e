"""Scenario web2py_apache: the Apache base alone behind a site of the scenario's own whose backend
echoes the headers it received (127.0.0.2 plays the trusted balancer, 127.0.0.3 any client)."""
from __future__ import annotations

import json
import re

import pytest
from conftest import (
    Client,
    assert_check_mode_clean,
    assert_raw_admin_requests_refused,
    assert_static_by_web_server,
    assert_tls_policy,
    changed_tasks,
    run_playbook,
    tls_handshake,
)

INCLUDES = "/etc/apache2/web2py-deploy"
CHECKER = ("/usr/local/libexec/web2py-deploy/check-candidate /etc/apache2 "
           "env APACHE_CONFDIR=@ROOT@ apache2ctl -t --")
# The forwarding headers a client could send, with the "_" spellings servers read as "-" (the
# include files drop them). Names with "." are the backend's to drop: Apache passes them on,
# mod_wsgi leaves them out of the environ and web2py_server's launcher removes them.
FORGED = {"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", "X-Real-IP": "127.0.0.1",
          "Forwarded": "for=127.0.0.1;proto=https", "X_Forwarded_For": "127.0.0.1", "X_Forwarded_Proto": "https",
          "X-Forwarded_Proto": "https", "X_Forwarded-Proto": "https", "X_Real_IP": "127.0.0.1", "X-Real_IP": "127.0.0.1"}


def seen_by_backend(host, scheme: str, *args: str) -> dict[str, list[str]]:
    """The backend's view of one request: header name (lower case, "_" read as "-", as Rocket
    and lighttpd read it) -> the values received under that name."""
    port = 443 if scheme == "https" else 80
    answer = Client(host, f"{scheme}://127.0.0.1:{port}", "/tmp/jar-echo").get("/echo", *args)
    assert answer.status == 200, (answer.status, answer.body[:300])
    headers: dict[str, list[str]] = {}
    for name, value in json.loads(answer.body)["headers"]:
        headers.setdefault(name.lower().replace("_", "-"), []).append(value)
    return headers


def forged(*extra: str) -> list[str]:
    args = [arg for name, value in FORGED.items() for arg in ("-H", f"{name}: {value}")]
    return args + list(extra)


def test_check_mode_on_the_converged_host_changes_nothing():
    """--check --diff on the converged host reports 0 changes (the scenario holds no secret)."""
    assert_check_mode_clean()


def test_apache_runs_with_the_modules_asked_and_without_debians_sites(host):
    assert host.service("apache2").is_running and host.service("apache2").is_enabled
    modules = host.run("apache2ctl -M").stdout
    for module in ("ssl_module", "headers_module", "alias_module", "proxy_module", "proxy_http_module", "remoteip_module"):
        assert module in modules, module
    assert host.run("ls /etc/apache2/sites-enabled").stdout.split() == ["lab-site.conf"]
    # www-data reads the applications' static files through the web2py group
    assert "web2py" in host.user("www-data").groups
    for name in ("static.conf", "http.conf", "https.conf"):
        include = host.file(f"{INCLUDES}/{name}")
        assert (include.user, include.mode) == ("root", 0o644), name


def test_the_server_hides_its_version_and_refuses_trace(host):
    client = Client(host, "http://127.0.0.1", "/tmp/jar-hide")
    missing = client.get("/probe/static/no-such-file")
    assert missing.status == 404 and missing.headers["server"] == "Apache", missing.headers
    assert "Apache/2" not in missing.body and "Server at" not in missing.body
    assert client.get("/", "-X", "TRACE").status == 405


def test_tls_policy_and_hsts(host):
    assert_tls_policy(host, 443)
    answer = Client(host, "https://127.0.0.1", "/tmp/jar-hsts").get("/probe/default/ping")
    assert answer.body == "pong"
    assert answer.headers["strict-transport-security"] == "max-age=63072000", answer.headers
    assert "strict-transport-security" not in Client(host, "http://127.0.0.1", "/tmp/jar-plain").get("/probe/default/ping").headers


def test_the_client_is_only_the_tcp_peer(host):
    """A client's X-Forwarded-For, X-Forwarded-Proto, X-Real-IP and Forwarded (with the "_"
    spellings of FORGED) and its SCRIPT_NAME and PATH_INFO headers never reach the backend: it
    gets the peer's address from mod_proxy and the scheme Apache really served."""
    for scheme in ("http", "https"):
        extra = ("--interface", "127.0.0.3", "-H", "SCRIPT_NAME: /probe", "-H", "PATH_INFO: /admin/default/index")
        headers = seen_by_backend(host, scheme, *forged(*extra))
        assert headers["x-forwarded-for"] == ["127.0.0.3"], (scheme, headers)
        assert headers["x-forwarded-proto"] == [scheme], (scheme, headers)
        assert "x-real-ip" not in headers and "forwarded" not in headers, (scheme, headers)
        assert "script-name" not in headers and "path-info" not in headers, (scheme, headers)


def test_the_balancer_is_believed(host):
    """From 127.0.0.2 (web2py_trusted_proxies) the client is the last X-Forwarded-For entry and
    X-Forwarded-Proto: https is kept on plain HTTP."""
    headers = seen_by_backend(host, "http", "--interface", "127.0.0.2", "-H", "X-Forwarded-For: 127.0.0.1, 198.51.100.4",
                              "-H", "X-Forwarded-Proto: https")
    assert headers["x-forwarded-for"] == ["198.51.100.4"] and headers["x-forwarded-proto"] == ["https"], headers
    # the balancer cannot turn an HTTPS request into plain HTTP
    headers = seen_by_backend(host, "https", "--interface", "127.0.0.2", "-H", "X-Forwarded-Proto: http")
    assert headers["x-forwarded-proto"] == ["https"], headers


@pytest.mark.parametrize("path", ["/admin/default/index", "/ADMIN", "/probe/appadmin/index", "/%61dmin/default/index",
                                  "/probe/%2561ppadmin", "/probe%5Cappadmin", "//admin/", "/probe/./appadmin"])
def test_admin_and_appadmin_never_over_plain_http(host, path):
    answer = Client(host, "http://127.0.0.1", "/tmp/jar-admin").get(path, "--path-as-is")
    assert answer.status == 403, (path, answer.status)


@pytest.mark.parametrize("path", ["/admin/default/index", "/probe/appadmin/index"])
def test_admin_and_appadmin_reach_the_backend_over_https(host, path):
    """Control: the same plain paths pass over HTTPS (paths still holding % or \\ are refused on
    both, web2py never routes them)."""
    answer = Client(host, "https://127.0.0.1", "/tmp/jar-admin-s").get(path)
    assert answer.status == 200 and json.loads(answer.body)["path"] == path, (answer.status, answer.body[:200])


def test_raw_admin_requests_over_plain_http_are_refused(host):
    """With the echo backend the statuses decide: a request that got through would be echoed (200)."""
    assert_raw_admin_requests_refused(host, 80)


def test_static_files_by_apache_with_their_expiry(host):
    for scheme in ("http", "https"):
        client = Client(host, f"{scheme}://127.0.0.1", f"/tmp/jar-static-{scheme}")
        assert_static_by_web_server(client, "/probe/static/probe.txt")
        assert_static_by_web_server(client, "/probe/static/_1.2.3/probe.txt")


def test_the_checker_refuses_a_bad_candidate_and_leaves_the_live_file(host):
    live = f"{INCLUDES}/http.conf"
    before = host.file(live).sha256sum
    assert host.run("printf 'NoSuchDirective on\\n' > /tmp/bad.conf").rc == 0
    out = host.run(f"{CHECKER} /tmp/bad.conf {live}")
    assert out.rc != 0 and "NoSuchDirective" in out.stdout + out.stderr, (out.rc, out.stdout, out.stderr)
    assert host.file(live).sha256sum == before
    # control: the live file itself passes
    assert host.run(f"cp {live} /tmp/good.conf && {CHECKER} /tmp/good.conf {live}").rc == 0
    assert Client(host, "http://127.0.0.1", "/tmp/jar-after").get("/probe/default/ping").body == "pong"


def test_hand_changes_are_put_back(host):
    """A module disabled, a default site enabled, the configuration link and www-data's group
    removed, ports.conf edited, by hand: the next run puts each back (only what the probe found
    wrong runs), and the run after changes nothing."""
    for command in ("a2dismod -q -f remoteip", "a2ensite -q 000-default", "rm /etc/apache2/conf-enabled/web2py-deploy.conf",
                    "gpasswd -d www-data web2py", "echo '# edited' >> /etc/apache2/ports.conf"):
        assert host.run(command).rc == 0, command
    run = run_playbook("converge.yml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    changed = changed_tasks(output)
    for task in ("Let Apache read the applications' static files (group web2py)", "Enable the Apache modules",
                 "Disable Debian's default sites (they would hold the same ports)", "Enable that configuration",
                 "Write the vhost include files, the listen ports, and the hardening and TLS policy"):
        assert f"web2py.deploy.web2py_apache : {task}" in changed, (task, changed)
    assert "remoteip_module" in host.run("apache2ctl -M").stdout
    assert host.run("ls /etc/apache2/sites-enabled").stdout.split() == ["lab-site.conf"]
    assert host.file("/etc/apache2/conf-enabled/web2py-deploy.conf").linked_to == "/etc/apache2/conf-available/web2py-deploy.conf"
    assert "web2py" in host.user("www-data").groups and "# edited" not in host.file("/etc/apache2/ports.conf").content_string
    assert Client(host, "http://127.0.0.1", "/tmp/jar-putback").get("/probe/default/ping").body == "pong"
    headers = seen_by_backend(host, "http", "--interface", "127.0.0.2", "-H", "X-Forwarded-For: 198.51.100.4")
    assert headers["x-forwarded-for"] == ["198.51.100.4"], headers  # mod_remoteip is back
    run = run_playbook("converge.yml")
    assert run.returncode == 0 and changed_tasks(run.stdout) == [], changed_tasks(run.stdout)


def test_plain_http_redirected_when_asked(host):
    """Last: web2py_apache_http_redirect re-renders http.conf, checked, then reloaded gracefully
    (the same main process)."""
    main_pid = host.run("systemctl show -P MainPID apache2").stdout.strip()
    run = run_playbook("converge.yml", "-e", json.dumps({"web2py_apache_http_redirect": True}))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "web2py.deploy.web2py_apache : Write the vhost include files, the listen ports, and the hardening and TLS policy" in changed_tasks(output)
    handlers = re.findall(r"^RUNNING HANDLER \[(.*)\]", output, re.M)
    assert "web2py.deploy.web2py_apache : Reload Apache gracefully" in handlers, handlers
    assert not [name for name in handlers if "Restart" in name], handlers
    assert host.run("systemctl show -P MainPID apache2").stdout.strip() == main_pid
    fqdn = host.ansible("setup", "filter=ansible_fqdn")["ansible_facts"]["ansible_fqdn"]
    answer = Client(host, "http://127.0.0.1", "/tmp/jar-redirect").get("/probe/default/ping?x=1")
    assert answer.status == 301, (answer.status, answer.headers)
    assert answer.headers["location"] == f"https://{fqdn}/probe/default/ping?x=1", answer.headers
    assert Client(host, "https://127.0.0.1", "/tmp/jar-redirect-s").get("/probe/default/ping").body == "pong"
    assert tls_handshake(host, 443, "1.3")
