"""Scenario acme: certificates from Pebble (the ACME test server) on every kind of endpoint.

The tests run on the Pebble container; each endpoint host is reached with testinfra.get_host
and checked from itself, by the DNS name Pebble validated (Docker's network aliases).
"""
from __future__ import annotations

import os
import re
import shlex
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import assert_ipv6_and_http2, changed_tasks, node, recap_changed, request_loop, run_playbook

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
PEBBLE = f"{INSTANCE}-pebble"
testinfra_hosts = [f"ansible://{PEBBLE}"]
# Inventory name -> (the certificate's DNS name, the recipe, how certbot answers challenges).
ENDPOINTS = {
    INSTANCE: ("nginx.web2py.test", "nginx_uwsgi", "webroot"),
    f"{INSTANCE}-apache": ("apache.web2py.test", "apache_wsgi", "webroot"),
    f"{INSTANCE}-lighttpd": ("lighttpd.web2py.test", "lighttpd_fcgi", "webroot"),
    f"{INSTANCE}-lb": ("lb.web2py.test", "haproxy", "standalone"),
}
ROOT = "/tmp/pebble-root.pem"
CA_BUNDLE = "/etc/web2py-deploy/acme/ca-bundle.pem"
LIVE = "/etc/web2py-deploy/tls/live.pem"
WEBROOT = "/var/lib/web2py-deploy/acme/.well-known/acme-challenge"
HOOK = "/usr/local/libexec/web2py-deploy/acme-deploy"
OCSP = LIVE + ".ocsp"


@pytest.fixture(scope="module")
def pebble_root(host) -> str:
    """Pebble's current root (it makes a new one at each start), read from its management port."""
    out = host.run(f"curl -sf --cacert /etc/pebble/ca.crt https://{PEBBLE}:15000/roots/0")
    assert out.rc == 0 and "BEGIN CERTIFICATE" in out.stdout, out.stderr
    return out.stdout


def endpoint(name: str, pebble_root: str):
    """The endpoint host, with Pebble's root written where the tests' clients read it."""
    target = node(name)
    assert target.run(f"printf %s {shlex.quote(pebble_root)} > {ROOT}").rc == 0
    return target


def served(target, dns: str) -> dict[str, str]:
    """What the endpoint serves on 443 under its name: openssl's verdict against Pebble's root,
    the leaf's serial and issuer."""
    out = target.run(
        f"echo | timeout 10 openssl s_client -connect {dns}:443 -servername {dns} -CAfile {ROOT} "
        f"-verify_return_error -showcerts 2>&1"
    )
    leaf = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out.stdout, re.S)
    assert leaf, out.stdout[-2000:]
    info = target.run(f"printf '%s\\n' {shlex.quote(leaf.group(0))} | openssl x509 -noout -serial -issuer -ext subjectAltName")
    verdict = re.search(r"Verify return code: (\d+ \([^)]*\))", out.stdout)
    return {"verify": verdict.group(1) if verdict else out.stdout[-500:], "details": info.stdout}


def serial(target, dns: str) -> str:
    return re.search(r"serial=(\w+)", served(target, dns)["details"]).group(1)


def stapled(target, dns: str) -> dict | None:
    """The OCSP answer stapled in the endpoint's handshake (openssl prints it, it does not check
    it): the serial it is for and when it was produced; None when none is stapled."""
    out = target.run(f"echo | timeout 10 openssl s_client -connect {dns}:443 -servername {dns} -CAfile {ROOT} -status 2>&1")
    if "OCSP Response Status: successful" not in out.stdout:
        assert "OCSP response: no response sent" in out.stdout, out.stdout[-2000:]
        return None
    assert "Cert Status: good" in out.stdout, out.stdout
    return {"serial": re.search(r"Serial Number: (\w+)", out.stdout).group(1).upper(),
            "produced": re.search(r"Produced At: (.+)", out.stdout).group(1).strip()}


def answer_file(target) -> dict:
    """The hook's answer file, as stapled() reports a staple."""
    out = target.run(f"openssl ocsp -respin {OCSP} -resp_text -noverify")
    assert out.rc == 0, out.stderr
    return {"serial": re.search(r"Serial Number: (\w+)", out.stdout).group(1).upper(),
            "produced": re.search(r"Produced At: (.+)", out.stdout).group(1).strip()}


