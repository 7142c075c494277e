"""Scenario memcached: authentication, limits and sockets, checked from inside the container."""
from __future__ import annotations

import base64
import re

import pytest
from conftest import (PKI_CA, assert_pki_files, assert_rotation_preview_hides_secrets,
                      assert_tls_1_2_and_1_3_only, other_ca, processes, run_playbook, secret_values)

CONF = "/etc/memcached.conf"
AUTH_FILE = "/etc/memcached/users"
PORT = 11211

# Runs in the container: sends each (base64) chunk to memcached on loopback and collects the
# reply to it. The chunks travel base64-encoded: a password never shows on a command line. Over
# TLS (argv[1]: the CA file the client trusts, or "plain"): the server's certificate and address
# verified; each reply ends when memcached pauses after a line. In plain text, after the last
# chunk it half-closes the connection, so memcached answers everything and hangs up.
CLIENT = r"""
import base64, socket, ssl, sys, time
mode = sys.argv[1]
s = socket.create_connection(("127.0.0.1", %d), timeout=10)
if mode != "plain":
    s = ssl.create_default_context(cafile=mode).wrap_socket(s, server_hostname="127.0.0.1")
chunks = sys.argv[2:]
for i, chunk in enumerate(chunks):
    s.sendall(base64.b64decode(chunk))
    last = i == len(chunks) - 1
    if last and mode == "plain":
        s.shutdown(socket.SHUT_WR)
    reply, end = b"", time.monotonic() + 10
    s.settimeout(10 if last and mode == "plain" else 0.3)
    while time.monotonic() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            if reply.endswith(b"\r\n"):
                break
            continue
        if not data:
            break
        reply += data
    print(base64.b64encode(reply).decode())
""" % PORT


def mc_run(host, *chunks: bytes, tls: str = PKI_CA):
    args = " ".join(base64.b64encode(chunk).decode() for chunk in chunks)
    return host.run(f"python3 -c '{CLIENT}' {tls} {args}")


def mc_each(host, *chunks: bytes) -> list[str]:
    """memcached's reply to each chunk, sent one after the other on one connection (TLS)."""
    out = mc_run(host, *chunks)
    assert out.rc == 0, out.stderr
    return [base64.b64decode(line).decode() for line in out.stdout.split()]


def mc(host, *commands: bytes) -> str:
    """memcached's whole reply to the commands, sent together on one connection."""
    return mc_each(host, b"".join(commands))[0]


def auth(name: str, password: str) -> bytes:
    data = f"{name} {password}".encode()
    return b"set auth 0 0 %d\r\n%s\r\n" % (len(data), data)


def stats(reply: str) -> dict[str, str]:
    return dict(re.findall(r"^STAT (\S+) (\S+)\r$", reply, re.M))


def test_check_mode_previews_a_password_rotation_alone_and_hides_secrets(lab_vars):
    """First, on the state converge left, one --check --diff -v run with a new password for the
    memcached user (the auth file) and for web2py's connection (appconfig.ini) previews the changes
    and shows neither password; no other task reports a change (check mode on the converged host
    changes nothing else) and no secret of the scenario shows."""
    new = "rotated-Memcached-Passw0rd-2a6f"
    rotation = {"memcached_users": [{"name": "web2py", "password": new}], "web2py_memcache": {"password": new}}
    assert_rotation_preview_hides_secrets(rotation, secret_values(lab_vars) + (lab_vars["memcached_users"][0]["password"], new),
                                          tasks=("Write the users memcached accepts", "Render private/appconfig.ini"))


def test_plaintext_client_gets_no_answer(host):
    out = mc_run(host, b"version\r\n", tls="plain")
    assert "VERSION" not in base64.b64decode(out.stdout.strip() or "").decode(errors="replace")


def test_client_trusting_another_ca_refuses_the_server(host):
    out = mc_run(host, b"version\r\n", tls=other_ca(host))
    assert out.rc != 0 and "CERTIFICATE_VERIFY_FAILED" in out.stderr, out.stderr[-400:]


def test_tls_1_2_and_1_3_only(host):
    assert_tls_1_2_and_1_3_only(host, f"-connect 127.0.0.1:{PORT}")


def test_key_made_on_the_host_certificate_signed_by_the_ca(host):
    assert_pki_files(host, "memcached", "memcache")


