"""Helpers shared by every scenario's testinfra tests.

Requests are made from inside the lab container (``host.run``), to loopback only; the TLS scan
(sslyze) runs on the controller against the container's address on its Docker network.
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

# Playbook runs from the tests: their output without colours, to match its lines.
ANSI = re.compile(r"\x1b\[[0-9;]*m")
NO_COLOR_ENV = {"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def json(self):
        return json.loads(self.body)


class Client:
    """curl inside the container; keeps a cookie jar per client."""

    def __init__(self, host, base: str, jar: str):
        self.host = host
        self.base = base.rstrip("/")
        self.jar = jar
        host.run(f"rm -f {shlex.quote(jar)}")

    def request(self, path: str, *args: str, data: str | None = None, stdin: str | None = None) -> Response:
        cmd = ["curl", "-sk", "--max-time", "20", "-D", "-", "-c", self.jar, "-b", self.jar, *args]
        if data is not None:
            cmd += ["--data-binary", data]
        if stdin is not None:
            cmd += ["--data-binary", "@-"]
        cmd.append(self.base + path)
        line = " ".join(shlex.quote(c) for c in cmd)
        if stdin is not None:
            line = f"printf %s {shlex.quote(stdin)} | {line}"
        out = self.host.run(line)
        assert out.rc == 0, f"curl {path} failed: rc={out.rc} {out.stderr}"
        return parse(out.stdout)

    def get(self, path: str, *args: str) -> Response:
        return self.request(path, *args)


def parse(raw: str) -> Response:
    # Skip interim responses (100 Continue) and keep the last header block.
    head, _sep, body = raw.partition("\r\n\r\n")
    while head.split(" ")[1:2] == ["100"]:
        head, _sep, body = body.partition("\r\n\r\n")
    lines = head.split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _sep, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(status, headers, body)


def assert_admin_login(client: Client, password: str) -> None:
    """web2py's admin renders its login page, rejects a wrong password and redirects a right one
    to its site page.

    The password travels on stdin (curl --data-binary @-), never on a command line.
    """
    page = client.get("/admin/default/index")
    assert page.status == 200, (page.status, page.body[:300])
    assert 'name="password"' in page.body and 'Administrator Password' in page.body, page.body[:500]
    form = "&send=%2Fadmin%2Fdefault%2Fsite"
    bad = client.request("/admin/default/index", data="password=wrong" + form)
    assert "/admin/default/site" not in bad.headers.get("location", "")
    good = client.request("/admin/default/index", stdin="password=" + quote(password, safe="") + form)
    assert good.status == 303 and good.headers["location"].endswith("/admin/default/site")


def tls_handshake(host, port: int, version: str, server: str = "127.0.0.1") -> bool:
    """True when a handshake with exactly this protocol version succeeds.

    The client allows every protocol (SECLEVEL=0), so a refusal is the server's.
    """
    flag = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}[version]
    cipher = "" if version == "1.3" else "-cipher 'DEFAULT:@SECLEVEL=0'"
    out = host.run(
        f"echo | timeout 10 openssl s_client -connect {server}:{port} {flag} {cipher} 2>&1"
    )
    return "Cipher is (NONE)" not in out.stdout and "New, " in out.stdout and out.rc == 0


@pytest.fixture
def lab_vars(host):
    return host.ansible.get_variables()


def assert_appconfig_as_written(client: Client, lab_vars: dict) -> None:
    """The probe's [probe] appconfig section (values with %, ;, #, =, :, spaces, quotes and
    non-ASCII, from web2py_probe_appconfig_extra) reaches web2py exactly as the inventory says."""
    expected = {key: str(value) for key, value in lab_vars["web2py_probe_appconfig_extra"]["probe"].items()}
    r = client.get("/probe/default/config")
    assert r.status == 200, (r.status, r.body[:300])
    assert r.json()["probe"] == expected


def assert_ticket_written(host, client: Client, root: str = "/srv/web2py/web2py") -> None:
    """An error answers 500 with a ticket, and web2py wrote the ticket with its traceback and
    its snapshot (on Python 3.13 the snapshot needs legacy-cgi in the virtualenv)."""
    r = client.get("/probe/default/fail")
    assert r.status == 500 and "Ticket issued" in r.body, (r.status, r.body[:300])
    ticket = re.search(r"probe/([0-9a-zA-Z.:_-]+)", r.body.split("Ticket issued", 1)[1]).group(1)
    # The ticket pickles gluon objects: read it from web2py's folder.
    script = (
        "import pickle, sys; sys.path.insert(0, '.'); t = pickle.load(open(sys.argv[1], 'rb')); "
        "print('ZeroDivisionError' in t['traceback'], bool(t['snapshot']))"
    )
    out = host.run(f"cd {root} && sudo -u web2py {root}/../venv/bin/python -c {shlex.quote(script)} applications/probe/errors/{ticket}")
    assert out.rc == 0, out.stderr
    assert out.stdout.split() == ["True", "True"], out.stdout


# --- Behaviours every front-end scenario proves (nginx_uwsgi, apache_wsgi, apache_proxy,
# --- lighttpd_fcgi). Each scenario's tests call these with its own paths and names.

PROBE_STATIC_BODY = "probe static file served by the web server\n"
STATIC_PATHS = ("/probe/static/probe.txt", "/probe/static/_1.2.3/probe.txt")
ADMIN_PATHS = ("/admin/default/index", "/admin", "/probe/appadmin/index", "/probe/appadmin")
# Spellings of admin and appadmin meant to slip past a front end's rule: web2py decodes the
# path once more after the front end did (%2561 -> %61 -> a) and reads "\\" as "/"; front ends
# differ in how they merge slashes, resolve "..", and treat case and ";". Sent with curl
# --path-as-is, over plain HTTP, with forged headers claiming HTTPS and a local client.
ODD_ADMIN_PATHS = (
    "/admin/default/index", "/admin", "/admin/", "/%61dmin/default/index", "/%2561dmin/default/index",
    "/%252561dmin/default/index", "//admin/default/index", "/x/../admin/default/index",
    "/x/%2e%2e/admin/default/index", "/./admin/default/index", "/ADMIN/default/index",
    "/Admin/default/index", "/admin;x/default/index", "/admin;x", "/%5cadmin/default/index",
    "/admin/appadmin/index", "/welcome/appadmin", "/probe/appadmin/index", "/probe/appadmin",
    "/probe//appadmin/index", "/probe/%61ppadmin/index", "/probe/%2561ppadmin/index",
    "/probe%5cappadmin/index", "/probe%255cappadmin/index", "/probe/x/../appadmin/index",
    "/probe/APPADMIN/index", "/probe/appadmin;x/index", "/probe/appadmin/index?x=1",
)
FORGED_HEADERS = (
    "-H", "X-Forwarded-For: 127.0.0.1", "-H", "X-Forwarded-Proto: https", "-H", "X-Real-IP: 127.0.0.1",
    "-H", "Forwarded: for=127.0.0.1;proto=https", "-H", "X-Forwarded-Host: evil.example",
    "-H", "X.Forwarded.Proto: https", "-H", "X.Forwarded.For: 127.0.0.1",
)
# Markers of admin or appadmin reached: admin's login page and menus, web2py's "insecure
# channel" refusal (status 200), and the probe's appadmin canary
# (roles/web2py/files/probe/controllers/appadmin.py).
ADMIN_MARKERS = ("Administrator Password", "insecure channel", "admin disabled", "/admin/default/", "probe appadmin canary")


@pytest.fixture
def http(host):
    return Client(host, "http://127.0.0.1", "/tmp/jar-http")


@pytest.fixture
def https(host):
    return Client(host, "https://127.0.0.1", "/tmp/jar-https")


def assert_probe_answers(client: Client) -> None:
    r = client.get("/probe/default/ping")
    assert r.status == 200 and r.body == "pong", (r.status, r.body[:200])
    assert r.headers.get("x-powered-by") == "web2py"


def assert_session_kept(client: Client) -> None:
    assert [client.get("/probe/default/counter").json()["counter"] for _i in range(3)] == [1, 2, 3]


def assert_db_roundtrip(client: Client) -> None:
    data = client.get("/probe/default/dbrw").json()
    assert data["wrote"] == data["read"]


def assert_static_by_web_server(client: Client, path: str, max_age: int = 31536000) -> None:
    """The web server answered from the static folder: right body, no web2py header, long expiry."""
    r = client.get(path)
    assert r.status == 200 and r.body == PROBE_STATIC_BODY, (path, r.status)
    assert "x-powered-by" not in r.headers
    assert r.headers["cache-control"] == f"max-age={max_age}"


def assert_tls_policy(host, port: int = 443) -> None:
    assert not tls_handshake(host, port, "1.0")
    assert not tls_handshake(host, port, "1.1")
    assert tls_handshake(host, port, "1.2")
    assert tls_handshake(host, port, "1.3")


def assert_tls_client_detects_old_protocols(host, port: int = 9443) -> None:
    """Control: the same client completes a TLS 1.0 handshake with a server that allows it."""
    host.run(
        f"cd /tmp && (timeout 15 openssl s_server -accept 127.0.0.1:{port} -tls1 "
        "-cipher 'DEFAULT:@SECLEVEL=0' -cert /etc/web2py-deploy/tls/server.crt "
        "-key /etc/web2py-deploy/tls/server.key -quiet >/dev/null 2>&1 &) ; sleep 1"
    )
    assert tls_handshake(host, port, "1.0")


def sslyze_scan(address: str, port: int = 443) -> dict:
    """sslyze (from the controller, to a lab container) with Mozilla's intermediate check and
    the lab root CA (molecule/shared/lab-ca.yml) as trust anchor; connects to address with
    the name the lab certificate carries (localhost), which the path validation checks. Returns compliant (bool),
    output (sslyze's report) and scan (its JSON)."""
    ca = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "lab-ca", "root.crt")
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "sslyze.json")
        run = subprocess.run(
            [sys.executable, "-m", "sslyze", "--mozilla_config=intermediate", f"--certinfo_ca_file={ca}",
             f"--json_out={report}", f"localhost:{port}{{{address}}}"],
            capture_output=True, text=True, timeout=300, check=False,
        )
        with open(report, encoding="utf-8") as stream:
            scan = json.load(stream)
    return {"compliant": run.returncode == 0 and ": OK - Compliant." in run.stdout,
            "output": run.stdout + run.stderr, "scan": scan}