def assert_stapled(target, dns: str, name: str) -> None:
    """nginx, lighttpd and HAProxy staple exactly the hook's answer, for the served certificate;
    Apache staples nothing (not configured: roles/web2py_tls/README.md)."""
    got = stapled(target, dns)
    if ENDPOINTS[name][1] == "apache_wsgi":
        assert got is None, got
    else:
        assert got == answer_file(target) and got["serial"] == serial(target, dns).upper(), (got, answer_file(target))


@pytest.mark.parametrize("name", ENDPOINTS)
def test_served_chain_verifies_against_pebbles_root(name, pebble_root):
    """Issuance: each endpoint serves Pebble's certificate for its name, and the chain it sends
    verifies against Pebble's root; a verified HTTPS request reaches web2py."""
    dns, _recipe, _auth = ENDPOINTS[name]
    target = endpoint(name, pebble_root)
    result = served(target, dns)
    assert result["verify"] == "0 (ok)", result
    assert f"DNS:{dns}" in result["details"] and "Pebble Intermediate" in result["details"], result
    out = target.run(f"curl -sS --max-time 20 --cacert {ROOT} https://{dns}/probe/default/ping")
    assert out.rc == 0 and out.stdout == "pong", (out.stdout, out.stderr)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_ipv6_and_http2(name, pebble_root):
    """Every endpoint on its IPv6 address as on IPv4 (the scenario's network is dual-stack, so
    Pebble may validate over either), HTTP/2 on HTTPS, no cleartext HTTP/2 on plain HTTP; asked
    by name (lighttpd answers its server names only)."""
    dns, recipe, _auth = ENDPOINTS[name]
    assert_ipv6_and_http2(endpoint(name, pebble_root), seen_as="forwarded_for" if recipe == "haproxy" else "client", name=dns)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_ocsp_answer_stapled(name, pebble_root):
    """Pebble's certificates name the lab's OCSP responder: the hook's answer file (root's, 0644)
    verifies against Pebble's root and says "good" for the served certificate, and nginx,
    lighttpd and HAProxy staple exactly it (Apache nothing); the hourly timer runs."""
    dns, recipe, _auth = ENDPOINTS[name]
    target = endpoint(name, pebble_root)
    answer = target.file(OCSP)
    assert (answer.user, answer.group, answer.mode, answer.is_symlink) == ("root", "root", 0o644, False)
    check = target.run(f"openssl ocsp -respin {OCSP} -issuer /etc/letsencrypt/live/{dns}/chain.pem "
                       f"-cert /etc/letsencrypt/live/{dns}/cert.pem -CAfile {ROOT} -no_nonce")
    assert check.rc == 0 and f"/etc/letsencrypt/live/{dns}/cert.pem: good" in check.stdout, check.stdout + check.stderr
    assert "Response verify OK" in check.stderr, check.stderr
    assert_stapled(target, dns, name)
    timer = target.service("web2py-acme-ocsp.timer")
    assert timer.is_enabled and timer.is_running
    snippet = {"nginx_uwsgi": ("stapling-nginx.conf", "ssl_stapling_file " + OCSP),
               "lighttpd_fcgi": ("stapling-lighttpd.conf", f'ssl.stapling-file = "{OCSP}"')}.get(recipe)
    if snippet:
        assert snippet[1] in target.file(f"/etc/web2py-deploy/tls/{snippet[0]}").content_string
    assert not target.file("/etc/web2py-deploy/tls/stapling-apache.conf").exists


