"""Helpers shared by every scenario's testinfra tests.

Requests are made from inside the lab container (``host.run``), to loopback only.
"""
from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest


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
    """web2py's admin rejects a wrong password and redirects a right one to its site page.

    The password travels on stdin (curl --data-binary @-), never on a command line.
    """
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
