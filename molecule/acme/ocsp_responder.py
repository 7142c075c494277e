"""The lab's OCSP responder for Pebble (Pebble only writes the responder's URL into the
certificates it issues). For each request it asks Pebble's management port about the serial
and answers, signed by Pebble's intermediate (read at each request: Pebble makes new keys at
each start): "good" for a certificate Pebble issued, "revoked" once it was revoked through ACME,
"unauthorized" for a serial Pebble does not know. Each answer is valid OCSP_VALID_HOURS (24).

    ocsp_responder.py PEBBLE_NAME PEBBLE_CA_FILE [PORT]
"""
import base64
import datetime
import json
import os
import socket
import ssl
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

NAME, CA_FILE = sys.argv[1], sys.argv[2]
PORT = int(sys.argv[3]) if len(sys.argv) > 3 else 4002
VALID = datetime.timedelta(hours=float(os.environ.get("OCSP_VALID_HOURS", "24")))
CONTEXT = ssl.create_default_context(cafile=CA_FILE)


def management(path):
    with urllib.request.urlopen("https://%s:15000%s" % (NAME, path), context=CONTEXT, timeout=10) as answer:
        return answer.read()


def respond(der):
    request = ocsp.load_der_ocsp_request(der)
    try:
        status = json.loads(management("/cert-status-by-serial/%x" % request.serial_number))
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED), "unknown"
    cert = x509.load_pem_x509_certificate(status["Certificate"].encode())
    issuer = x509.load_pem_x509_certificate(management("/intermediates/0"))
    key = serialization.load_pem_private_key(management("/intermediate-keys/0"), password=None)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
    revoked = status["Status"] == "Revoked"
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert, issuer=issuer, algorithm=request.hash_algorithm,
        cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
        this_update=now - datetime.timedelta(minutes=1), next_update=now + VALID,
        revocation_time=now if revoked else None, revocation_reason=None,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
    return builder.sign(key, hashes.SHA256()), status["Status"]


class Handler(BaseHTTPRequestHandler):
    def answer(self, der):
        try:
            response, said = respond(der)
        except Exception as error:  # a malformed request, Pebble unreachable
            self.log_message("error: %r", error)
            response, said = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.INTERNAL_ERROR), "error"
        body = response.public_bytes(serialization.Encoding.DER)
        self.log_message("answered %s", said)
        self.send_response(200)
        self.send_header("Content-Type", "application/ocsp-response")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.answer(self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 65536)))

    def do_GET(self):
        encoded = urllib.request.unquote(self.path.lstrip("/"))
        self.answer(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))

    def log_message(self, fmt, *args):
        print("%s %s" % (self.address_string(), fmt % args), flush=True)


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6  # with IPv4 too (IPV6_V6ONLY is off by default)


Server(("::", PORT), Handler).serve_forever()