@pytest.mark.parametrize("name", ENDPOINTS)
def test_ocsp_timer_fetches_a_lost_answer_and_reloads(name, pebble_root):
    """The OCSP answer deleted: web2py-acme-ocsp.service (what its timer starts) fetches a new
    one, and nginx and HAProxy are reloaded: they staple the new one (lighttpd keeps its valid
    one until it nears expiry, then reads the file by itself; Apache staples nothing). Run again
    with a fresh answer, the hook changes nothing."""
    dns, recipe, _auth = ENDPOINTS[name]
    target = endpoint(name, pebble_root)
    before = stapled(target, dns)
    assert target.run(f"rm -f {OCSP}").rc == 0
    time.sleep(1)  # (a new answer's "Produced At", to the second, differs from the old one's)
    started = target.run("systemctl start web2py-acme-ocsp.service && systemctl show -p Result --value web2py-acme-ocsp.service")
    assert started.rc == 0 and started.stdout.strip() == "success", started.stdout + started.stderr
    new = answer_file(target)
    if recipe in ("nginx_uwsgi", "haproxy"):
        assert before != new and stapled(target, dns) == new
    elif recipe == "lighttpd_fcgi":
        assert stapled(target, dns) == before
    else:
        assert stapled(target, dns) is None
    mtime = target.file(OCSP).mtime
    again = target.run(f"{HOOK} --staple")
    assert again.rc == 0 and again.stdout == "", again.stdout + again.stderr
    assert target.file(OCSP).mtime == mtime


def test_an_answer_for_another_certificate_is_not_kept(pebble_root):
    """The balancer's OCSP answer (good, signed by the same issuer, for another certificate)
    copied over nginx's: the converge's check refuses it and fetches nginx's own."""
    dns = ENDPOINTS[INSTANCE][0]
    target = endpoint(INSTANCE, pebble_root)
    other = node(f"{INSTANCE}-lb").run(f"base64 -w0 {OCSP}")
    assert other.rc == 0 and other.stdout, other.stderr
    assert target.run(f"printf %s {other.stdout} | base64 -d > {OCSP}").rc == 0
    out = target.run(f"{HOOK} --staple")
    assert out.rc == 0 and out.stdout.strip() == "changed", out.stdout + out.stderr
    assert target.run(f"base64 -w0 {OCSP}").stdout != other.stdout
    check = target.run(f"openssl ocsp -respin {OCSP} -issuer /etc/letsencrypt/live/{dns}/chain.pem "
                       f"-cert /etc/letsencrypt/live/{dns}/cert.pem -CAfile {ROOT} -no_nonce")
    assert f"/etc/letsencrypt/live/{dns}/cert.pem: good" in check.stdout, check.stdout + check.stderr


def test_no_stapling_for_a_certificate_without_ocsp_url_then_back(pebble_root):
    """On the balancer, live.pem holding a certificate that names no OCSP responder (the
    self-signed pair, as before the first issuance): the timer's run removes the answer and
    HAProxy staples nothing; the hook's --sync (certbot.service's) puts the lineage back,
    stapled again."""
    name = f"{INSTANCE}-lb"
    dns = ENDPOINTS[name][0]
    target = endpoint(name, pebble_root)
    assert target.run(f"cat /etc/web2py-deploy/tls/server.crt /etc/web2py-deploy/tls/server.key > {LIVE}").rc == 0
    try:
        run = target.run("systemctl start web2py-acme-ocsp.service")
        assert run.rc == 0, run.stderr
        assert not target.file(OCSP).exists
        for snippet in ("stapling-nginx.conf", "stapling-lighttpd.conf"):
            assert "No OCSP stapling" in target.file(f"/etc/web2py-deploy/tls/{snippet}").content_string
        out = target.run(f"echo | timeout 10 openssl s_client -connect {dns}:443 -servername {dns} -status 2>&1")
        assert "OCSP response: no response sent" in out.stdout and "Pebble" not in out.stdout, out.stdout[-2000:]
    finally:
        back = target.run(f"{HOOK} --sync")
    assert back.rc == 0, back.stderr
    assert_stapled(target, dns, name)