def assert_mozilla_intermediate(host, port: int = 443) -> None:
    """The endpoint passes sslyze's Mozilla intermediate check and serves the expected chain:
    the lab server certificate, then the lab intermediate (verified up to the lab root)."""
    result = sslyze_scan(private_address(host), port)
    assert result["compliant"], result["output"][-3000:]
    server = result["scan"]["server_scan_results"][0]
    deployment = server["scan_result"]["certificate_info"]["result"]["certificate_deployments"][0]
    served = [cert["subject"]["rfc4514_string"] for cert in deployment["received_certificate_chain"]]
    assert served == ["CN=localhost", "CN=web2py.deploy lab intermediate CA"], served
    verified = [cert["subject"]["rfc4514_string"] for cert in deployment["verified_certificate_chain"]]
    assert verified == served + ["CN=web2py.deploy lab root CA"], verified


def assert_mozilla_check_detects_a_weak_server(host, port: int = 9444) -> None:
    """Control: the same scan fails a server that allows TLS 1.0 with the same lab chain."""
    host.run(
        f"cd /tmp && (timeout 60 openssl s_server -accept {port} -www -tls1 -cipher 'DEFAULT:@SECLEVEL=0' "
        "-cert /etc/web2py-deploy/tls/server.crt -key /etc/web2py-deploy/tls/server.key "
        ">/dev/null 2>&1 &) ; sleep 1"
    )
    result = sslyze_scan(private_address(host), port)
    assert not result["compliant"] and "tls_versions" in result["output"], result["output"][-3000:]


def wait_for_ping(client: Client) -> None:
    """A front end may hold a restarted backend off for a moment: retry (bounded) until the
    probe answers."""
    for _i in range(20):
        if client.get("/probe/default/ping").status == 200:
            return
        time.sleep(0.5)
    raise AssertionError("the backend did not answer again within 10 s")


def assert_redirecting(http: Client, https: Client) -> None:
    """With <role>_http_redirect on: plain HTTP only redirects to HTTPS (301, the path and query
    kept), static files included, and HTTPS serves as before."""
    r = http.get("/probe/default/ping?x=1")
    assert r.status == 301 and r.headers["location"].startswith("https://"), (r.status, r.headers)
    assert r.headers["location"].split("?")[0].endswith("/probe/default/ping")
    assert https.get("/probe/default/ping").body == "pong"
    # static files too, the precompressed ones included (Apache's rewrite to the .gz runs
    # before its redirect: over HTTPS only then)
    for path in GZIP_STATIC_PATHS:
        r = http.get(path, "-H", "Accept-Encoding: gzip")
        assert r.status == 301 and r.headers["location"].startswith("https://"), (path, r.status, r.headers)


