"""Scenario web2py_tls: the TLS material on its own, read with openssl inside the container.

The tests run in file order: the converged self-signed material first, then renewals, then the
operator's files, then the way back to a self-signed certificate (the container ends as it
started)."""
from __future__ import annotations

import json
import re
import shlex
import tempfile
import time

import pytest

from conftest import assert_check_mode_clean, changed_tasks, recap_changed, run_playbook, write_tls_fixtures

DIR = "/etc/lab-tls"
CERT = f"{DIR}/server.crt"
KEY = f"{DIR}/server.key"
DHPARAM = f"{DIR}/dhparam.pem"
NAMES = ["DNS:tls.example.org", "DNS:www.tls.example.org", "IP Address:127.0.0.1"]
NOTIFIED = "/root/tls-notified"


def openssl(host, *args: str) -> str:
    return host.check_output("openssl " + " ".join(args))


def cert_names(host) -> list[str]:
    text = openssl(host, "x509", "-in", CERT, "-noout", "-ext", "subjectAltName")
    return sorted(name.strip() for name in text.splitlines()[-1].split(","))


def days_left(host) -> float:
    end = openssl(host, "x509", "-in", CERT, "-noout", "-enddate").split("=", 1)[1]
    return (int(host.check_output(f"date -d '{end}' +%s")) - time.time()) / 86400


def key_matches_cert(host) -> bool:
    return openssl(host, "x509", "-in", CERT, "-noout", "-pubkey") == openssl(host, "pkey", "-in", KEY, "-pubout")


def notifications(host) -> int:
    return int(host.check_output(f"cat {NOTIFIED} 2>/dev/null | wc -l"))


def converge(*args: str):
    run = run_playbook("converge.yml", *args)
    output = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout + run.stderr)
    return run.returncode, output, recap_changed(output)


def extra(**variables) -> tuple[str, str]:
    return "-e", json.dumps(variables)


def test_self_signed_material(host):
    folder = host.file(DIR)
    assert folder.is_directory and not folder.is_symlink and (folder.user, folder.group, folder.mode) == ("root", "root", 0o755)
    for path, mode in ((CERT, 0o644), (KEY, 0o600), (DHPARAM, 0o644)):
        item = host.file(path)
        assert item.is_file and not item.is_symlink, path
        assert (item.user, item.group) == ("root", "root"), path
        assert item.mode & 0o7077 == mode & 0o7077, (path, oct(item.mode))
    assert host.file(KEY).mode == 0o600
    assert "CN=tls.example.org" in openssl(host, "x509", "-in", CERT, "-noout", "-subject").replace(" ", "")
    assert cert_names(host) == sorted(NAMES)
    assert key_matches_cert(host)
    assert "3072 bit" in openssl(host, "pkey", "-in", KEY, "-noout", "-text").splitlines()[0]
    assert 360 < days_left(host) <= 366
    assert "GROUP: ffdhe2048" in openssl(host, "pkeyparam", "-in", DHPARAM, "-noout", "-text")


def test_check_mode_is_clean():
    assert_check_mode_clean()


def test_an_idempotent_run_reads_the_certificate_in_the_keys_probe_only():
    """The key's probe reads the certificate too (key, 30 more days, subject, DNS and IPv4 names):
    an unchanged certificate costs no x509_certificate_info run, and nothing changes."""
    returncode, output, changed = converge()
    assert returncode == 0 and set(changed.values()) == {0}, output[-3000:]
    block = output.split("TASK [web2py.deploy.web2py_tls : Look at the self-signed certificate", 1)[1].split("TASK [", 1)[0]
    assert "skipping:" in block and "ok:" not in block, block


def test_certificate_near_expiry_is_made_again_and_servers_told(host):
    """A certificate 10 days from its end (the same key and names) is renewed; the listeners of
    "web2py tls changed" run once; the next run changes nothing."""
    key_before = host.check_output(f"sha256sum {KEY}")
    san = ",".join(name.replace("IP Address", "IP") for name in NAMES)
    host.check_output(f"openssl req -new -x509 -key {KEY} -days 10 -subj /CN=tls.example.org "
                      f"-addext subjectAltName={san} -out {CERT}")
    assert days_left(host) < 11
    told = notifications(host)
    returncode, output, changed = converge()
    assert returncode == 0, output[-3000:]
    assert days_left(host) > 360 and key_matches_cert(host)
    assert host.check_output(f"sha256sum {KEY}") == key_before  # a renewal keeps the key
    assert notifications(host) == told + 1
    returncode, output, changed = converge()
    assert returncode == 0 and not any(changed.values()), output[-3000:]


# A certificate of the lab's key and names, with the subject and start date given (python3-cryptography,
# which the role installs, on the host: openssl 3.0 on Debian 12 cannot back- or forward-date).
FORGE = """
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
extra = sys.argv[3]
subject = x509.Name(([x509.NameAttribute(NameOID.COMMON_NAME, extra[3:])] if extra.startswith("CN=") else [])
                    + [x509.NameAttribute(NameOID.COMMON_NAME, "tls.example.org")]
                    + ([x509.NameAttribute(NameOID.ORGANIZATION_NAME, extra[2:])] if extra.startswith("O=") else []))
start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=int(sys.argv[4]))
names = [x509.DNSName("tls.example.org"), x509.DNSName("www.tls.example.org"),
         x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=100))
        .add_extension(x509.SubjectAlternativeName(names), critical=False).sign(key, hashes.SHA256()))
open(sys.argv[2], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
"""


@pytest.mark.parametrize("extra, start_in_days", [("O=Someone-else", -1), ("CN=attacker.example", -1), ("", 5)],
                         ids=["more-than-the-cn", "a-second-cn-first", "not-valid-yet"])