def test_a_revoked_certificate_is_no_longer_stapled(pebble_root):
    """lighttpd's certificate revoked at Pebble: at the next fetch (the answer deleted, as once
    half its validity has passed) the responder says "revoked"; the timer's run removes the
    answer, restarts lighttpd without stapling and fails, naming it. A renewal staples again."""
    name = f"{INSTANCE}-lighttpd"
    dns = ENDPOINTS[name][0]
    target = endpoint(name, pebble_root)
    revoke = target.run(f"env REQUESTS_CA_BUNDLE={CA_BUNDLE} certbot revoke --cert-name {dns} --reason superseded "
                        f"--no-delete-after-revoke --non-interactive")
    assert revoke.rc == 0, revoke.stdout + revoke.stderr
    try:
        assert target.run(f"rm -f {OCSP}").rc == 0
        run = target.run("systemctl start web2py-acme-ocsp.service")
        assert run.rc != 0
        assert target.run("systemctl show -p Result --value web2py-acme-ocsp.service").stdout.strip() == "exit-code"
        assert "REVOKED" in target.run("journalctl -u web2py-acme-ocsp.service --no-pager -n 20").stdout
        assert not target.file(OCSP).exists
        assert "No OCSP stapling" in target.file("/etc/web2py-deploy/tls/stapling-lighttpd.conf").content_string
        assert stapled(target, dns) is None
    finally:
        renewed = target.run(f"env REQUESTS_CA_BUNDLE={CA_BUNDLE} certbot renew --cert-name {dns} --force-renewal "
                             f"--no-random-sleep-on-renew")
    assert renewed.rc == 0, renewed.stdout + renewed.stderr
    assert served(target, dns)["verify"] == "0 (ok)"
    assert_stapled(target, dns, name)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_certbot_lineage_files_and_timer(name):
    """certbot's renewal settings name Pebble, the authenticator and the deploy hook; the
    account key and the certificate files are root's alone; certbot.timer runs."""
    dns, _recipe, auth = ENDPOINTS[name]
    target = node(name)
    conf = target.file(f"/etc/letsencrypt/renewal/{dns}.conf").content_string
    assert f"server = https://{PEBBLE}:14000/dir" in conf
    assert f"authenticator = {auth}" in conf
    assert f"renew_hook = {HOOK}" in conf
    live = target.file(LIVE)
    assert (live.user, live.group, live.mode, live.is_symlink) == ("root", "root", 0o600, False)
    keys = target.run("find /etc/letsencrypt/accounts -name private_key.json -printf '%u %m\\n'").stdout.split("\n")
    assert [line for line in keys if line] == ["root 400"], keys
    for folder in ("accounts", "archive", "live"):
        assert target.file(f"/etc/letsencrypt/{folder}").mode == 0o700
    webroot = target.file(WEBROOT)
    assert (webroot.user, webroot.mode) == ("root", 0o755)
    timer = target.service("certbot.timer")
    assert timer.is_enabled and timer.is_running
    # The key is nowhere but in root's files: not in the journal of certbot's runs.
    key_line = target.run(f"sed -n 2p /etc/letsencrypt/live/{dns}/privkey.pem").stdout.strip()
    assert len(key_line) > 40
    assert target.run(f"journalctl --no-pager | grep -cF {shlex.quote(key_line)}").stdout.strip() == "0"


@pytest.mark.parametrize("name", ENDPOINTS)
def test_challenge_path_answered_on_plain_http_while_the_rest_redirects(name):
    """Plain HTTP redirects to HTTPS, but /.well-known/acme-challenge/ is answered: a token in
    the webroot is served as written by the front ends, and HAProxy routes the path to certbot's
    loopback port (nothing listens between certbot's runs: 503)."""
    dns, _recipe, auth = ENDPOINTS[name]
    target = node(name)
    redirect = target.run(f"curl -s -o /dev/null -w '%{{http_code}} %{{redirect_url}}' http://{dns}/probe/default/ping")
    assert redirect.stdout.startswith("301 https://"), redirect.stdout
    missing = target.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://{dns}/.well-known/acme-challenge/no-such-token")
    if auth == "webroot":
        assert missing.stdout == "404", missing.stdout
        token = "t0ken-" + str(time.time_ns())
        assert target.run(f"printf %s {token}.thumbprint > {WEBROOT}/{token}").rc == 0
        try:
            got = target.run(f"curl -s -w ' %{{http_code}}' http://{dns}/.well-known/acme-challenge/{token}")
            assert got.stdout == f"{token}.thumbprint 200", got.stdout
        finally:
            target.run(f"rm -f {WEBROOT}/{token}")
    else:
        assert missing.stdout == "503", missing.stdout
        # Only token-shaped paths go to certbot's port; a privileged one no local user can take.
        other = target.run(f"curl -s -o /dev/null -w '%{{http_code}}' http://{dns}/.well-known/acme-challenge/a.b")
        assert other.stdout == "301", other.stdout
        assert "server certbot 127.0.0.1:402" in target.file("/etc/haproxy/haproxy.cfg").content_string
        bind = target.run("runuser -u web2py -- python3 -c \"import socket; socket.socket().bind(('127.0.0.1', 402))\"")
        assert bind.rc != 0 and "PermissionError" in bind.stderr, (bind.rc, bind.stderr)
    # The path is not a way around the redirect into web2py or the admin.
    for path in ("/.well-known/acme-challenge/../../admin/default/index", "/.well-known/acme-challenge/%2e%2e/probe/default/ping"):
        out = target.run(f"curl -s --path-as-is -o /dev/null -w '%{{http_code}}' http://{dns}{path}")
        assert out.stdout in ("301", "400", "403", "404", "503"), (path, out.stdout)