def assert_http_redirect_and_admin_instance(host, http: Client, https: Client, password: str, *,
                                            redirect: dict[str, object] | None = None,
                                            while_on: Callable[[], None] = lambda: None,
                                            off: dict[str, object] | None = None, port: int = 8001,
                                            site_admin: bool = True, tunnel: bool = False, check: bool = False,
                                            root: str = "/srv/web2py/web2py") -> None:
    """Two converges (each playbook run costs a minute of the suite's time, so the two features
    that need one share it): first the guide's admin recipe (web2py_admin_instance) together
    with the front end's HTTP redirect (redirect: the variables that turn it on), then both off
    again (off: the variables of that run). On: plain HTTP only redirects to HTTPS
    (assert_redirecting, and while_on for a front end's own checks), and web2py's admin is on
    web2py's own server on 127.0.0.1:<port> alone, as the web2py user, the password in
    parameters_<port>.py only (never on a command line or in -v output); the public site has
    no admin at all, over HTTPS included. tunnel: the admin reached through a real SSH tunnel
    (sshd on the host forwards from its own loopback). check: a --check run first, which
    previews the instance (a unit not there yet) and changes nothing. Off: the instance, its
    unit and its parameters file are gone, plain HTTP serves again and the site's admin is as
    before (site_admin: on over HTTPS)."""
    turn_on = ("-e", json.dumps({**(redirect or {}), "web2py_admin_instance": True, "web2py_admin_instance_port": port}))
    unit = "/etc/systemd/system/web2py-admin.service"
    if check:
        run = run_playbook("converge.yml", "--check", *turn_on)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert not host.file(unit).exists and not host.file(f"{root}/parameters_{port}.py").exists
    run = run_playbook("converge.yml", *turn_on)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert password not in run.stdout + run.stderr
    try:
        while_on()
        if redirect:
            assert_redirecting(http, https)
        service = host.service("web2py-admin")
        assert service.is_running and service.is_enabled
        listeners = [line.split()[3] for line in host.run("ss -Hltn").stdout.splitlines()]
        assert [address for address in listeners if address.endswith(f":{port}")] == [f"127.0.0.1:{port}"], listeners
        server = [(user, args) for user, args in processes(host) if f"-p {port}" in args and "web2py.py" in args]
        assert server and {user for user, _args in server} == {"web2py"}, server
        assert all(password not in args for _user, args in processes(host))
        assert password not in host.file(unit).content_string
        files = {name: host.file(f"{root}/{name}") for name in host.run(f"ls {root}").stdout.split() if name.startswith("parameters_")}
        assert f"parameters_{port}.py" in files, sorted(files)
        for name, info in files.items():
            assert (info.user, info.mode) == ("web2py", 0o600), (name, info.user, oct(info.mode))
            # the site's ports: admin disabled (web2py.deploy.web2py_password writes password=None)
            disabled = host.run(f"grep -qx 'password=None' {root}/{name}").rc == 0
            assert disabled is (name != f"parameters_{port}.py"), name
        assert_admin_login(Client(host, f"http://127.0.0.1:{port}", "/tmp/jar-admin-instance"), password)
        # never from the host's network address
        address = private_address(host)
        assert host.run(f"curl -s -o /dev/null --max-time 5 http://{address}:{port}/admin/default/index").rc != 0
        # the public site: no admin, no appadmin, whatever the spelling or the headers
        for path in ADMIN_PATHS + ODD_ADMIN_PATHS:
            assert_admin_not_reached(https, path)
        if tunnel:
            _assert_admin_through_an_ssh_tunnel(host, address, port, password)
    finally:
        run = run_playbook("converge.yml", "-e", json.dumps({**(off or {}), "web2py_admin_instance": False}))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not host.file(unit).exists and not host.file(f"{root}/parameters_{port}.py").exists
    # (stopped, removed, and not left behind as a failed unit)
    assert host.run("systemctl is-active web2py-admin").stdout.strip() in ("inactive", "unknown")
    assert "web2py-admin" not in host.run("systemctl list-units --all --no-legend --plain").stdout
    assert not [line for line in host.run("ss -Hltn").stdout.splitlines() if line.split()[3].endswith(f":{port}")]
    if redirect:
        wait_for_ping(http)
        assert http.get("/probe/default/ping").body == "pong"
    if site_admin:
        assert_admin_login(Client(host, https.base, "/tmp/jar-admin-back"), password)


def _assert_admin_through_an_ssh_tunnel(host, address: str, port: int, password: str) -> None:
    """ssh -N -L <local>:127.0.0.1:<port> root@<host's address>, as an operator would (the key
    made for the test, sshd started for it and stopped after)."""
    setup = host.run(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null 2>&1 "
        "|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client; }; "
        "install -d -m 0700 /root/.ssh && rm -f /root/.ssh/tunnel-test* "
        "&& ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/tunnel-test "
        "&& cat /root/.ssh/tunnel-test.pub >> /root/.ssh/authorized_keys && systemctl start ssh")
    assert setup.rc == 0, setup.stderr[-2000:]
    local = port + 10000
    try:
        opened = host.run(
            f"ssh -f -N -o BatchMode=yes -o ExitOnForwardFailure=yes -o StrictHostKeyChecking=no "
            f"-o UserKnownHostsFile=/dev/null -i /root/.ssh/tunnel-test -L 127.0.0.1:{local}:127.0.0.1:{port} root@{address}")
        assert opened.rc == 0, opened.stderr[-2000:]
        assert_admin_login(Client(host, f"http://127.0.0.1:{local}", "/tmp/jar-admin-tunnel"), password)
    finally:
        host.run(f"pkill -f 'ssh -f -N .*-L 127.0.0.1:{local}:' ; systemctl stop ssh ssh.socket; "
                 "sed -i '/tunnel-test/d' /root/.ssh/authorized_keys; rm -f /root/.ssh/tunnel-test*")


def global_ipv6(host) -> str:
    """The container's own global IPv6 address (a platform on a network with "ipv6: true",
    molecule/shared/create.yml)."""
    fields = host.run("ip -6 -o addr show scope global").stdout.split()
    assert "inet6" in fields, "no global IPv6 address: the platform's network needs ipv6: true"
    return fields[fields.index("inet6") + 1].split("/")[0]


def assert_ipv6_and_http2(host, https_port: int = 443, http_port: int = 80, path: str = "/probe/default/ping",
                          seen_as: str = "client", name: str = "") -> None:
    """The site answers over IPv4 and over the container's own IPv6 address alike; HTTPS
    negotiates HTTP/2 (ALPN h2) on both, and a client that only speaks HTTP/1.1 is still served.
    Plain HTTP answers the same status on both families, in HTTP/1.1 only: an "Upgrade: h2c"
    request is not upgraded (cleartext HTTP/2 is the request-smuggling path through proxies that
    pass Upgrade on). The application sees each client's own address (seen_as "client": web2py's
    request.client behind a front end; "forwarded_for": the last X-Forwarded-For entry a load
    balancer appended), an IPv4 client as plain IPv4, not "::ffff:a.b.c.d". name: the host name
    to ask for (Host and SNI; each address given to curl with --resolve), for a site that answers
    its names only; by default the address itself."""
    def curl(address: str, scheme: str, port: int, target: str, *args: str) -> str:
        where = f"--resolve {name}:{port}:{address} {scheme}://{name}:{port}" if name else f"{scheme}://{address}:{port}"
        return host.run(f"curl -gsk --max-time 10 {' '.join(args)} {where}{target}").stdout

    ipv6 = global_ipv6(host)
    plain = {}
    for source, address in (("127.0.0.1", "127.0.0.1"), (ipv6, f"[{ipv6}]")):
        for flag, version in (("--http2", "2"), ("--http1.1", "1.1")):
            result = curl(address, "https", https_port, path, flag, "-o /dev/null", "-w '%{http_version} %{http_code} %{remote_ip}'")
            assert result == f"{version} 200 {source}", (address, flag, result)
        seen = json.loads(curl(address, "https", https_port, "/probe/default/env", "--http2"))
        value = seen[seen_as] if seen_as == "client" else (seen[seen_as] or "").split(",")[-1].strip()
        assert value == source, (address, seen)
        # curl --http2 on http:// asks for the upgrade (Connection: Upgrade, HTTP2-Settings).
        output = curl(address, "http", http_port, path, "--http2", "-D -", "-o /dev/null", "-w '%{http_version} %{http_code}'")
        head, _sep, result = output.rpartition("\n")
        version, _sep, status = result.partition(" ")
        assert version == "1.1" and status in ("200", "301"), (address, output)
        assert "upgrade: h2c" not in head.lower() and " 101 " not in head, (address, head)
        plain[address] = status
    assert len(set(plain.values())) == 1, plain


