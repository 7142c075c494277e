"""Scenario haproxy: HAProxy in front of two web2py app hosts, checked with real requests.

The tests run on the load balancer; the app hosts are reached with testinfra.get_host.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import (
    assert_session_cookie_flags,
    assert_ipv6_and_http2,
    ODD_ADMIN_PATHS,
    assert_admin_not_reached,
    probe_env,
    assert_rotation_preview_hides_secrets,
    secret_values,
    assert_mozilla_intermediate,
    Client,
    assert_tls_policy,
    haproxy_servers,
    node,
    processes,
    request_loop,
    run_playbook,
    wait_for_servers,
)

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
testinfra_hosts = [f"ansible://{INSTANCE}"]
APPS = (f"{INSTANCE}-app1", f"{INSTANCE}-app2")
SOCKET = "/run/haproxy/admin.sock"
CONFIG = "/etc/haproxy/haproxy.cfg"
PING = "https://127.0.0.1/probe/default/ping"


def kill_web2py(app) -> None:
    """The app host's web2py goes away at once (a crash): a plain stop of web2py's Rocket
    waits for the requests HAProxy keeps sending it (measured: 24 s under a request loop)."""
    assert app.run("systemctl stop --no-block web2py && systemctl kill --signal=SIGKILL web2py").rc == 0
    for _attempt in range(20):
        if not app.service("web2py").is_running:
            return
        time.sleep(0.5)
    raise AssertionError("web2py still runs")


def test_check_mode_previews_a_password_rotation_alone_and_hides_secrets(lab_vars):
    """First, on the state converge left, one --check --diff -v run with a new stats password and a
    new Redis password (the load balancer's Redis ACL, the app hosts' appconfig.ini) previews the
    changes and shows no password, old or new, nor a Redis password's stored sha256 hash; no other
    task reports a change (check mode on the converged host changes nothing else) and no secret of
    the scenario shows."""
    rotation = {"haproxy_stats_password": "rotated-Stats-Passw0rd-7d1a", "redis_app_password": "rotated-Redis-app-3e8b"}
    plain = [lab_vars["haproxy_stats_password"], lab_vars["redis_app_password"], *rotation.values()]
    hashes = [hashlib.sha256(p.encode()).hexdigest() for p in (lab_vars["redis_app_password"], rotation["redis_app_password"])]
    assert_rotation_preview_hides_secrets(
        rotation, secret_values(lab_vars) + tuple(plain + hashes),
        tasks=("Write haproxy.cfg", "Write the ACL users", "Render private/appconfig.ini"))


@pytest.fixture
def https(host):
    return Client(host, "https://127.0.0.1", "/tmp/jar-haproxy")


def test_service_listeners_and_users(host):
    svc = host.service("haproxy")
    assert svc.is_running and svc.is_enabled
    listening = {line.split()[3] for line in host.run("ss -Hltn").stdout.splitlines()}
    # Per port an IPv4 socket and an IPv6-only one; no dual-stack socket (ss would show "*:<port>").
    assert {"0.0.0.0:80", "0.0.0.0:443", "[::]:80", "[::]:443", "127.0.0.1:8404"} <= listening, listening
    assert not {"*:80", "*:443"} & listening, listening
    users = {user for user, args in processes(host) if args.startswith("/usr/sbin/haproxy")}
    assert users == {"root", "haproxy"}  # the master keeps root to reload; workers are haproxy
    assert wait_for_servers(host, APPS) == {APPS[0]: True, APPS[1]: True}


def test_http_redirects_to_https(host):
    answer = Client(host, "http://127.0.0.1", "/tmp/jar-haproxy-http").get("/probe/default/ping?x=1")
    assert answer.status == 301
    assert answer.headers["location"] == "https://127.0.0.1/probe/default/ping?x=1"
    # The HTTP port of the Host header is not carried over to HTTPS.
    named = Client(host, "http://127.0.0.1", "/tmp/jar-haproxy-http").get("/a?b=c", "-H", "Host: www.example.org:80")
    assert named.status == 301 and named.headers["location"] == "https://www.example.org/a?b=c"


def test_tls_policy_and_headers(host, https):
    assert_tls_policy(host, 443)
    answer = https.get("/probe/default/ping")
    assert answer.status == 200 and answer.body == "pong"
    assert answer.headers["strict-transport-security"] == "max-age=63072000"
    assert "server" not in answer.headers
    certificate = host.run("openssl s_client -connect 127.0.0.1:443 -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256")
    expected = host.run("openssl x509 -in /etc/web2py-deploy/tls/server.crt -noout -fingerprint -sha256")
    assert certificate.stdout and certificate.stdout == expected.stdout


def test_ipv6_and_http2(host):
    """HAProxy's frontends listen on IPv4 and IPv6 (haproxy_ipv6): clients of both reach the app
    hosts, over HTTP/2 (alpn h2,http/1.1) on HTTPS, and the app hosts read each one's own address
    as the X-Forwarded-For entry HAProxy appended (an IPv4 client as plain IPv4)."""
    assert_ipv6_and_http2(host, seen_as="forwarded_for")


def test_mozilla_intermediate_tls_scan(host):
    """sslyze from the controller: Mozilla intermediate, the lab chain served and verified."""
    assert_mozilla_intermediate(host)


def test_requests_are_balanced_across_the_app_hosts(host):
    seen = set()
    for index in range(8):  # no cookie: round robin
        seen.add(Client(host, "https://127.0.0.1", f"/tmp/jar-balance-{index}").get("/probe/default/host").json()["host"])
    assert seen == set(APPS)


def test_sticky_cookie_pins_a_client(host, https):
    first = https.get("/probe/default/host")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("W2PSRV=") and "HttpOnly" in cookie and "Secure" in cookie
    hosts = {https.get("/probe/default/host").json()["host"] for _request in range(6)}
    assert hosts == {first.json()["host"]}


def test_session_cookie_secure_through_the_balancer(host):
    """TLS ends at HAProxy; the app hosts get plain HTTP with HAProxy's X-Forwarded-Proto: the
    session cookie is Secure, HttpOnly and SameSite=Lax all the same."""
    assert_session_cookie_flags(host, "https://127.0.0.1", True)
    assert_session_cookie_flags(host, "https://127.0.0.1", True, "-H", "X-Forwarded-Proto: http")


def test_session_survives_the_loss_of_its_node(host, https):
    assert https.get("/probe/default/counter").json() == {"counter": 1}
    assert https.get("/probe/default/counter").json() == {"counter": 2}
    served = https.get("/probe/default/host").json()["host"]
    kill_web2py(node(served))
    try:
        other = https.get("/probe/default/host").json()["host"]
        assert other != served
        assert https.get("/probe/default/counter").json() == {"counter": 3}  # from Redis
    finally:
        assert node(served).run("systemctl start web2py").rc == 0
    assert wait_for_servers(host, APPS)[served]


def test_no_failed_request_while_a_node_stops_and_it_rejoins(host):
    stopped = node(APPS[1])
    with ThreadPoolExecutor(max_workers=1) as pool:
        loop = pool.submit(request_loop, host, 300, PING)
        time.sleep(1.5)
        kill_web2py(stopped)
        # The health check takes it out (fall 2, inter 1s) while the loop still runs.
        down = looping = False
        for _attempt in range(20):
            down, looping = haproxy_servers(host)[APPS[1]] is False, not loop.done()
            if down:
                break
            time.sleep(0.5)
        result = loop.result(timeout=300)
    try:
        assert down and looping, (haproxy_servers(host), looping)
        assert result["failed"] == 0 and result["ok"] == 300, result
    finally:
        assert stopped.run("systemctl start web2py").rc == 0
    assert wait_for_servers(host, APPS)[APPS[1]]
    seen = {Client(host, "https://127.0.0.1", f"/tmp/jar-rejoin-{i}").get("/probe/default/host").json()["host"] for i in range(6)}
    assert seen == set(APPS)


def test_reload_drops_no_request(host):
    with ThreadPoolExecutor(max_workers=1) as pool:
        loop = pool.submit(request_loop, host, 150, PING)
        for _reload in range(3):
            time.sleep(1)
            assert host.run("systemctl reload haproxy").rc == 0
        result = loop.result(timeout=300)
    assert result["failed"] == 0 and result["ok"] == 150, result


def test_drain_through_the_admin_socket(host):
    name = APPS[0]
    assert host.run(f"echo 'set server web2py_app/{name} state drain' | socat stdio {SOCKET}").rc == 0
    try:
        seen = {Client(host, "https://127.0.0.1", f"/tmp/jar-drain-{i}").get("/probe/default/host").json()["host"] for i in range(6)}
        assert seen == {APPS[1]}
    finally:
        host.run(f"echo 'set server web2py_app/{name} state ready' | socat stdio {SOCKET}")


def test_stats_page_behind_auth(host):
    password = host.ansible.get_variables()["haproxy_stats_password"]
    assert host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8404/").stdout == "401"
    page = host.run(f"curl -s -u stats:{shlex.quote(password)} 'http://127.0.0.1:8404/;csv'")
    assert page.rc == 0 and "web2py_app" in page.stdout
    config = host.file(CONFIG)
    assert config.user == "root" and config.group == "haproxy" and config.mode == 0o640
    pem = host.file("/etc/haproxy/certs/web2py-deploy.pem")
    assert pem.user == "root" and pem.mode == 0o600
    for _user, args in processes(host):
        assert password not in args


def test_bad_config_fails_before_install(host, https):
    before = host.file(CONFIG).sha256sum
    run = run_playbook("bad-config.yml")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "failed to validate" in output
    assert "unexpected character 'n' in 'timeout server'" in output.replace("\\'", "'")
    assert host.file(CONFIG).sha256sum == before
    assert https.get("/probe/default/ping").body == "pong"


def test_certificate_file_changed_by_hand_is_put_back(host, https):
    """HAProxy's one-file copy of the certificate and key, edited and opened by hand: the next run
    writes it again from the TLS material (and reloads), byte for byte and with its modes: the
    converged state, which Molecule's idempotence step already showed a run leaves unchanged."""
    pem, folder = "/etc/haproxy/certs/web2py-deploy.pem", "/etc/haproxy/certs"
    expected = host.check_output("cat /etc/web2py-deploy/tls/server.crt /etc/web2py-deploy/tls/server.key | sha256sum").split()[0]
    assert host.file(pem).sha256sum == expected
    assert host.run(f"echo '# edited' >> {pem} && chmod 0644 {pem} && chmod 0755 {folder}").rc == 0
    run = run_playbook("lb.yml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "Write the certificate and key for HAProxy" in output and "RUNNING HANDLER [web2py.deploy.haproxy" in output
    assert host.file(pem).sha256sum == expected and host.file(pem).mode == 0o600 and host.file(folder).mode == 0o700
    assert https.get("/probe/default/ping").body == "pong"


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_forged_forwarding_headers_dropped(host, scheme):
    """The app hosts (web2py's own server, which believes the first X-Forwarded-For entry) see
    the address HAProxy saw and the scheme HAProxy served, whatever the client claimed."""
    if scheme == "http":
        run = run_playbook("lb.yml", "-e", json.dumps({"haproxy_http_redirect": False}))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    try:
        client = Client(host, f"{scheme}://127.0.0.1", "/tmp/jar-haproxy-forged")
        forged_proto = "http" if scheme == "https" else "https"
        seen = probe_env(client, "--interface", "127.0.0.3", "-H", "X-Forwarded-For: 127.0.0.1, 203.0.113.7",
                         "-H", f"X-Forwarded-Proto: {forged_proto}", "-H", "X-Real-IP: 127.0.0.1",
                         "-H", f"Forwarded: for=127.0.0.1;proto={forged_proto}")
        assert seen["client"] == "127.0.0.3" and seen["forwarded_for"] == "127.0.0.3", seen
        assert seen["is_local"] is False and seen["is_https"] is (scheme == "https"), seen
        assert seen["forwarded_proto"] == scheme and not seen["real_ip"] and not seen["forwarded"], seen
        if scheme == "http":
            # Plain HTTP served (no redirect): admin and appadmin stay out of reach however spelt.
            for path in ODD_ADMIN_PATHS:
                assert_admin_not_reached(Client(host, "http://127.0.0.1", "/tmp/jar-haproxy-admin"), path)
            # Control: the same client does reach web2py over plain HTTP.
            assert client.get("/probe/default/ping").body == "pong"
    finally:
        if scheme == "http":
            run = run_playbook("lb.yml")
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


@pytest.mark.parametrize("path", ODD_ADMIN_PATHS)
def test_odd_admin_paths_redirected_over_http(host, path):
    answer = assert_admin_not_reached(Client(host, "http://127.0.0.1", "/tmp/jar-haproxy-admin"), path)
    assert answer.status == 301, (path, answer.status)
