"""Unit tests of roles/web2py_server/files/web2py-server.py: which forwarding headers reach web2py
from trusted and untrusted peers, and how the launcher reads its arguments and runs the script."""
from __future__ import annotations

import sys
import types

import pytest
from conftest import load_role_file


launcher = load_role_file("roles/web2py_server/files/web2py-server.py", "web2py_server_launcher")
FORGED = {
    "HTTP_X_FORWARDED_FOR": "127.0.0.1, 203.0.113.7",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "admin.example",
    "HTTP_X_REAL_IP": "127.0.0.1",
    "HTTP_FORWARDED": "for=127.0.0.1;proto=https",
}


def env(peer: str, **headers: str) -> dict:
    return {"REMOTE_ADDR": peer, "wsgi.url_scheme": "http", "PATH_INFO": "/", **headers}


@pytest.mark.parametrize("peer", ["127.0.0.3", "10.0.0.9", "::ffff:10.0.0.9", "fe80::1%eth0", "", "not-an-address"])
def test_untrusted_peer_loses_every_forwarding_header(peer):
    cleaned = launcher.clean_environ(env(peer, **FORGED), launcher.parse_networks(["10.0.1.0/24"]))
    assert not set(FORGED) & set(cleaned)
    assert cleaned["REMOTE_ADDR"] == peer and cleaned["wsgi.url_scheme"] == "http"


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.1.7", "fd00:1:2::5"])
def test_trusted_peer_gives_the_last_entry_and_the_scheme(peer):
    networks = launcher.parse_networks(["10.0.1.0/24", "fd00:1:2::/48"])
    cleaned = launcher.clean_environ(env(peer, HTTP_X_FORWARDED_FOR="127.0.0.1, 198.51.100.4 ",
                                         HTTP_X_FORWARDED_PROTO=" HTTPS"), networks)
    assert cleaned["REMOTE_ADDR"] == "198.51.100.4" and cleaned["HTTP_X_FORWARDED_FOR"] == "198.51.100.4"
    assert cleaned["HTTP_X_FORWARDED_PROTO"] == "https"


def test_trusted_peer_with_an_odd_scheme_has_none():
    networks = launcher.parse_networks([])
    cleaned = launcher.clean_environ(env("127.0.0.2", HTTP_X_FORWARDED_PROTO="https, http"), launcher.parse_networks(["127.0.0.2"]))
    assert cleaned["REMOTE_ADDR"] == "127.0.0.2" and "HTTP_X_FORWARDED_PROTO" not in cleaned
    assert launcher.clean_environ(env("127.0.0.1"), networks)["REMOTE_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize("value,client", [("1.1.1.1, 203.0.113.9:4567", "203.0.113.9"), ("[fd00::7]:443", "fd00::7"),
                                          ("198.51.100.4", "198.51.100.4"), (" fd00::8 ", "fd00::8")])
def test_trusted_peer_entries_with_ports(value, client):
    cleaned = launcher.clean_environ(env("127.0.0.1", HTTP_X_FORWARDED_FOR=value), launcher.parse_networks([]))
    assert cleaned["REMOTE_ADDR"] == client and cleaned["HTTP_X_FORWARDED_FOR"] == client


@pytest.mark.parametrize("value", ["unknown", "1.1.1.1, garbage", "1.1.1.1,", "[fd00::7]", "1.2.3.4:x", "_hidden"])
def test_trusted_peer_with_an_unreadable_client_is_refused(value):
    """Never the proxy's own address instead (127.0.0.1 would make the client local)."""
    networks = launcher.parse_networks([])
    with pytest.raises(launcher.Refused):
        launcher.clean_environ(env("127.0.0.1", HTTP_X_FORWARDED_FOR=value), networks)
    answers = []
    body = launcher.guard(lambda e, s: [b"app"], networks)(env("127.0.0.1", HTTP_X_FORWARDED_FOR=value),
                                                           lambda status, headers: answers.append(status))
    assert answers == ["400 Bad Request"] and body == [b"Bad Request\n"]


# Rocket and gunicorn keep "." and "_" of a header's name (only "-" becomes "_"); web2py reads
# "." as "_": each of these reaches web2py as X-Forwarded-Proto or X-Forwarded-For.
SPELLINGS = ["HTTP_X.FORWARDED.PROTO", "HTTP_X_FORWARDED.PROTO", "HTTP_x.forwarded_proto", "HTTP_X.FORWARDED.FOR",
             "HTTP_X.REAL.IP", "HTTP_X.FORWARDED.HOST", "http_x_forwarded_proto", "HTTP_X~FORWARDED~PROTO"]


