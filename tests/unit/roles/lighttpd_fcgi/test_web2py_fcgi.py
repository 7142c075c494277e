"""Unit tests of roles/lighttpd_fcgi/files/web2py-fcgi.py: what reaches web2py of a request."""
from __future__ import annotations
from conftest import load_role_file


fcgi = load_role_file("roles/lighttpd_fcgi/files/web2py-fcgi.py", "web2py_fcgi")


def test_mounted_at_the_root_without_the_clients_forwarding_headers():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b"ok"]

    environ = {"SCRIPT_NAME": "/handler_web2py.fcgi", "REMOTE_ADDR": "198.51.100.4", "HTTP_X_FORWARDED_PROTO": "https",
               "HTTP_X_FORWARDED_FOR": "127.0.0.1", "HTTP_X_REAL_IP": "127.0.0.1", "HTTP_FORWARDED": "for=127.0.0.1",
               "HTTP_X_FORWARDED_HOST": "evil.example", "HTTP_HOST": "site.example"}
    assert fcgi.root_wsgi(app)(environ, lambda *a: None) == [b"ok"]
    assert seen["SCRIPT_NAME"] == "" and seen["REMOTE_ADDR"] == "198.51.100.4" and seen["HTTP_HOST"] == "site.example"
    # the scheme lighttpd set stays; what the client said of its address does not
    assert seen["HTTP_X_FORWARDED_PROTO"] == "https"
    assert not set(fcgi.CLIENT_HEADERS) & set(seen)