def test_a_certificate_the_probe_refuses_is_made_again(host, extra, start_in_days):
    """Each passes over the probe's fast path to x509_certificate_info, which must refuse it too:
    the same key and names with more in the subject (a second common name first, which a
    mapping of the subject would hide), or a certificate valid only from 5 days on."""
    assert host.run(f"python3 -c {shlex.quote(FORGE)} {KEY} {CERT} '{extra}' {start_in_days}").rc == 0
    assert host.run(f"openssl x509 -in {CERT} -noout -subject").rc == 0
    returncode, output, _changed = converge()
    assert returncode == 0, output[-3000:]
    assert [task for task in changed_tasks(output) if task.startswith("web2py.deploy.web2py_tls : Self-sign the certificate")], output[-3000:]
    assert openssl(host, "x509", "-in", CERT, "-noout", "-subject", "-nameopt", "RFC2253").strip() == "subject=CN=tls.example.org"
    assert days_left(host) > 360 and key_matches_cert(host)
    assert host.run(f"openssl verify -CAfile {CERT} {CERT}").rc == 0  # valid now
    returncode, output, changed = converge()
    assert returncode == 0 and not any(changed.values()), output[-3000:]


def test_a_key_changed_by_hand_is_put_right(host):
    """The next run repairs the key the one-command look finds wrong, as openssl_privatekey
    would: a key made readable to all gets 0600 back (the same key, no new certificate); a key
    saved in DER, or encrypted with a passphrase (openssl never waits for one), is made again
    and the certificate with it. Each time the run after changes nothing."""
    key_before = host.check_output(f"sha256sum {KEY}")
    assert host.run(f"chmod 0644 {KEY} && chmod 0700 {DIR}").rc == 0
    returncode, output, _changed = converge()
    assert returncode == 0, output[-3000:]
    assert host.file(KEY).mode == 0o600 and host.check_output(f"sha256sum {KEY}") == key_before
    assert host.file(DIR).mode == 0o755  # the folder too (the chain probe saw it was not as asked)
    for spoil in (f"openssl pkey -in {KEY} -outform DER -out {KEY}.new",
                  f"openssl pkey -in {KEY} -aes256 -passout pass:lab-S3cret -out {KEY}.new"):
        assert host.run(f"{spoil} && chmod 0600 {KEY}.new && mv {KEY}.new {KEY}").rc == 0, spoil
        returncode, output, _changed = converge()
        assert returncode == 0, output[-3000:]
        assert "3072 bit" in openssl(host, "pkey", "-in", KEY, "-passin", "pass:", "-noout", "-text").splitlines()[0], spoil
        assert host.check_output(f"sha256sum {KEY}") != key_before and key_matches_cert(host), spoil
        key_before = host.check_output(f"sha256sum {KEY}")
        returncode, output, changed = converge()
        assert returncode == 0 and not any(changed.values()), output[-3000:]


def test_other_names_make_a_new_certificate():
    names = ["DNS:tls.example.org", "DNS:api.tls.example.org"]
    returncode, output, _changed = converge(*extra(web2py_tls_subject_alt_names=names))
    assert returncode == 0, output[-3000:]
    returncode, output, changed = converge(*extra(web2py_tls_subject_alt_names=names))
    assert returncode == 0 and not any(changed.values()), output[-3000:]


def test_names_back_as_in_the_inventory(host):
    returncode, output, _changed = converge()
    assert returncode == 0, output[-3000:]
    assert cert_names(host) == sorted(NAMES)


def test_operator_files_installed_byte_for_byte_and_the_key_never_printed(host):
    with tempfile.TemporaryDirectory() as folder:
        files = write_tls_fixtures(folder)
        pem = {name: open(path, encoding="ascii").read() for name, path in files.items()}
        operator = extra(web2py_tls_cert_src=files["leaf.crt"], web2py_tls_key_src=files["leaf.key"],
                         web2py_tls_chain_src=files["chain.crt"])
        told = notifications(host)
        returncode, output, changed = converge(*operator, "--diff")
        assert returncode == 0, output[-3000:]
        assert host.file(CERT).content_string == pem["leaf.crt"] + pem["chain.crt"]
        assert host.file(KEY).content_string == pem["leaf.key"]
        assert host.file(KEY).mode == 0o600 and host.file(KEY).user == "root"
        assert key_matches_cert(host)
        assert notifications(host) == told + 1
        key_body = pem["leaf.key"].splitlines()[1]
        assert key_body not in output
        returncode, output, changed = converge(*operator, "--check", "--diff")
        assert returncode == 0 and not any(changed.values()), output[-3000:]
        assert key_body not in output

        # A key that does not belong to the certificate: refused before any change, naming the
        # variable; the served pair stays as it was.
        before = host.check_output(f"sha256sum {CERT} {KEY}")
        mismatch = extra(web2py_tls_cert_src=files["leaf.crt"], web2py_tls_key_src=files["other.key"],
                         web2py_tls_chain_src=files["chain.crt"])
        returncode, output, changed = converge(*mismatch)
        assert returncode != 0 and "web2py_tls_key_src" in output, output[-3000:]
        assert not any(changed.values()), changed
        assert host.check_output(f"sha256sum {CERT} {KEY}") == before
        assert pem["other.key"].splitlines()[1] not in output


def test_back_to_a_self_signed_certificate(host):
    """Without the operator's files the role makes its own key (RSA, not the operator's EC key)
    and certificate again."""
    returncode, output, _changed = converge()
    assert returncode == 0, output[-3000:]
    assert "3072 bit" in openssl(host, "pkey", "-in", KEY, "-noout", "-text").splitlines()[0]
    assert cert_names(host) == sorted(NAMES) and key_matches_cert(host)
    returncode, output, changed = converge()
    assert returncode == 0 and not any(changed.values()), output[-3000:]
