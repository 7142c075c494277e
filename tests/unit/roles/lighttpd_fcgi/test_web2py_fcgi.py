"""Unit tests of roles/lighttpd_fcgi/files/web2py-fcgi.py: what reaches web2py of a request."""
from __future__ import annotations

import sys
import types

import pytest
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


def test_outside_uwsgi_only_functions():
    """Imported by a test or a tool (no uwsgi module), the file defines no application and
    imports no FastCGI server of its own."""
    assert fcgi.uwsgi is None and not hasattr(fcgi, "application")
    assert "flup" not in sys.modules


def test_loaded_by_uwsgi_serves_the_entry_points_application(tmp_path, monkeypatch):
    """Under uWSGI (its uwsgi module importable, pyargv in sys.argv) the file builds
    ``application``: the web2py role's entry point run from the web2py folder, wrapped."""
    root = tmp_path / "web2py"
    (root / "applications").mkdir(parents=True)
    entry = tmp_path / "entry.py"
    entry.write_text("import os\n"
                     "def application(environ, start_response):\n"
                     "    return [os.getcwd().encode(), environ['SCRIPT_NAME'].encode()]\n")
    monkeypatch.setitem(sys.modules, "uwsgi", types.ModuleType("uwsgi"))
    monkeypatch.setattr(sys, "argv", ["uwsgi", "--root", str(root), "--entry", str(entry)])
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    loaded = load_role_file("roles/lighttpd_fcgi/files/web2py-fcgi.py", "web2py_fcgi_in_uwsgi")
    environ = {"SCRIPT_NAME": "/handler_web2py.fcgi", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}
    assert loaded.application(environ, lambda *a: None) == [str(root).encode(), b""]
    assert sys.path[0] == str(root)


def test_settings_need_the_web2py_folder():
    assert fcgi.settings(["--root", "/srv/web2py/web2py"]).entry == fcgi.DEFAULT_ENTRY
    with pytest.raises(SystemExit):
        fcgi.settings([])