def assert_no_request_lost(name: str, counts: dict) -> None:
    """0 failed requests, but for Apache + mod_wsgi: its graceful reload closes and removes the
    daemon processes' socket while Apache reads its configuration again (mod_wsgi's pool
    cleanup), and a request an old worker accepts in that window is answered 503 (measured: 0
    or 1 per reload at about 40 requests a second). Anything else fails."""
    assert counts["ok"] > 50, counts
    if ENDPOINTS[name][1] == "apache_wsgi":
        assert counts["failed"] <= 1 and all("HTTPError 503" in error for error in counts["errors"]), counts
    else:
        assert counts["failed"] == 0, counts


def renew_under_load(name: str, pebble_root: str, renew: str) -> tuple[dict, str, str]:
    """Runs the renewal command while a request loop (a new connection per request) runs
    against the endpoint; the loop's counts and the serial before and after."""
    dns = ENDPOINTS[name][0]
    target = endpoint(name, pebble_root)
    before = serial(target, dns)
    stop = "/tmp/acme-loop-stop"
    target.run(f"rm -f {stop}")
    with ThreadPoolExecutor(max_workers=1) as pool:
        loop = pool.submit(request_loop, target, 2000, f"https://{dns}/probe/default/ping", 0.02, stop)
        time.sleep(2)
        out = target.run(renew)
        time.sleep(3)
        target.run(f"touch {stop}")
        counts = loop.result(timeout=180)
    assert out.rc == 0, out.stdout + out.stderr
    after = serial(target, dns)
    assert served(target, dns)["verify"] == "0 (ok)"
    return counts, before, after


@pytest.mark.parametrize("name", ENDPOINTS)
def test_forced_renewal_swaps_the_certificate_with_no_failed_request(name, pebble_root):
    """certbot renew --force-renewal (what the timer runs, forced): the deploy hook swaps
    live.pem and reloads the server; the served serial changes and no request fails (Apache +
    mod_wsgi: see assert_no_request_lost)."""
    dns = ENDPOINTS[name][0]
    counts, before, after = renew_under_load(
        name, pebble_root,
        f"env REQUESTS_CA_BUNDLE={CA_BUNDLE} certbot renew --cert-name {dns} --force-renewal --no-random-sleep-on-renew",
    )
    assert before != after
    assert_no_request_lost(name, counts)
    # The new certificate's OCSP answer is stapled (fetched by the hook before the reload).
    assert_stapled(endpoint(name, pebble_root), dns, name)


@pytest.mark.parametrize("name", ENDPOINTS)
def test_certbot_timer_service_renews_a_due_certificate(name, pebble_root):
    """certbot.service, as certbot.timer starts it (the unit's environment from the role's
    drop-in): a certificate due for renewal (renew_before_expiry beyond Pebble's 5 years) is
    renewed and served, with no failed request."""
    dns = ENDPOINTS[name][0]
    target = node(name)
    conf = f"/etc/letsencrypt/renewal/{dns}.conf"
    assert target.run(f"cp -p {conf} /tmp/renewal.conf && sed -i '1i renew_before_expiry = 3000 days' {conf}").rc == 0
    try:
        counts, before, after = renew_under_load(
            name, pebble_root, "systemctl start certbot.service && systemctl show -p Result --value certbot.service")
    finally:
        target.run(f"cp -p /tmp/renewal.conf {conf}")
    assert before != after
    assert_no_request_lost(name, counts)


