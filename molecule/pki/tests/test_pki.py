"""Scenario pki: the private CA on the controller, a server's key and certificate on the host."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import PKI_CA, assert_check_mode_clean, recap_changed, run_playbook

PKI_DIR = os.path.join(os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"]), ".pki")
KEY = "/etc/web2py-deploy/pki/private/redis.key"
CERT = "/etc/web2py-deploy/pki/redis.crt"


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True).stdout


def cert_text(host) -> str:
    return host.check_output(f"openssl x509 -in {CERT} -noout -serial -enddate -ext subjectAltName -issuer")


def public_key(host) -> str:
    return host.check_output(f"openssl pkey -in {KEY} -pubout")


def converge(*extra: str) -> str:
    run = run_playbook("converge.yml", *extra)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return run.stdout


def test_check_mode_on_the_converged_host_changes_nothing():
    assert_check_mode_clean()


def test_ca_key_stays_on_the_controller_0600():
    assert oct(os.stat(PKI_DIR).st_mode & 0o777) == "0o700"
    assert oct(os.stat(os.path.join(PKI_DIR, "ca.key")).st_mode & 0o777) == "0o600"
    text = openssl("x509", "-in", os.path.join(PKI_DIR, "ca.crt"), "-noout", "-text")
    assert "CA:TRUE, pathlen:0" in text and "Certificate Sign, CRL Sign" in text


def test_host_has_the_ca_certificate_and_its_own_key(host):
    with open(os.path.join(PKI_DIR, "ca.crt"), encoding="ascii") as handle:
        assert host.file(PKI_CA).content_string.strip() == handle.read().strip()
    ca = host.file(PKI_CA)
    assert (ca.user, ca.mode) == ("root", 0o644)
    key = host.file(KEY)
    assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
    assert "ASN1 OID: prime256v1" in host.check_output(f"openssl pkey -in {KEY} -noout -text")
    assert host.file("/etc/web2py-deploy/pki/private").mode == 0o711
    assert not host.file("/etc/web2py-deploy/pki/ca.key").exists


def test_certificate_is_a_server_certificate_for_the_host(host):
    assert host.run(f"openssl verify -CAfile {PKI_CA} -purpose sslserver {CERT}").rc == 0
    text = host.check_output(f"openssl x509 -in {CERT} -noout -text")
    assert "CA:FALSE" in text and "TLS Web Server Authentication" in text
    name = host.ansible.get_variables()["inventory_hostname"]
    for check in (f"-checkhost {name}", "-checkip 127.0.0.1", "-checkip ::1"):
        assert "does match" in host.check_output(f"openssl x509 -in {CERT} -noout {check}")
    # The names come from the inventory, not from the host's facts (root there sets them).
    san = host.check_output(f"openssl x509 -in {CERT} -noout -ext subjectAltName").splitlines()[-1].strip()
    assert san == f"DNS:{name}, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1", san
    other = host.run(f"openssl x509 -in {CERT} -noout -checkhost not-this-host.example")
    assert "does NOT match" in other.stdout, other.stdout


def test_signed_anew_when_it_nears_its_end_with_the_same_key(host):
    before, key = cert_text(host), public_key(host)
    # The certificate has about 825 days left: renewing at 826 days left signs it again.
    output = converge("-e", "pki_renew_days=826", "-e", "pki_cert_days=900")
    assert recap_changed(output) and sum(recap_changed(output).values()) >= 1
    assert cert_text(host) != before and public_key(host) == key
    # Now valid for 900 days: a second run changes nothing.
    again = converge("-e", "pki_renew_days=826", "-e", "pki_cert_days=900")
    assert not any(recap_changed(again).values()), again[-2000:]


def test_names_root_gives_the_host_are_not_signed(host):
    """Root on the host renames it and adds another server's address: the certificate keeps the
    inventory's names (a new one is not asked for)."""
    before = cert_text(host)
    host.run("ip link add w2p-test type dummy && ip addr add 10.9.9.9/32 dev w2p-test; hostname db-primary.internal")
    try:
        converge()
        assert cert_text(host) == before
    finally:
        host.run("ip link del w2p-test; hostname \"$(cat /etc/hostname)\"")


def test_signed_anew_for_a_new_name(host):
    name = host.ansible.get_variables()["inventory_hostname"]
    converge("-e", f'{{"pki_cert_names": ["{name}", "db.internal.example"]}}')
    assert "does match" in host.check_output(f"openssl x509 -in {CERT} -noout -checkhost db.internal.example")
    assert "does match" in host.check_output(f"openssl x509 -in {CERT} -noout -checkhost {name}")


