"""The ACME deploy hook's OCSP stapling (roles/web2py_tls/templates/acme-deploy.j2, mode
--staple): which answers it keeps, run for real (sh, openssl) against answers crafted here and
served by a responder on loopback. Only an answer that verifies against the certificate's
issuer (signed by it, or by a responder it certified for OCSP signing), for this certificate,
"good" and valid 2 more hours is stapled; a newer one replaces it, nothing else does."""
from __future__ import annotations

import datetime
import http.server
import pathlib
import subprocess
import threading

import jinja2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

TEMPLATE = pathlib.Path(__file__).resolve().parents[4] / "roles" / "web2py_tls" / "templates" / "acme-deploy.j2"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)
HOUR = datetime.timedelta(hours=1)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject, key, issuer, issuer_key, ca=False, eku=None, url=None):
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOW - 24 * HOUR).not_valid_after(NOW + 90 * 24 * HOUR)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if url:
        builder = builder.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url))]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class Responder(http.server.BaseHTTPRequestHandler):
    answer = b""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(Responder.answer)))
        self.end_headers()
        self.wfile.write(Responder.answer)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Responder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    root_key, inter_key, leaf_key, other_key = _key(), _key(), _key(), _key()
    root = _cert("Root", root_key, "Root", root_key, ca=True)
    inter = _cert("Inter", inter_key, "Root", root_key, ca=True)
    leaf = _cert("leaf.test", leaf_key, "Inter", inter_key, eku=[ExtendedKeyUsageOID.SERVER_AUTH], url=url)
    other = _cert("other.test", other_key, "Inter", inter_key, eku=[ExtendedKeyUsageOID.SERVER_AUTH], url=url)
    signers = {"issuer": (inter, inter_key, None)}
    key = _key()
    signers["delegated"] = (_cert("OCSP", key, "Inter", inter_key, eku=[ExtendedKeyUsageOID.OCSP_SIGNING]), key, True)
    key = _key()
    signers["delegated-no-eku"] = (_cert("Not OCSP", key, "Inter", inter_key, eku=[ExtendedKeyUsageOID.SERVER_AUTH]), key, True)
    evil_key = _key()
    signers["forged"] = (_cert("Inter", evil_key, "Inter", evil_key, ca=True), evil_key, None)  # another CA, same name
    signers["root"] = (root, root_key, None)
    tls = tmp_path_factory.mktemp("tls")
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tls / "live.pem").write_bytes(leaf.public_bytes(pem) + inter.public_bytes(pem) + key_pem)
    hook = tls / "acme-deploy"
    hook.write_text(jinja2.Template(TEMPLATE.read_text(), keep_trailing_newline=True).render(
        ansible_managed="test", web2py_tls_live_file=str(tls / "live.pem"), __web2py_tls_ocsp_file=str(tls / "live.pem.ocsp"),
        web2py_tls_acme_ocsp_stapling=True, web2py_tls_stapling_nginx=str(tls / "stapling-nginx.conf"),
        web2py_tls_stapling_lighttpd=str(tls / "stapling-lighttpd.conf"), __web2py_tls_acme_name="leaf.test",
        __web2py_tls_acme_lock=str(tls / "lock")))
    hook.chmod(0o755)

    def answer(signer="issuer", status=ocsp.OCSPCertStatus.GOOD, this=NOW - datetime.timedelta(minutes=1),
               next_update=NOW + 24 * HOUR, cert=leaf):
        signer_cert, signer_key, include = signers[signer]
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert, issuer=inter, algorithm=hashes.SHA1(), cert_status=status, this_update=this, next_update=next_update,
            revocation_time=NOW if status == ocsp.OCSPCertStatus.REVOKED else None, revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, signer_cert)
        if include:
            builder = builder.certificates([signer_cert])
        return builder.sign(signer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    yield {"tls": tls, "hook": hook, "answer": answer, "other": other}
    server.shutdown()


def staple(pki, served: bytes, current: bytes | None = None) -> tuple[subprocess.CompletedProcess, bytes | None]:
    """acme-deploy --staple with CURRENT in live.pem.ocsp and the responder answering SERVED:
    the run, and what live.pem.ocsp holds afterwards."""
    path = pki["tls"] / "live.pem.ocsp"
    if current is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(current)
    Responder.answer = served
    run = subprocess.run(["sh", str(pki["hook"]), "--staple"], capture_output=True, text=True, timeout=120, check=False)
    return run, path.read_bytes() if path.exists() else None


def snippets_on(pki) -> bool:
    nginx = (pki["tls"] / "stapling-nginx.conf").read_text()
    lighttpd = (pki["tls"] / "stapling-lighttpd.conf").read_text()
    assert ("ssl_stapling on;" in nginx) == ("ssl.stapling-file" in lighttpd)
    return "ssl_stapling on;" in nginx


def test_a_good_answer_from_the_issuer_or_its_delegated_responder_is_stapled(pki):
    for signer in ("issuer", "delegated"):
        good = pki["answer"](signer)
        run, kept = staple(pki, good)
        assert run.returncode == 0 and run.stdout.strip() == "changed", run.stderr
        assert kept == good and snippets_on(pki), signer
        assert oct((pki["tls"] / "live.pem.ocsp").stat().st_mode & 0o777) == "0o644"


@pytest.mark.parametrize("case", ["forged", "root", "delegated-no-eku", "other-certificate", "revoked", "expired",
                                  "expiring-within-2-hours", "no-next-update", "garbage"])
def test_a_bad_answer_is_never_stapled(pki, case):
    answer = pki["answer"]
    served = {
        "forged": lambda: answer("forged"),  # another CA with the issuer's name
        "root": lambda: answer("root"),  # the issuer's issuer is not the issuer
        "delegated-no-eku": lambda: answer("delegated-no-eku"),
        "other-certificate": lambda: answer(cert=pki["other"]),
        "revoked": lambda: answer(status=ocsp.OCSPCertStatus.REVOKED),
        "expired": lambda: answer(this=NOW - 48 * HOUR, next_update=NOW - HOUR),
        "expiring-within-2-hours": lambda: answer(this=NOW - 48 * HOUR, next_update=NOW + HOUR),
        "no-next-update": lambda: answer(next_update=None),
        "garbage": lambda: b"not an OCSP answer",
    }[case]()
    run, kept = staple(pki, served)
    assert run.returncode == 0, run.stderr
    assert kept is None and not snippets_on(pki), case
    if case == "revoked":
        assert "REVOKED" in run.stderr


def test_a_revoked_answer_removes_the_good_one(pki):
    """A good answer past half its validity, then the responder says "revoked": no stapling."""
    old = pki["answer"](this=NOW - 20 * HOUR, next_update=NOW + 10 * HOUR)
    run, kept = staple(pki, pki["answer"](status=ocsp.OCSPCertStatus.REVOKED), current=old)
    assert run.stdout.strip() == "changed" and "REVOKED" in run.stderr
    assert kept is None and not snippets_on(pki)


def test_a_fresh_answer_is_kept_without_asking(pki):
    fresh = pki["answer"]()
    staple(pki, fresh)
    run, kept = staple(pki, b"garbage", current=fresh)
    assert run.returncode == 0 and run.stdout == "" and kept == fresh


def test_past_half_life_only_a_newer_answer_replaces_it_and_the_same_changes_nothing(pki):
    old = pki["answer"](this=NOW - 20 * HOUR, next_update=NOW + 10 * HOUR)
    staple(pki, old)  # (the snippets as for a kept answer)
    older = pki["answer"](this=NOW - 22 * HOUR, next_update=NOW + 10 * HOUR)
    run, kept = staple(pki, older, current=old)
    assert run.stdout == "" and kept == old and "no newer good OCSP answer" in run.stderr
    run, kept = staple(pki, old, current=old)
    assert run.stdout == "" and kept == old
    newer = pki["answer"]()
    run, kept = staple(pki, newer, current=old)
    assert run.stdout.strip() == "changed" and kept == newer


def test_a_valid_answer_stays_while_the_responder_fails_until_2_hours_before_it_expires(pki):
    stale = pki["answer"](this=NOW - 20 * HOUR, next_update=NOW + 3 * HOUR)
    staple(pki, stale)
    run, kept = staple(pki, b"garbage", current=stale)
    assert run.stdout == "" and kept == stale and snippets_on(pki)
    dying = pki["answer"](this=NOW - 20 * HOUR, next_update=NOW + HOUR)
    run, kept = staple(pki, b"garbage", current=dying)
    assert run.stdout.strip() == "changed" and kept is None and not snippets_on(pki)


def test_check_mode_writes_nothing(pki):
    path = pki["tls"] / "live.pem.ocsp"
    path.unlink(missing_ok=True)
    Responder.answer = pki["answer"]()
    run = subprocess.run(["sh", str(pki["hook"]), "--staple", "--check"], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "changed"
    assert not path.exists()