def test_converge_puts_back_what_a_hand_changed(pebble_root):
    """live.pem replaced by the self-signed pair and an account key made world-readable on
    every host (on the balancer, live.pem's content is right but its mode 0644): the next
    converge runs the deploy hook and fixes the modes, and certbot asks Pebble for nothing.
    (That such a state then stays put is web2py_acme's unit test of a lineage as asked.)"""
    for name in ENDPOINTS:
        target = node(name)
        if name.endswith("-lb"):  # the right content, readable by everyone
            assert target.run(f"chmod 0644 {LIVE}").rc == 0
        else:
            assert target.run(f"cat /etc/web2py-deploy/tls/server.crt /etc/web2py-deploy/tls/server.key > {LIVE}").rc == 0
        assert target.run("find /etc/letsencrypt/accounts -name private_key.json -exec chmod 0644 {} +").rc == 0
    run = run_playbook("converge.yml")
    assert run.returncode == 0, run.stdout[-3000:]
    assert len(re.findall(r'"hook_ran": true', run.stdout)) == len(ENDPOINTS), run.stdout[-3000:]
    assert len(re.findall(r'"account_keys_fixed": \["/etc/letsencrypt/accounts/', run.stdout)) == len(ENDPOINTS)
    assert '"issued": true' not in run.stdout
    changed = recap_changed(run.stdout)
    assert all(changed.get(name, 0) > 0 for name in ENDPOINTS), changed
    for name, (dns, _recipe, _auth) in ENDPOINTS.items():
        target = endpoint(name, pebble_root)
        assert served(target, dns)["verify"] == "0 (ok)"
        assert target.run("find /etc/letsencrypt/accounts -name private_key.json -printf '%m'").stdout == "400"
        assert target.file(LIVE).mode == 0o600


def test_deploy_hook_keeps_the_certificate_when_the_new_key_does_not_match(pebble_root):
    """A lineage whose key does not match its certificate (a broken renewal): the deploy hook
    exits 1 naming it, and live.pem and the served certificate stay as they were. The hook run
    for another lineage changes nothing either."""
    dns = ENDPOINTS[INSTANCE][0]
    target = endpoint(INSTANCE, pebble_root)
    before = (target.file(LIVE).sha256sum, serial(target, dns))
    key = f"/etc/letsencrypt/live/{dns}/privkey.pem"
    assert target.run(f"cp -P {key} /tmp/privkey.link && openssl genpkey -algorithm RSA -out /tmp/other.key 2>/dev/null "
                      f"&& ln -sf /tmp/other.key {key}").rc == 0
    try:
        out = target.run(f"env RENEWED_LINEAGE=/etc/letsencrypt/live/{dns} {HOOK}")
    finally:
        assert target.run(f"mv -f /tmp/privkey.link {key} && rm -f /tmp/other.key").rc == 0
    assert out.rc == 1 and "does not match" in out.stderr, (out.rc, out.stderr)
    other = target.run(f"env RENEWED_LINEAGE=/etc/letsencrypt/live/other.web2py.test {HOOK}")
    assert other.rc == 0, other.stderr
    assert (target.file(LIVE).sha256sum, serial(target, dns)) == before
    assert served(target, dns)["verify"] == "0 (ok)"