def test_operator_ca_put_in_pki_dir_signs_instead(host, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            str(own / "ca.key"), "-out", str(own / "ca.crt"), "-subj", "/CN=operator CA", "-days", "30",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    saved = tmp_path / "saved"
    shutil.copytree(PKI_DIR, saved)
    try:
        for name in ("ca.key", "ca.crt"):
            shutil.copy(own / name, os.path.join(PKI_DIR, name))
        key = public_key(host)
        converge()
        assert "operator CA" in host.check_output(f"openssl x509 -in {CERT} -noout -issuer")
        assert host.run(f"openssl verify -CAfile {PKI_CA} -purpose sslserver {CERT}").rc == 0
        assert public_key(host) == key
    finally:
        for name in ("ca.key", "ca.crt"):
            shutil.copy(saved / name, os.path.join(PKI_DIR, name))
        converge()
    assert "web2py.deploy private CA" in host.check_output(f"openssl x509 -in {CERT} -noout -issuer")


# Root on the host swaps openssl for one that asks for more: another server's name, a wildcard,
# a CA certificate and other uses.
FORGER = """#!/bin/bash
if [ "$1" = req ]; then
  out=()
  while [ $# -gt 0 ]; do
    if [ "$1" = -addext ]; then shift 2; continue; fi
    out+=("$1"); shift
  done
  exec /usr/bin/openssl "${out[@]}" -addext "subjectAltName=DNS:db-primary.internal,DNS:*.internal,IP:10.9.9.9" \\
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,digitalSignature,keyCertSign" \\
    -addext "extendedKeyUsage=serverAuth,clientAuth,codeSigning"
fi
exec /usr/bin/openssl "$@"
"""


def test_a_request_asking_for_other_names_or_a_ca_is_not_signed(host):
    key = public_key(host)
    host.run(f"cat > /usr/local/bin/openssl <<'EOF'\n{FORGER}EOF\nchmod 0755 /usr/local/bin/openssl; rm -f {CERT}")
    try:
        run = run_playbook("converge.yml")
        output = run.stdout + run.stderr
        assert run.returncode != 0 and "was not signed" in output, output[-3000:]
        assert "DNS:*.internal" in output and "CA:FALSE" in output
        assert not host.file(CERT).exists
    finally:
        host.run("rm -f /usr/local/bin/openssl")
    converge()
    assert host.run(f"openssl verify -CAfile {PKI_CA} -purpose sslserver {CERT}").rc == 0
    assert "CA:FALSE" in host.check_output(f"openssl x509 -in {CERT} -noout -ext basicConstraints")
    assert public_key(host) == key


def test_a_lone_ca_key_or_certificate_is_refused_not_replaced(tmp_path):
    for missing in ("ca.crt", "ca.key"):
        aside = tmp_path / missing
        shutil.move(os.path.join(PKI_DIR, missing), aside)
        try:
            kept = {name: open(os.path.join(PKI_DIR, name), "rb").read() for name in os.listdir(PKI_DIR)}
            run = run_playbook("converge.yml")
            output = run.stdout + run.stderr
            assert run.returncode != 0 and f"without {missing}" in output, output[-2000:]
            assert {name: open(os.path.join(PKI_DIR, name), "rb").read() for name in os.listdir(PKI_DIR)} == kept
        finally:
            shutil.move(aside, os.path.join(PKI_DIR, missing))


def expired_ca(directory) -> None:
    """A CA whose validity ended yesterday (ca.key, ca.crt in directory)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(key, hashes.SHA256()))
    (directory / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    (directory / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_an_expired_ca_signs_nothing(host, tmp_path):
    own = tmp_path / "expired"
    own.mkdir()
    expired_ca(own)
    saved = tmp_path / "saved"
    shutil.copytree(PKI_DIR, saved)
    before = cert_text(host)
    try:
        for name in ("ca.key", "ca.crt"):
            shutil.copy(own / name, os.path.join(PKI_DIR, name))
        run = run_playbook("converge.yml")
        output = run.stdout + run.stderr
        assert run.returncode != 0 and "has expired" in output, output[-2000:]
        assert cert_text(host) == before
    finally:
        for name in ("ca.key", "ca.crt"):
            shutil.copy(saved / name, os.path.join(PKI_DIR, name))
        converge()


@pytest.mark.parametrize("extra, variable", [
    ('{"pki_dir": "relative/pki"}', "pki_dir"),
    ('{"pki_dir": "/tmp/a/../b"}', "pki_dir"),
    ('{"pki_cert_addresses": ["10.0.0.300"]}', "pki_cert_addresses"),
    ('{"pki_cert_names": ["bad name\\nx"]}', "pki_cert_names"),
    ('{"pki_cert_names": []}', "pki_cert_names"),
    ('{"pki_renew_days": 900}', "pki_renew_days"),
    ('{"pki_cert_names": ["db.example."]}', "pki_cert_names"),
    ('{"pki_cert_names": ["' + "d" * 65 + '.example"]}', "pki_cert_names"),
])
def test_bad_value_refused_before_any_change(host, extra, variable):
    before = cert_text(host)
    run = run_playbook("converge.yml", "-e", extra)
    output = run.stdout + run.stderr
    assert run.returncode != 0 and variable in output, output[-2000:]
    assert "changed=0" in output and cert_text(host) == before