def processes(host) -> list[tuple[str, str]]:
    """(user, args) of every process in the container."""
    return [tuple(line.split(None, 1)) for line in host.run("ps -eo user=,args=").stdout.splitlines()]


def assert_unix_socket_for_only(host, path: str, owner: str = "www-data") -> None:
    """The socket is mode 0600 and owned by the web server's user: nobody else may connect."""
    sock = host.file(path)
    assert sock.is_socket and sock.user == owner and sock.mode == 0o600
    probe = "import socket; s = socket.socket(socket.AF_UNIX); s.connect('%s')" % path
    for user in ("web2py", "nobody"):
        out = host.run(f"sudo -u {user} python3 -c \"{probe}\"")
        assert out.rc != 0 and "Permission denied" in out.stderr
    assert host.run(f"sudo -u {owner} python3 -c \"{probe}\"").rc == 0


def run_playbook(playbook: str, *args: str) -> subprocess.CompletedProcess:
    """Run a playbook of the current scenario against its instance (ansible-playbook -v)."""
    scenario = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
    return subprocess.run(
        ["ansible-playbook", "-v", "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(scenario, playbook), *args],
        capture_output=True, text=True, timeout=900, check=False,
    )


def recap_changed(output: str) -> dict[str, int]:
    """Host -> changed count from a PLAY RECAP."""
    return {host: int(count) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


SECRET_VARIABLES = ("web2py_admin_password", "postgres_db_password", "postgres_replication_password",
                    "redis_app_password", "redis_admin_password", "haproxy_stats_password")


def secret_values(variables: dict) -> tuple[str, ...]:
    """The scenario's secrets (rendered variables): passwords of the roles, of memcached_users
    and of the applications' Redis/memcached connections."""
    values = [variables.get(name) for name in SECRET_VARIABLES]
    values += [user.get("password") for user in variables.get("memcached_users") or []]
    values += [(variables.get(name) or {}).get("password") for name in ("web2py_redis", "web2py_memcache")]
    return tuple(value for value in values if isinstance(value, str) and len(value) >= 6 and "{{" not in value)


def secret_forms(secret: str) -> set[str]:
    """The ways a secret could show up in a log or on a command line: as written, shell-quoted
    (a command line), JSON-escaped (-vvv's module arguments and results), and its pieces of 8
    characters or more between spaces, quotes and backslashes (any other quoting of it)."""
    forms = {secret, shlex.quote(secret), json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    for piece in re.split(r"[\s\"'\\]", secret):
        if len(piece) >= 8:
            forms |= {piece, json.dumps(piece)[1:-1]}
    return forms


def assert_check_mode_clean(playbook: str = "converge.yml", secrets: tuple[str, ...] = ()) -> None:
    """--check --diff on the converged scenario completes and reports 0 changes on every host;
    its -v output shows none of the secrets."""
    run = run_playbook(playbook, "--check", "--diff")
    output = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    assert run.returncode == 0, output[-3000:]
    changed = recap_changed(output)
    assert changed and not any(changed.values()), (changed, output[-3000:])
    for secret in secrets:
        assert secret not in output


def changed_tasks(output: str) -> list[str]:
    """Banners (role : name) of the tasks that reported a change on some host; a handler's as
    "HANDLER role : name" (a handler's output is its own block, not the task's before it)."""
    blocks = re.split(r"^(TASK|RUNNING HANDLER) \[", output, flags=re.M)[1:]
    return [("HANDLER " if kind == "RUNNING HANDLER" else "") + block.split("]", 1)[0]
            for kind, block in zip(blocks[::2], blocks[1::2]) if re.search(r"^changed: ", block, re.M)]


def assert_rotation_preview_hides_secrets(rotation: dict, secrets: tuple[str, ...], tasks: tuple[str, ...] = (),
                                          playbook: str = "converge.yml", also: tuple[str, ...] = ()) -> str:
    """A password rotation previewed with --check --diff -v (the new values as extra vars from a
    0600 file, never on a command line): the run completes, reports changes (the preview did
    reach the tasks that write the secrets: each of tasks, a part of a task banner, reported a
    change), and its output holds none of secrets (pass the old
    values, the new ones and what is derived from them, e.g. stored hashes). Run on the
    converged host, no other task reports a change but those of also, which follow from the new
    values (check mode on the converged host changes nothing but what the new values change:
    assert_check_mode_clean's property, in the same run). Returns the output."""
    secrets = tuple(secret for secret in secrets if secret)
    assert secrets
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as extra:
        json.dump(rotation, extra)
    try:
        run = run_playbook(playbook, "--check", "--diff", "-e", "@" + extra.name)
    finally:
        os.unlink(extra.name)
    output = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    assert run.returncode == 0, output[-3000:]
    changed = recap_changed(output)
    assert changed and any(changed.values()), (changed, output[-3000:])
    previewed = changed_tasks(output)
    for task in tasks:  # the tasks that write the secrets did preview a change
        assert any(task in banner for banner in previewed), (task, previewed)
    # (handlers run for the tasks that changed: they follow from them)
    others = [banner for banner in previewed
              if not banner.startswith("HANDLER ") and not any(task in banner for task in tasks + also)]
    assert not others, (others, output[-3000:])
    # Each secret as written and as JSON shows it (-v prints results as JSON: quotes, backslashes
    # and non-ASCII characters escaped).
    forms = [(index, form) for index, secret in enumerate(secrets)
             for form in sorted({secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]})]
    leaks = [(index, output[max(0, output.find(form) - 300):output.find(form)])
             for index, form in forms if form in output]
    assert not leaks, leaks  # (index of the secret, the 300 characters before it)
    return output


def assert_bad_config_rejected(host, client: Client, playbook: str, marker: str, config: str, secret: str) -> None:
    """A broken value fails the play before install: the live file is unchanged, the site keeps
    serving, and the -v output (which went through the admin password task) hides the secret."""
    before = host.file(config).sha256sum
    run = run_playbook(playbook)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "failed to validate" in output and marker in output
    assert "Write parameters_<port>.py" in output
    assert secret not in output
    assert host.file(config).sha256sum == before
    assert client.get("/probe/default/ping").status == 200


# --- Operator TLS files that must be refused (web2py_tls_*_src). Test-only keys, generated on
# --- the controller at test time (none is committed).

def write_tls_fixtures(directory: str) -> dict[str, str]:
    """A test CA (root -> intermediate -> leaf "localhost") and faulty variants, as PEM files in
    directory; returns name -> path. Good: leaf.crt + leaf.key + chain.crt. Faulty: other.key
    (does not match leaf.crt), expired.crt / notyet.crt (leaf.key's, outside their validity),
    passphrase.key (leaf.key encrypted), unrelated-chain.crt (a CA that did not sign leaf.crt),
    leaf-with-key.crt and chain-with-key.crt (a private key inside)."""
    # pylint: disable=import-outside-toplevel
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def cert(name, subject_key, issuer_name, issuer_key, ca, not_before=now - day, not_after=now + 30 * day):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
            .public_key(subject_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def pem_cert(certificate):
        return certificate.public_bytes(serialization.Encoding.PEM)

    def pem_key(private_key, password=None):
        encryption = (serialization.BestAvailableEncryption(password) if password
                      else serialization.NoEncryption())
        return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    root_key, inter_key, leaf_key, other_key, stranger_key = key(), key(), key(), key(), key()
    root = cert("test-only root CA", root_key, "test-only root CA", root_key, True)
    inter = cert("test-only intermediate CA", inter_key, "test-only root CA", root_key, True)
    leaf = cert("localhost", leaf_key, "test-only intermediate CA", inter_key, False)
    stranger = cert("test-only intermediate CA", stranger_key, "test-only root CA", stranger_key, True)
    files = {
        "leaf.crt": pem_cert(leaf),
        "leaf.key": pem_key(leaf_key),
        "chain.crt": pem_cert(inter) + pem_cert(root),
        "other.key": pem_key(other_key),
        "expired.crt": pem_cert(cert("localhost", leaf_key, "test-only intermediate CA", inter_key, False,
                                     now - 60 * day, now - day)),
        "notyet.crt": pem_cert(cert("localhost", leaf_key, "test-only intermediate CA", inter_key, False,
                                    now + day, now + 60 * day)),
        "passphrase.key": pem_key(leaf_key, b"test-only passphrase"),
        "unrelated-chain.crt": pem_cert(stranger),
        "leaf-with-key.crt": pem_cert(leaf) + pem_key(leaf_key),
        "chain-with-key.crt": pem_cert(inter) + pem_key(inter_key),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = os.path.join(directory, name)
        with open(os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as stream:
            stream.write(data)
    return paths


# --- Multi-host scenarios (postgres, haproxy, cluster).

def assert_web2py_sees_the_shares(host, paths: tuple[str, ...]) -> None:
    """Every process of web2py's user (its services' mount namespaces included) sees each path
    as the sshfs mount the host has there now, the same device (web2py.deploy.shared_storage
    restarts a service that does not)."""
    devices = {path: host.run(f"findmnt -rn -o MAJ:MIN --mountpoint {path}").stdout.strip() for path in paths}
    assert all(devices.values()), devices
    pids = host.run("pgrep -u web2py").stdout.split()
    assert pids, "no process of web2py's user"
    for pid in pids:
        table = host.run(f"cat /proc/{pid}/mountinfo")
        if table.rc != 0 or not table.stdout:
            continue  # gone meanwhile
        seen = {fields[4]: fields[2] for fields in (line.split() for line in table.stdout.splitlines()) if "fuse.sshfs" in fields}
        unit = host.run(f"cat /proc/{pid}/cgroup").stdout.strip().rsplit("/", 1)[-1]
        assert {path: seen.get(path) for path in paths} == devices, (pid, unit, seen, devices)


def node(name: str):
    """Another container of the scenario, by its inventory name."""
    import testinfra  # pylint: disable=import-outside-toplevel

    return testinfra.get_host(f"ansible://{name}", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def private_address(host) -> str:
    facts = host.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]
    return facts["ansible_default_ipv4"]["address"]


# A bounded loop of HTTPS requests, each on a new connection, run inside a container: prints
# how many answered 200 and the first errors (HTTPError such as 503 included). With a stop file
# (argv[4]) it ends early once that file exists.
REQUEST_LOOP = r"""
import json, os, ssl, sys, time, urllib.request
count, url, pause = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
stop = sys.argv[4] if len(sys.argv) > 4 else ""
context = ssl._create_unverified_context()
ok, errors = 0, []
for _ in range(count):
    if stop and os.path.exists(stop):
        break
    try:
        with urllib.request.urlopen(url, context=context, timeout=15) as answer:
            ok += answer.status == 200
    except Exception as error:
        errors.append(repr(error)[:200])
    time.sleep(pause)
print(json.dumps({"ok": ok, "errors": errors[:5], "failed": len(errors)}))
"""


def request_loop(host, count: int, url: str, pause: float = 0.03, stop: str = "") -> dict:
    """At most count requests; fewer when the file stop (in the container) appears first."""
    extra = f" {shlex.quote(stop)}" if stop else ""
    out = host.run(f"python3 -c {shlex.quote(REQUEST_LOOP)} {count} {shlex.quote(url)} {pause}{extra}")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def haproxy_servers(host, backend: str = "web2py_app", socket: str = "/run/haproxy/admin.sock") -> dict[str, bool]:
    """Server name -> in service (operational state running and no admin state) from the socket."""
    out = host.run(f"echo 'show servers state {backend}' | socat stdio {socket}").stdout.splitlines()
    header = out[1].lstrip("# ").split()
    rows = [dict(zip(header, line.split())) for line in out[2:] if line.strip()]
    return {row["srv_name"]: row["srv_op_state"] == "2" and row["srv_admin_state"] == "0" for row in rows}


def wait_for_servers(host, names, seconds: int = 60) -> dict[str, bool]:
    """Polls until every server of names is in service (or the time is up); the last state."""
    import time  # pylint: disable=import-outside-toplevel

    state: dict[str, bool] = {}
    for _attempt in range(seconds * 2):
        state = haproxy_servers(host)
        if all(state.get(name) for name in names):
            break
        time.sleep(0.5)
    return state


# The first step of PostgreSQL's protocol for user/database web2py, to argv[1] (port 5432),
# from argv[2] as source address when given: the server answers with an authentication
# request ("R ...") or an error ("E ...") naming why it refused, before any password.
PG_STARTUP = r"""
import socket, struct, sys
source = (sys.argv[2], 0) if len(sys.argv) > 2 and sys.argv[2] else None
s = socket.create_connection((sys.argv[1], 5432), timeout=10, source_address=source)
params = b"user\x00web2py\x00database\x00web2py\x00\x00"
s.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
kind = s.recv(1)
length = struct.unpack("!i", s.recv(4))[0]
body = b""
while len(body) < length - 4:
    body += s.recv(length - 4 - len(body))
print(kind.decode(), body.replace(b"\x00", b" ").decode(errors="replace"))
"""


def write_pgpass(host, path: str, user: str, password: str) -> None:
    """A 0600 libpq passfile for any host/port/database: ':' and '\\' escaped as libpq reads
    them. The line travels base64-encoded (no quoting of the password's characters)."""
    line = ":".join(part.replace("\\", "\\\\").replace(":", "\\:") for part in ("*", "*", "*", user, password))
    data = base64.b64encode((line + "\n").encode()).decode()
    out = host.run(f"umask 077 && echo {data} | base64 -d > {shlex.quote(path)}")
    assert out.rc == 0, out.stderr


def psql_admin(host, sql: str, db: str = "web2py"):
    """psql as the postgres superuser over the local socket (peer); the commands of one -c run
    in one transaction, and the first error ends it with exit status 1."""
    return host.run(f"runuser -u postgres -- psql -XAtq -d {db} -c {shlex.quote(sql)}")


def pg_version(host) -> str:
    """The major version of the host's one PostgreSQL cluster (15 on Debian 12, 17 on 13), as
    pg_lsclusters reports it."""
    versions = {line.split()[0] for line in host.check_output("pg_lsclusters -h").splitlines() if line.strip()}
    assert len(versions) == 1, versions
    return versions.pop()


# --- Encrypted private links (web2py.deploy.pki).

PKI_CA = "/etc/web2py-deploy/pki/ca.crt"


def other_ca(host, path: str = "/tmp/other-ca.crt") -> str:
    """A CA certificate of a throwaway CA made on the host: a client trusting it must refuse
    our servers."""
    out = host.run(
        f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /tmp/other-ca.key "
        f"-out {shlex.quote(path)} -subj /CN=not-our-ca -days 2 2>&1"
    )
    assert out.rc == 0, out.stdout
    return path


def assert_tls_1_2_and_1_3_only(host, *connect: str) -> None:
    """openssl s_client (connect: -connect host:port [-starttls postgres]) verifying the server
    with the private CA: TLS 1.2 and 1.3 handshakes complete, TLS 1.1 (allowed by the client at
    security level 0) is refused by the server."""
    def handshake(*args: str) -> str:
        return host.run(f"echo | timeout 10 openssl s_client {' '.join(connect)} -CAfile {PKI_CA} {' '.join(args)} 2>&1").stdout

    for version in ("-tls1_2", "-tls1_3"):
        out = handshake(version)
        assert "Verify return code: 0 (ok)" in out and "Cipher is (NONE)" not in out, out[-800:]
    old = handshake("-tls1_1", "-cipher", "'DEFAULT:@SECLEVEL=0'")
    assert "alert protocol version" in old and "Cipher is (NONE)" in old, old[-800:]


def assert_pki_files(host, service: str, group: str) -> None:
    """The service's key: made on the host, root's and its group's (0640) in a folder nobody
    lists; its certificate signed by the private CA for the host's names; the CA's key never
    on the host."""
    key = host.file(f"/etc/web2py-deploy/pki/private/{service}.key")
    assert key.is_file and not key.is_symlink and (key.user, key.group, key.mode) == ("root", group, 0o640)
    folder = host.file("/etc/web2py-deploy/pki/private")
    assert (folder.user, folder.mode) == ("root", 0o711)
    cert = f"/etc/web2py-deploy/pki/{service}.crt"
    verify = host.run(f"openssl verify -CAfile {PKI_CA} -purpose sslserver {cert}")
    assert verify.rc == 0 and verify.stdout.strip().endswith(": OK"), verify.stdout + verify.stderr
    same_key = host.run(
        f"[ \"$(openssl x509 -in {cert} -noout -pubkey | sha256sum)\" = \"$(openssl pkey -in {key.path} -pubout | sha256sum)\" ]"
    )
    assert same_key.rc == 0
    assert host.run("find / -xdev -name ca.key -path '*pki*' 2>/dev/null").stdout.strip() == ""


def pg_startup(host, target: str, source: str = "") -> str:
    out = host.run(f"python3 -c {shlex.quote(PG_STARTUP)} {shlex.quote(target)} {shlex.quote(source)}")
    assert out.rc == 0, out.stderr
    return out.stdout


def assert_admin_not_reached(client: Client, path: str, *args: str) -> Response:
    """Plain HTTP never reaches admin or appadmin: 400, 403 or 404, or a redirect to HTTPS;
    never web2py's answer (its own refusal "insecure channel" included)."""
    answer = client.get(path, "--path-as-is", *FORGED_HEADERS, *args)
    location = answer.headers.get("location", "")
    assert answer.status in (400, 403, 404) or (answer.status in (301, 302, 307, 308) and location.startswith("https://")), \
        (path, answer.status, location, answer.body[:300])
    found = [marker for marker in ADMIN_MARKERS if marker in answer.body]
    assert not found, (path, found, answer.body[:300])
    # admin's models ran: it set its session cookie.
    assert "session_id_admin" not in answer.headers.get("set-cookie", ""), (path, answer.headers)
    return answer


# The probe's static files the web2py role precompresses (web2py_static_gzip_extensions).
GZIP_STATIC_PATHS = ("/probe/static/probe.css", "/probe/static/_1.2.3/js/probe.js")


def assert_precompressed_static(host, base: str, path: str, *args: str, root: str = "/srv/web2py/web2py",
                                web2py_handler: bool = False) -> None:
    """A client that accepts gzip gets the file's .gz, as the web2py role made it (the same
    bytes, the file's own type, Content-Encoding: gzip, Vary: Accept-Encoding); a client that
    does not (none, identity, only br, or gzip with q=0) gets the file itself. web2py_handler:
    web2py's own static handler, which sends the .gz whenever "gzip" is named in lower case
    (q=0 included)."""
    original = f"{root}/applications/probe/static/" + re.sub(r"^_\d+\.\d+\.\d+/", "", path.split("/static/", 1)[1])
    packed = host.file(original + ".gz")
    assert packed.is_file and not packed.is_symlink, original
    assert packed.mtime == host.file(original).mtime and packed.user == host.file(original).user, original
    assert host.run(f"gzip -dc {shlex.quote(original)}.gz | cmp -s - {shlex.quote(original)}").rc == 0, original

    def fetch(accept: str | None) -> dict[str, str]:
        header = ("-H", f"Accept-Encoding: {accept}") if accept is not None else ()
        line = " ".join(shlex.quote(part) for part in (
            "curl", "-sk", "--max-time", "20", "-D", "/tmp/gz-head", "-o", "/tmp/gz-body", *args, *header, base + path))
        out = host.run(line + " && cat /tmp/gz-head")
        assert out.rc == 0, (path, accept, out.stderr)
        answer = parse(out.stdout + "\r\n\r\n")
        assert answer.status == 200, (path, accept, answer.status)
        return answer.headers

    plain_type = fetch(None)["content-type"]
    # (not the obsolete x-gzip alias: nginx's gzip_static ignores it)
    accepted = ("gzip", "gzip, deflate, br") + (() if web2py_handler else ("br;q=1.0, GZIP;q=0.5, *;q=0.1",))
    for accept in accepted:
        headers = fetch(accept)
        assert headers.get("content-encoding") == "gzip", (path, accept, headers)
        assert headers["content-type"] == plain_type, (path, accept, headers)
        assert "accept-encoding" in headers.get("vary", "").lower(), (path, accept, headers)
        assert host.run(f"cmp -s /tmp/gz-body {shlex.quote(original)}.gz").rc == 0, (path, accept)
    refusals = (None, "identity", "br") + (() if web2py_handler else ("gzip;q=0", "deflate, gzip;q=0.0"))
    for accept in refusals:
        headers = fetch(accept)
        assert "content-encoding" not in headers, (path, accept, headers)
        assert host.run(f"cmp -s /tmp/gz-body {shlex.quote(original)}").rc == 0, (path, accept)


def set_cookies(host, url: str, *args: str) -> dict[str, dict[str, str | bool]]:
    """Every Set-Cookie of one answer to a client without cookies: name -> attributes, names
    lower-cased, a flag (HttpOnly) as True. (Response.headers keeps one header per name.)"""
    line = " ".join(shlex.quote(part) for part in ("curl", "-sk", "--max-time", "20", "-o", "/dev/null", "-D", "-", *args, url))
    out = host.run(line)
    assert out.rc == 0, (url, out.rc, out.stderr)
    cookies: dict[str, dict[str, str | bool]] = {}
    for header in out.stdout.splitlines():
        name, _sep, value = header.partition(":")
        if name.strip().lower() != "set-cookie":
            continue
        first, *attributes = [part.strip() for part in value.split(";")]
        cookies[first.split("=", 1)[0]] = {
            key.lower(): (val if sep else True) for key, sep, val in (a.partition("=") for a in attributes if a)}
    return cookies


def assert_session_cookie_flags(host, base: str, secure: bool, *args: str, same_site: str = "Lax",
                                names: tuple[str, ...] = ("session_id_probe",)) -> None:
    """The probe's session cookies, as a browser reads them: HttpOnly and SameSite always,
    Secure exactly when the client's request was HTTPS (the managed model)."""
    cookies = set_cookies(host, base + "/probe/default/counter", *args)
    assert set(names) <= set(cookies), (base, args, cookies)
    for name in sorted(set(names) | {n for n in cookies if n.startswith(("session_id_", "session_data_"))}):
        attributes = cookies[name]
        assert attributes.get("httponly") is True, (name, attributes)
        assert str(attributes.get("samesite", "")).lower() == same_site.lower(), (name, attributes)
        assert ("secure" in attributes) is secure, (base, args, name, attributes)


def assert_session_cookies_follow_the_scheme(host, http_port: int = 80, https_port: int = 443) -> None:
    """Secure over HTTPS, not over plain HTTP (the site serves both), and not for a plain HTTP
    client that claims HTTPS in X-Forwarded-Proto (from 127.0.0.3, no trusted balancer)."""
    assert_session_cookie_flags(host, f"https://127.0.0.1:{https_port}", True)
    assert_session_cookie_flags(host, f"https://127.0.0.1:{https_port}", True, "--http1.1")
    assert_session_cookie_flags(host, f"http://127.0.0.1:{http_port}", False)
    assert_session_cookie_flags(host, f"http://127.0.0.1:{http_port}", False, "--interface", "127.0.0.3",
                                "-H", "X-Forwarded-Proto: https", "-H", "Forwarded: proto=https")


def probe_env(client: Client, *args: str) -> dict:
    answer = client.get("/probe/default/env", *args)
    assert answer.status == 200, (answer.status, answer.body[:300])
    return answer.json()


def assert_forwarding_headers_ignored(host, scheme: str, port: int) -> None:
    """What web2py sees of a client that forges every forwarding header: its own address (the
    TCP peer, here 127.0.0.3 on loopback, which web2py does not count as local), the scheme it
    really used, and none of X-Real-IP, Forwarded or its X-Forwarded-For entries."""
    # Over HTTPS with each protocol the front end speaks (curl offers HTTP/2 by default).
    for version in (("--http1.1",), ("--http2",)) if scheme == "https" else ((),):
        _assert_forwarding_headers_ignored(host, scheme, port, *version)


def _assert_forwarding_headers_ignored(host, scheme: str, port: int, *version: str) -> None:
    client = Client(host, f"{scheme}://127.0.0.1:{port}", "/tmp/jar-forged")
    forged_proto = "http" if scheme == "https" else "https"
    seen = probe_env(client, *version, "--interface", "127.0.0.3", "-H", "X-Forwarded-For: 127.0.0.1, 203.0.113.7",
                     "-H", f"X-Forwarded-Proto: {forged_proto}", "-H", "X-Real-IP: 127.0.0.1",
                     "-H", f"Forwarded: for=127.0.0.1;proto={forged_proto}", "-H", "HTTPS: on")
    assert seen["client"] == "127.0.0.3", seen
    assert seen["is_local"] is False, seen
    assert seen["is_https"] is (scheme == "https"), seen
    assert seen["forwarded_proto"] in (None, scheme), seen
    assert seen["forwarded_for"] in (None, "", "127.0.0.3"), seen
    assert not seen["real_ip"] and not seen["forwarded"], seen
    # The same names spelled with "_" or ".": lighttpd and Rocket map them to the same variable
    # (HTTP_X_FORWARDED_FOR...), after the spelling the front end overwrote.
    # and with dots, which Rocket and gunicorn keep and web2py reads as "_" (X.Forwarded.Proto)
    for spelling in ("X_Forwarded", "X-Forwarded_", "X_Forwarded-", "X.Forwarded.", "X-Forwarded.", "X.Forwarded-"):
        sep = "" if spelling.endswith(("_", "-", ".")) else "_"
        seen = probe_env(client, *version, "--interface", "127.0.0.3", "-H", f"X-Forwarded-Proto: {forged_proto}",
                         "-H", f"{spelling}{sep}For: 127.0.0.1", "-H", f"{spelling}{sep}Proto: {forged_proto}",
                         "-H", f"{spelling.replace('Forwarded', 'Real')}{sep}IP: 127.0.0.1")
        assert seen["client"] == "127.0.0.3" and seen["is_local"] is False, (spelling, seen)
        assert seen["is_https"] is (scheme == "https"), (spelling, seen)
        assert not seen["real_ip"], (spelling, seen)
    # Control: the same request without forged headers from the real loopback address is local.
    plain = probe_env(client, *version)
    assert plain["client"] == "127.0.0.1" and plain["is_local"] is True, plain


def assert_trusted_proxy_believed(host, scheme: str, port: int, proxy: str = "127.0.0.2",
                                  proxy_may_say_http: bool = False) -> None:
    """From a trusted load balancer (web2py_trusted_proxies) the client address is the last
    X-Forwarded-For entry (the one the balancer appended) and X-Forwarded-Proto: https makes a
    plain HTTP request HTTPS. proxy_may_say_http: the front end also believes its
    X-Forwarded-Proto: http on an HTTPS connection (lighttpd's mod_extforward)."""
    client = Client(host, f"{scheme}://127.0.0.1:{port}", "/tmp/jar-proxy")
    seen = probe_env(client, "--interface", proxy, "-H", "X-Forwarded-For: 127.0.0.1, 198.51.100.4",
                     "-H", "X-Forwarded-Proto: https")
    assert seen["client"] == "198.51.100.4" and seen["is_local"] is False, seen
    assert seen["is_https"] is True and seen["forwarded_proto"] == "https", seen
    # X-Forwarded-Proto: http from the balancer: nginx and Apache keep an HTTPS request HTTPS.
    seen = probe_env(client, "--interface", proxy, "-H", "X-Forwarded-For: 198.51.100.5", "-H", "X-Forwarded-Proto: http")
    assert seen["client"] == "198.51.100.5", seen
    assert seen["is_https"] is (scheme == "https" and not proxy_may_say_http), seen


def assert_appadmin_canary_over_https(client: Client) -> None:
    """Control for the odd admin paths: over HTTPS the probe's appadmin canary answers, so a
    plain HTTP request that got through would show it."""
    answer = client.get("/probe/appadmin/index")
    assert answer.status == 200 and answer.body == "probe appadmin canary", (answer.status, answer.body[:300])


STALE_ADMIN_PASSWORD = "stale-Passw0rd-of-another-port"


def assert_host_port_not_believed(host, https: Client, root: str = "/srv/web2py/web2py", port: int = 443,
                                  other: int = 8000) -> None:
    """web2py's admin reads parameters_<SERVER_PORT>.py. A client that writes another port in its
    Host header (or an absolute request line) does not change SERVER_PORT, so it cannot make
    admin read another port's password file: one is planted for `other` with another password,
    as an earlier recipe's built-in server would have left it (web2py_password, 0600 web2py),
    and that password is refused through "Host: localhost:<other>"."""
    for forged in (("-H", f"Host: localhost:{other}"), ("-H", "Host: localhost:80"), ("-H", "Host: [::1]:65535")):
        seen = probe_env(https, *forged)
        assert seen["server_port"] == str(port), (forged, seen)
    stale = f"{root}/parameters_{other}.py"
    assert not host.file(stale).exists, f"{stale} is there before the test planted it"
    planted = host.ansible("web2py.deploy.web2py_password",
                           f"path={root} port={other} password={STALE_ADMIN_PASSWORD} owner=web2py group=web2py mode=0600",
                           become=True, check=False)
    try:
        assert host.file(stale).exists, planted
        forged = Client(https.host, https.base, "/tmp/jar-forged-port")
        page = forged.get("/admin/default/index", "-H", f"Host: localhost:{other}")
        assert page.status == 200 and 'name="password"' in page.body, (page.status, page.body[:300])
        form = "&send=%2Fadmin%2Fdefault%2Fsite"
        answer = forged.request("/admin/default/index", "-H", f"Host: localhost:{other}",
                                stdin="password=" + quote(STALE_ADMIN_PASSWORD, safe="") + form)
        assert "/admin/default/site" not in answer.headers.get("location", ""), (answer.status, answer.headers)
        site = forged.get("/admin/default/site", "-H", f"Host: localhost:{other}")
        assert "Installed applications" not in site.body, (site.status, site.body[:300])
    finally:
        host.run(f"rm -f {shlex.quote(stale)}")


# Requests curl would normalize, sent over a raw socket to plain HTTP: absolute request lines
# (whose authority and scheme the server takes over the Host header), HTTP/1.0 without Host,
# an encoded slash, and admin as the second request of a pipelined connection.
RAW_ADMIN_REQUESTS = r"""
import json, socket, sys
port = int(sys.argv[1])
tail = "X-Forwarded-Proto: https\r\nX-Forwarded-For: 127.0.0.1\r\nConnection: close\r\n\r\n"
requests = [
    "GET http://localhost/admin/default/index HTTP/1.1\r\nHost: localhost\r\n" + tail,
    "GET https://localhost/admin/default/index HTTP/1.1\r\nHost: localhost\r\n" + tail,
    "GET http://localhost:443/probe/appadmin/index HTTP/1.1\r\nHost: localhost\r\n" + tail,
    "GET HTTPS://LOCALHOST/ADMIN HTTP/1.1\r\nHost: localhost\r\n" + tail,
    "GET /admin/default/index HTTP/1.0\r\n" + tail,
    "GET /%2fadmin/default/index HTTP/1.1\r\nHost: localhost\r\n" + tail,
    "GET /admin%2fdefault%2findex HTTP/1.1\r\nHost: localhost\r\n" + tail,
    "GET /probe/appadmin./index HTTP/1.1\r\nHost: localhost\r\n" + tail,
    "GET /probe/default/ping HTTP/1.1\r\nHost: localhost\r\n\r\nGET /admin/default/index HTTP/1.1\r\nHost: localhost\r\n" + tail,
]
answers = []
for raw in requests:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(raw.encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    answers.append(data.decode("latin-1"))
print(json.dumps(answers))
"""


def assert_raw_admin_requests_refused(host, port: int = 80) -> None:
    """Every request of RAW_ADMIN_REQUESTS ends in a refusal (400, 403, 404 or a redirect to
    HTTPS) and nothing of admin or appadmin; the pipelined one's first answer is the ping."""
    out = host.run(f"python3 -c {shlex.quote(RAW_ADMIN_REQUESTS)} {port}")
    assert out.rc == 0, out.stderr
    for answer in json.loads(out.stdout):
        if "\r\n\r\npong" in answer or answer.split("\r\n\r\n", 1)[-1].startswith("4\r\npong"):
            answer = answer[answer.index("HTTP/1.", 10):]  # the second response
        status = int(answer.split(" ", 2)[1])
        headers = answer.split("\r\n\r\n", 1)[0].lower()
        assert status in (400, 403, 404) or (status in (301, 302, 307, 308) and "location: https://" in headers), answer[:300]
        found = [marker for marker in ADMIN_MARKERS if marker in answer]
        assert not found and "session_id_admin" not in headers, (found, answer[:300])


def pytest_collection_modifyitems(config, items):
    """W2P_DESELECT (comma-separated test names): tests CI leaves out for its time budget
    (scripts/test.sh says which and why); reported as deselected, never as passed."""
    names = {name.strip() for name in os.environ.get("W2P_DESELECT", "").split(",") if name.strip()}
    if not names:
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.originalname in names else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_configure(config):
    """Print the slowest tests at the end of every verify step (where a scenario's minutes go),
    unless the command line asked for something else."""
    if config.option.durations is None:
        config.option.durations = 12
        config.option.durations_min = 2.0