def test_other_domains_then_acme_off_then_on_again(pebble_root):
    """Another name, with OCSP stapling off: a new certificate, not stapled, and only then the
    earlier lineage deleted. ACME turned off: certbot's lineage deleted (the timer renews nothing
    this collection no longer wants) and the OCSP timer gone, the site back on its self-signed
    certificate. Turned on again: a new certificate from Pebble, stapled."""
    dns = ENDPOINTS[INSTANCE][0]
    target = endpoint(INSTANCE, pebble_root)
    other = run_playbook("converge.yml", "--limit", INSTANCE, "-e",
                         '{"web2py_tls_acme_domains": ["nginx2.web2py.test"], "web2py_tls_acme_ocsp_stapling": false}')
    assert other.returncode == 0, other.stdout[-3000:]
    assert '"issued": true' in other.stdout, other.stdout[-3000:]
    assert re.search(r'"pruned": \[\s*"' + re.escape(dns) + '"', other.stdout), other.stdout[-3000:]
    assert not target.file(f"/etc/letsencrypt/renewal/{dns}.conf").exists
    result = served(target, "nginx2.web2py.test")
    assert result["verify"] == "0 (ok)" and "DNS:nginx2.web2py.test" in result["details"], result
    # web2py_tls_acme_ocsp_stapling false: nothing stapled, no answer kept.
    assert stapled(target, "nginx2.web2py.test") is None and not target.file(OCSP).exists
    off = run_playbook("converge.yml", "--limit", INSTANCE, "-e", '{"web2py_tls_acme": false}')
    assert off.returncode == 0, off.stdout[-3000:]
    assert any("Delete the ACME certificates" in banner for banner in changed_tasks(off.stdout)), changed_tasks(off.stdout)
    assert not target.file("/etc/letsencrypt/renewal/nginx2.web2py.test.conf").exists
    assert target.file(LIVE).exists  # kept: the servers read it until their new configuration is live
    out = target.run(f"echo | timeout 10 openssl s_client -connect {dns}:443 -servername {dns} 2>/dev/null | openssl x509 -noout -issuer")
    assert "Pebble" not in out.stdout and out.stdout.strip(), out.stdout
    assert not target.file("/etc/systemd/system/web2py-acme-ocsp.timer").exists
    assert target.run("systemctl is-active web2py-acme-ocsp.timer").stdout.strip() == "inactive"
    on = run_playbook("converge.yml", "--limit", INSTANCE)
    assert on.returncode == 0, on.stdout[-3000:]
    assert '"issued": true' in on.stdout, on.stdout[-3000:]
    result = served(target, dns)
    assert result["verify"] == "0 (ok)" and "Pebble Intermediate" in result["details"], result
    assert_stapled(target, dns, INSTANCE)


def test_a_failed_deploy_is_retried_by_certbot_service_and_fails_it_meanwhile(pebble_root):
    """The timer's renewal while nginx's configuration fails its check (an operator's typo, with
    the previous certificate too): live.pem holds the new certificate but nginx still serves the
    old one, a reload is owed, and certbot.service fails (its ExecStartPost, the deploy hook's
    --sync); once the typo is gone, the next run of certbot.service reloads nginx."""
    dns = ENDPOINTS[INSTANCE][0]
    target = endpoint(INSTANCE, pebble_root)
    conf = f"/etc/letsencrypt/renewal/{dns}.conf"
    before = serial(target, dns)
    typo = "/etc/nginx/conf.d/zz-operator-typo.conf"
    assert target.run(f"echo 'bogus_directive on;' > {typo} && cp -p {conf} /tmp/renewal.conf "
                      f"&& sed -i '1i renew_before_expiry = 3000 days' {conf}").rc == 0
    try:
        failed = target.run("systemctl start certbot.service")
        result = target.run("systemctl show -p Result --value certbot.service").stdout.strip()
        during = serial(target, dns)
        owed = target.file(LIVE + ".reload-pending").exists
    finally:
        target.run(f"cp -p /tmp/renewal.conf {conf}; rm -f {typo}")
    assert failed.rc != 0 and result == "exit-code", (failed.rc, result)
    assert during == before and owed
    assert "fails its check" in target.run("journalctl -u certbot.service --no-pager -n 50").stdout
    retried = target.run("systemctl start certbot.service")
    assert retried.rc == 0, retried.stderr
    lineage_serial = target.run(f"openssl x509 -in /etc/letsencrypt/live/{dns}/cert.pem -noout -serial").stdout.strip()
    assert lineage_serial == "serial=" + serial(target, dns) and lineage_serial != "serial=" + before
    assert not target.file(LIVE + ".reload-pending").exists