@pytest.fixture
def user(lab_vars):
    return lab_vars["memcached_users"][0]


@pytest.fixture
def login(user):
    return auth(user["name"], user["password"])


def test_service_running_enabled_as_memcache(host):
    svc = host.service("memcached")
    assert svc.is_running and svc.is_enabled
    daemons = [(u, args) for u, args in processes(host) if args.startswith("/usr/bin/memcached")]
    assert len(daemons) == 1 and daemons[0][0] == "memcache", daemons


def test_tcp_on_loopback_only_and_no_udp(host):
    tcp = [line.split()[3] for line in host.run("ss -Hltn").stdout.splitlines()]
    assert [addr for addr in tcp if addr.endswith(f":{PORT}")] == [f"127.0.0.1:{PORT}"]
    udp = [line.split()[3] for line in host.run("ss -Hlun").stdout.splitlines()]
    assert not [addr for addr in udp if addr.endswith(f":{PORT}")]
    # Control: ss does list UDP sockets (a throwaway one on loopback).
    probe = host.run("python3 -c 'import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                     "s.bind((\"127.0.0.1\", 11299)); time.sleep(3)' & sleep 1; ss -Hlun")
    assert "127.0.0.1:11299" in probe.stdout


@pytest.mark.parametrize("command", [b"get probe\r\n", b"stats\r\n", b"stats settings\r\n",
                                     b"version\r\n", b"flush_all\r\n"])
def test_unauthenticated_commands_refused(host, command):
    reply = mc(host, command)
    assert reply == "CLIENT_ERROR unauthenticated\r\n", reply


def test_unauthenticated_set_not_stored(host, login):
    # Without authentication a set is taken as a login attempt and refused.
    reply = mc(host, b"set anon 0 0 5\r\nhello\r\n")
    assert reply.startswith("CLIENT_ERROR") and "STORED" not in reply, reply
    assert mc(host, login, b"get anon\r\n") == "STORED\r\nEND\r\n"


@pytest.mark.parametrize("wrong", ["password", "name"])
def test_wrong_credentials_refused(host, user, login, wrong):
    name, password = user["name"], user["password"]
    bad = auth(name, password + "x") if wrong == "password" else auth("nobody", password)
    replies = mc_each(host, bad, b"get probe\r\n", b"stats\r\n")
    assert replies == ["CLIENT_ERROR authentication failure\r\n"] + ["CLIENT_ERROR unauthenticated\r\n"] * 2
    # Control: the same exchange with the right credentials is answered.
    replies = mc_each(host, login, b"stats\r\n")
    assert replies[0] == "STORED\r\n" and "STAT get_hits" in replies[1]


def test_set_get_with_credentials(host, login):
    reply = mc(host, login, b"set probe 0 60 5\r\nhello\r\n", b"get probe\r\n")
    assert reply == "STORED\r\nSTORED\r\nVALUE probe 0 5\r\nhello\r\nEND\r\n"


def test_settings_as_configured(host, login, lab_vars):
    settings = stats(mc(host, login, b"stats settings\r\n"))
    assert settings["maxconns"] == str(lab_vars["memcached_max_connections"])
    assert settings["maxbytes"] == str(lab_vars["memcached_memory_mb"] * 1024 * 1024)
    assert settings["item_size_max"] == str(2 * 1024 * 1024)
    assert settings["num_threads"] == str(lab_vars["memcached_threads"])
    assert settings["udpport"] == "0"
    assert settings["tcpport"] == str(PORT)
    assert settings["inter"] == "127.0.0.1"
    assert settings["auth_enabled_ascii"] == AUTH_FILE
    general = stats(mc(host, login, b"stats\r\n"))
    assert general["limit_maxbytes"] == str(lab_vars["memcached_memory_mb"] * 1024 * 1024)
    assert general["max_connections"] == str(lab_vars["memcached_max_connections"])


def test_get_hits_counts_cached_gets(host, login):
    replies = mc_each(host, login, b"set hitprobe 0 60 2\r\nok\r\n", b"stats\r\n",
                      b"get hitprobe\r\n", b"get no-such-key\r\n", b"stats\r\n")
    assert replies[:2] == ["STORED\r\n", "STORED\r\n"]
    assert replies[3:5] == ["VALUE hitprobe 0 2\r\nok\r\nEND\r\n", "END\r\n"]
    before, after = stats(replies[2]), stats(replies[5])
    assert int(after["get_hits"]) == int(before["get_hits"]) + 1
    assert int(after["get_misses"]) == int(before["get_misses"]) + 1


def test_auth_file_private_to_memcache(host, user):
    auth_file = host.file(AUTH_FILE)
    assert auth_file.user == "memcache" and auth_file.group == "memcache" and auth_file.mode == 0o600
    assert host.file(AUTH_FILE.rsplit("/", 1)[0]).mode == 0o750
    assert host.run(f"sudo -u nobody cat {AUTH_FILE}").rc != 0
    content = host.run(f"cat {AUTH_FILE}").stdout
    assert content == f"{user['name']}:{user['password']}\n"
    # The config names the auth file only.
    assert f"-Y {AUTH_FILE}" in host.file(CONF).content_string
    assert user["password"] not in host.file(CONF).content_string


def test_password_not_on_any_command_line(host, user):
    procs = processes(host)
    assert any(args.startswith("/usr/bin/memcached") and f"-Y {AUTH_FILE}" in args for _u, args in procs)
    assert not [args for _u, args in procs if user["password"] in args]


def test_password_in_no_world_readable_file(host, user):
    # Search the places configuration and state live for files holding the password; the
    # pattern travels base64-encoded so this search does not put it on a command line.
    needle = base64.b64encode(user["password"].encode()).decode()
    script = (
        "import base64, os, stat, sys\n"
        "needle = base64.b64decode(sys.argv[1])\n"
        "for top in ('/etc', '/run', '/tmp', '/var', '/srv', '/root', '/home', '/usr/local', '/opt'):\n"
        "    for root, dirs, files in os.walk(top):\n"
        "        for name in files:\n"
        "            path = os.path.join(root, name)\n"
        "            try:\n"
        "                st = os.lstat(path)\n"
        "                if not stat.S_ISREG(st.st_mode) or st.st_size > 10000000:\n"
        "                    continue\n"
        "                with open(path, 'rb') as f:\n"
        "                    if needle in f.read():\n"
        "                        print('%o %s' % (stat.S_IMODE(st.st_mode), path))\n"
        "            except OSError:\n"
        "                pass\n"
    )
    out = host.run(f"python3 -c \"{script}\" {needle}")
    assert out.rc == 0, out.stderr
    hits = dict(reversed(line.split(" ", 1)) for line in out.stdout.splitlines())
    assert AUTH_FILE in hits  # the search does find it
    assert not [path for path, mode in hits.items() if int(mode, 8) & 0o004], hits


@pytest.mark.parametrize(("playbook", "marker", "value"), [
    ("bad-config.yml", "unrecognized option '--no-such-option'", "--no-such-option"),
    ("absent-address.yml", "Cannot assign requested address", "10.255.255.1"),
])
def test_rejected_candidate_fails_play_and_cache_keeps_running(host, login, user, playbook, marker, value):
    before = host.file(CONF).sha256sum
    pid = host.run("systemctl show -p MainPID --value memcached").stdout.strip()
    assert mc(host, login, b"set survivor 0 0 4\r\nkept\r\n").endswith("STORED\r\n")
    run = run_playbook(playbook)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "failed to validate" in output
    assert marker in output, output[-3000:]
    assert "Write the users memcached accepts" in output  # the run went through the secret task
    assert user["password"] not in output
    assert host.file(CONF).sha256sum == before
    assert value not in host.file(CONF).content_string
    assert host.run("systemctl show -p MainPID --value memcached").stdout.strip() == pid
    assert mc(host, login, b"get survivor\r\n").endswith("VALUE survivor 0 4\r\nkept\r\nEND\r\n")
    # No throwaway memcached was left behind.
    assert len([a for _u, a in processes(host) if a.startswith("/usr/bin/memcached")]) == 1


@pytest.mark.parametrize(("playbook", "variable"), [
    ("no-users.yml", "memcached_users"),
    ("public-listen.yml", "memcached_listen"),
])
def test_refused_input_names_the_variable(host, user, playbook, variable):
    before = host.file(CONF).sha256sum
    run = run_playbook(playbook)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert re.search(r"Action failed: .*" + variable, output), output[-2000:]
    assert user["password"] not in output
    assert host.file(CONF).sha256sum == before
    assert host.service("memcached").is_running