@pytest.mark.parametrize("peer", ["192.0.2.1", "127.0.0.1", "10.0.1.7"])
def test_every_other_spelling_is_removed_from_every_peer(peer):
    networks = launcher.parse_networks(["10.0.1.0/24"])
    cleaned = launcher.clean_environ(env(peer, **{key: "https" for key in SPELLINGS}), networks)
    assert not set(SPELLINGS) & set(cleaned), cleaned
    assert not any(launcher.forwarding_key(key) for key in cleaned if key not in launcher.FORWARDING)


def test_forwarding_key():
    assert launcher.forwarding_key("HTTP_X.FORWARDED.PROTO") == "HTTP_X_FORWARDED_PROTO"
    assert launcher.forwarding_key("HTTP_FORWARDED") == "HTTP_FORWARDED"
    assert launcher.forwarding_key("HTTP_X_FORWARDED_PORT") == "" and launcher.forwarding_key("REMOTE_ADDR") == ""
    assert launcher.forwarding_key("X_FORWARDED_PROTO") == "" and launcher.forwarding_key(3) == ""


def test_loopback_is_two_addresses_not_a_network():
    networks = launcher.parse_networks([])
    assert launcher.is_trusted("127.0.0.1", networks) and launcher.is_trusted("::1", networks)
    assert not launcher.is_trusted("127.0.0.2", networks)
    # an IPv4 network never matches an IPv6 peer and the other way round
    assert not launcher.is_trusted("::a00:1", launcher.parse_networks(["10.0.0.0/8"]))


def test_guard_passes_the_cleaned_request_on():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b"ok"]

    guarded = launcher.guard(app, launcher.parse_networks([]))
    assert guarded(env("192.0.2.1", **FORGED), lambda *a: None) == [b"ok"]
    assert "HTTP_X_FORWARDED_PROTO" not in seen and seen["REMOTE_ADDR"] == "192.0.2.1"


@pytest.mark.parametrize("argv,trusted,rest", [
    (["--", "web2py.py", "-a", "<recycle>"], [], ["web2py.py", "-a", "<recycle>"]),
    (["--trust", "10.0.0.1", "--trust", "fd00::/8", "--", "anyserver.py", "--", "x"],
     ["10.0.0.1", "fd00::/8"], ["anyserver.py", "--", "x"]),
])
def test_arguments(argv, trusted, rest):
    assert launcher.split_arguments(argv) == (trusted, rest)


@pytest.mark.parametrize("argv", [[], ["web2py.py"], ["--trust"], ["--trust", "10.0.0.1"], ["--", ], ["-x", "--", "a"]])
def test_bad_arguments_stop(argv):
    with pytest.raises(SystemExit):
        launcher.split_arguments(argv)


def test_bad_network_stops():
    with pytest.raises(ValueError):
        launcher.parse_networks(["10.0.0.0/33"])


def test_main_wraps_wsgibase_before_the_script_runs(tmp_path, monkeypatch):
    """The script (here a stand-in for web2py.py) sees gluon.main.wsgibase already guarded."""
    gluon = types.ModuleType("gluon")
    gluon_main = types.ModuleType("gluon.main")

    def wsgibase(environ, start_response):
        return environ

    gluon_main.wsgibase = wsgibase
    gluon.main = gluon_main
    monkeypatch.setitem(sys.modules, "gluon", gluon)
    monkeypatch.setitem(sys.modules, "gluon.main", gluon_main)
    script = tmp_path / "web2py.py"
    out = tmp_path / "out.txt"
    script.write_text(
        "import sys, gluon.main\n"
        f"environ = gluon.main.wsgibase({{'REMOTE_ADDR': '192.0.2.1', 'HTTP_X_FORWARDED_PROTO': 'https'}}, None)\n"
        f"open({str(out)!r}, 'w').write(repr((sys.argv, sorted(environ))))\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setattr(sys, "path", list(sys.path))
    launcher.main(["--trust", "10.0.0.0/8", "--", str(script), "-i", "0.0.0.0"])
    argv, keys = eval(out.read_text())  # noqa: S307 (written by the test above)
    assert argv == [str(script), "-i", "0.0.0.0"] and keys == ["REMOTE_ADDR"]


@pytest.mark.parametrize("peer", ["127.0.0.1", "192.0.2.1"])
def test_a_path_prefix_from_a_header_is_refused(peer):
    """gunicorn sets SCRIPT_NAME from a trusted peer's SCRIPT_NAME header and cuts it off the
    path: /probe/probe/appadmin/index would reach web2py as /probe/appadmin/index."""
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b"ok"]

    answers = []
    guarded = launcher.guard(app, launcher.parse_networks([]))
    body = guarded(env(peer, SCRIPT_NAME="/probe", PATH_INFO="/probe/appadmin/index"), lambda *a: answers.append(a))
    assert answers[0][0] == "400 Bad Request" and body == [b"Bad Request\n"] and not seen
    assert guarded(env(peer, SCRIPT_NAME=""), lambda *a: None) == [b"ok"]
