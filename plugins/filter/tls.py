# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TLS policy of web2py.deploy, written once and rendered in each server's syntax.

``tls_directives`` turns the policy (protocol versions, TLS 1.2 ciphers, curves) into the
directives of nginx, Apache (mod_ssl), lighttpd (mod_openssl) or HAProxy; ``hsts_directives``
the Strict-Transport-Security header, or nothing when max-age is 0 (the header with max-age=0
would tell browsers to forget the site's HSTS, which is not what "off" means). Every front end
and the load balancer render the same policy through them, so none can drift.
"""

from __future__ import annotations

import re
import typing as t

from ansible.errors import AnsibleFilterError

PROTOCOLS = ("TLSv1.2", "TLSv1.3")
# TLS 1.3 suites of Mozilla's intermediate profile (OpenSSL's default set, in its order).
TLS13_SUITES = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")
SERVERS = ("nginx", "apache", "lighttpd", "haproxy")
_TOKEN = re.compile(r"[A-Za-z0-9_.+-]+\Z")
_CURVES = re.compile(r"[A-Za-z0-9_-]+(?::[A-Za-z0-9_-]+)*\Z")


def _policy(server: str, protocols: t.Sequence[str], ciphers: t.Sequence[str],
            curves: str) -> t.Tuple[t.List[str], t.List[str], str]:
    if server not in SERVERS:
        raise AnsibleFilterError("tls_directives: server must be one of %s, not %r" % (", ".join(SERVERS), server))
    if not protocols or any(p not in PROTOCOLS for p in protocols):
        raise AnsibleFilterError("web2py_tls_protocols must list TLSv1.2 and/or TLSv1.3, not %r" % (list(protocols),))
    if any(not isinstance(c, str) or not _TOKEN.match(c) for c in ciphers):
        raise AnsibleFilterError("web2py_tls_ciphers must be OpenSSL cipher names")
    if not isinstance(curves, str) or not _CURVES.match(curves):
        raise AnsibleFilterError("web2py_tls_curves must be curve names joined by ':'")
    ordered = sorted(set(protocols), key=PROTOCOLS.index)
    if "TLSv1.2" in ordered and not ciphers:
        raise AnsibleFilterError("web2py_tls_ciphers must not be empty while TLSv1.2 is enabled")
    return ordered, list(ciphers), curves


def tls_directives(server: str, protocols: t.Sequence[str], ciphers: t.Sequence[str], curves: str,
                   dhparam: t.Optional[str] = None) -> t.List[str]:
    """Lines of the server's TLS policy (versions, ciphers, curves, no tickets, client's order).

    dhparam: the DH group file for DHE suites (nginx, Apache and HAProxy; lighttpd picks its own).
    """
    ordered, ciphers, curves = _policy(server, protocols, ciphers, curves)
    cipher_list = ":".join(ciphers)
    if server == "nginx":
        lines = ["ssl_protocols %s;" % " ".join(ordered)]
        if cipher_list:
            lines.append("ssl_ciphers %s;" % cipher_list)
        lines += ["ssl_ecdh_curve %s;" % curves, "ssl_prefer_server_ciphers off;", "ssl_session_tickets off;"]
        if dhparam:
            lines.append("ssl_dhparam %s;" % dhparam)
        return lines
    if server == "apache":
        lines = ["SSLProtocol -all %s" % " ".join("+" + p for p in ordered)]
        if cipher_list:
            lines.append("SSLCipherSuite %s" % cipher_list)
        lines += ["SSLHonorCipherOrder off", "SSLSessionTickets off", "SSLCompression off",
                  "SSLOpenSSLConfCmd Curves %s" % curves]
        if dhparam:
            lines.append('SSLOpenSSLConfCmd DHParameters "%s"' % dhparam)
        return lines
    if server == "lighttpd":
        # MinProtocol too: "Protocol" only turns versions off, and lighttpd >= 1.4.77 sets
        # MinProtocol TLSv1.3 by default.
        lines = ['"MinProtocol" => "%s",' % ordered[0], '"MaxProtocol" => "%s",' % ordered[-1]]
        if cipher_list:
            lines.append('"CipherString" => "%s",' % cipher_list)
        lines += ['"Curves" => "%s",' % curves, '"Options" => "-SessionTicket, -ServerPreference",']
        return lines
    lines = []
    if cipher_list:
        lines.append("ssl-default-bind-ciphers %s" % cipher_list)
    lines += ["ssl-default-bind-ciphersuites %s" % ":".join(TLS13_SUITES),
              "ssl-default-bind-curves %s" % curves,
              "ssl-default-bind-options prefer-client-ciphers ssl-min-ver %s ssl-max-ver %s no-tls-tickets"
              % (ordered[0], ordered[-1])]
    if dhparam:
        lines.append("ssl-dh-param-file %s" % dhparam)
    return lines


def hsts_directives(server: str, max_age: t.Any) -> t.List[str]:
    """The Strict-Transport-Security header in the server's syntax; [] when max_age is 0."""
    if server not in SERVERS:
        raise AnsibleFilterError("hsts_directives: server must be one of %s, not %r" % (", ".join(SERVERS), server))
    try:
        seconds = int(max_age)
    except (TypeError, ValueError):
        raise AnsibleFilterError("web2py_hsts_max_age must be a number of seconds, not %r" % (max_age,))
    if isinstance(max_age, bool) or seconds < 0 or str(seconds) != str(max_age).strip():
        raise AnsibleFilterError("web2py_hsts_max_age must be a number of seconds >= 0, not %r" % (max_age,))
    if seconds == 0:
        return []
    value = "max-age=%d" % seconds
    return [{
        "nginx": 'add_header Strict-Transport-Security "%s" always;',
        "apache": 'Header always set Strict-Transport-Security "%s"',
        "lighttpd": 'setenv.add-response-header = ( "Strict-Transport-Security" => "%s" )',
        "haproxy": 'http-response set-header Strict-Transport-Security "%s"',
    }[server] % value]


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"tls_directives": tls_directives, "hsts_directives": hsts_directives}
