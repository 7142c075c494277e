"""Unit tests of the one TLS policy rendered for every server (web2py.deploy.tls_directives,
hsts_directives)."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.tls import SERVERS, hsts_directives, tls_directives

CIPHERS = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"]
CURVES = "X25519:prime256v1:secp384r1"


def test_nginx():
    assert tls_directives("nginx", ["TLSv1.3", "TLSv1.2"], CIPHERS, CURVES, "/etc/dh.pem") == [
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;",
        "ssl_ecdh_curve X25519:prime256v1:secp384r1;",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_tickets off;",
        "ssl_dhparam /etc/dh.pem;",
    ]


def test_apache():
    lines = tls_directives("apache", ["TLSv1.2", "TLSv1.3"], CIPHERS, CURVES, "/etc/dh.pem")
    assert lines[0] == "SSLProtocol -all +TLSv1.2 +TLSv1.3"
    assert "SSLHonorCipherOrder off" in lines and "SSLSessionTickets off" in lines
    assert lines[-1] == 'SSLOpenSSLConfCmd DHParameters "/etc/dh.pem"'


def test_lighttpd_sets_both_ends_of_the_range():
    lines = tls_directives("lighttpd", ["TLSv1.2", "TLSv1.3"], CIPHERS, CURVES, "/ignored")
    assert lines[:2] == ['"MinProtocol" => "TLSv1.2",', '"MaxProtocol" => "TLSv1.3",']
    assert '"Options" => "-SessionTicket, -ServerPreference",' in lines
    assert not any("ignored" in line for line in lines)


def test_haproxy_follows_the_protocol_list():
    """HAProxy once took the first entry of the list as its minimum (drift): now the range."""
    lines = tls_directives("haproxy", ["TLSv1.3", "TLSv1.2"], CIPHERS, CURVES, "/etc/dh.pem")
    assert "ssl-default-bind-options prefer-client-ciphers ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 no-tls-tickets" in lines
    only13 = tls_directives("haproxy", ["TLSv1.3"], [], CURVES)
    assert only13[-1].endswith("ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3 no-tls-tickets")
    assert not any(line.startswith("ssl-default-bind-ciphers ") for line in only13)


@pytest.mark.parametrize("server", SERVERS)
def test_every_server_gets_the_same_policy(server):
    text = "\n".join(tls_directives(server, ["TLSv1.2", "TLSv1.3"], CIPHERS, CURVES))
    assert ":".join(CIPHERS) in text and CURVES in text and "TLSv1.2" in text and "TLSv1.3" in text


@pytest.mark.parametrize("protocols,ciphers,curves", [
    ([], CIPHERS, CURVES), (["TLSv1.1", "TLSv1.2"], CIPHERS, CURVES), (["SSLv3"], CIPHERS, CURVES),
    (["TLSv1.2"], [], CURVES), (["TLSv1.2"], ["AES128; ssl_verify off"], CURVES),
    (["TLSv1.2"], CIPHERS, "X25519 secp384r1"), (["TLSv1.2"], CIPHERS, "X25519\n"),
])
def test_bad_policies_refused(protocols, ciphers, curves):
    with pytest.raises(AnsibleFilterError):
        tls_directives("nginx", protocols, ciphers, curves)


def test_unknown_server_refused():
    with pytest.raises(AnsibleFilterError):
        tls_directives("caddy", ["TLSv1.2"], CIPHERS, CURVES)
    with pytest.raises(AnsibleFilterError):
        hsts_directives("caddy", 10)


@pytest.mark.parametrize("server", SERVERS)
def test_hsts_zero_means_no_header_on_every_server(server):
    assert hsts_directives(server, 0) == []
    assert hsts_directives(server, "0") == []
    (line,) = hsts_directives(server, 63072000)
    assert "Strict-Transport-Security" in line and '"max-age=63072000"' in line


@pytest.mark.parametrize("value", [-1, "x", "10; preload", True, None, "1e3"])
def test_hsts_bad_values_refused(value):
    with pytest.raises(AnsibleFilterError):
        hsts_directives("nginx", value)
