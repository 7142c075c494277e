# Managed by web2py.deploy (role lighttpd_fcgi).
"""web2py's WSGI application as lighttpd's FastCGI backend serves it, loaded by uWSGI.

uWSGI (the backend unit's ExecStart) loads this file (``wsgi-file`` of its ini file) and serves
the ``application`` it defines over FastCGI on the listening socket systemd holds. web2py's own
handlers/fcgihandler.py does not run on Python 3 (it imports ``thread`` and
``dummy_threading``) and binds a hard-coded /tmp/fcgi.sock, so it is not used.

uWSGI passes the web2py folder and the web2py role's entry point in ``sys.argv`` (its
``pyargv`` option: ``--root <folder> --entry <file>``). Imported anywhere else (a test, a
tool), the file only defines its functions.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys

try:
    import uwsgi  # noqa: F401  (only inside uWSGI's Python plugin)
except ImportError:
    uwsgi = None  # pylint: disable=invalid-name

# Installed by the web2py role (files/web2py-wsgi.py).
DEFAULT_ENTRY = "/usr/local/libexec/web2py-deploy/web2py-wsgi.py"

# What a client says of its address. lighttpd names every header's variable with each character
# but letters and digits as "_": X.Forwarded.For, X~Forwarded~For and X-Forwarded-For are all
# HTTP_X_FORWARDED_FOR, and lighttpd.conf can only remove the spellings it lists. lighttpd has
# decided the client's address already (REMOTE_ADDR: mod_extforward believes the trusted
# balancers only), and sets X-Forwarded-Proto itself: these never reach web2py.
CLIENT_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_REAL_IP", "HTTP_FORWARDED")


def root_wsgi(app):
    """Every request reaches the backend through lighttpd's rewrite to the FastCGI prefix
    (/handler_web2py.fcgi): the application is mounted at the site root for the client, so
    the prefix must not leak into SCRIPT_NAME (URLs web2py builds from it). The client's own
    forwarding headers are removed (CLIENT_HEADERS)."""

    def application(environ, start_response):
        environ["SCRIPT_NAME"] = ""
        for key in CLIENT_HEADERS:
            environ.pop(key, None)
        return app(environ, start_response)

    return application


def load_web2py(root: str, entry: str = DEFAULT_ENTRY):
    """web2py's WSGI application through the web2py role's entry point: wsgihandler.py's
    application, with LC_CTYPE set back to C.UTF-8 once web2py's import has set it to "C"
    (Python embedded in uWSGI, started in systemd's LANG=C.UTF-8, is not in UTF-8 mode and
    would read appconfig.ini, and every other text file opened without an encoding, as ASCII)."""
    root = os.path.abspath(root)
    if not os.path.isdir(os.path.join(root, "applications")):
        raise SystemExit(f"web2py-fcgi: {root} has no applications/ folder")
    # web2py works relative to its folder, where the role placed wsgihandler.py.
    os.chdir(root)
    sys.path = [root] + [p for p in sys.path if p != root]
    return runpy.run_path(entry, run_name="web2py_wsgi")["application"]


def settings(argv):
    """--root and --entry from uWSGI's pyargv."""
    parser = argparse.ArgumentParser(prog="web2py-fcgi", description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="web2py folder (with web2py.py, applications/)")
    parser.add_argument("--entry", default=DEFAULT_ENTRY, help="WSGI entry point (web2py role's web2py-wsgi.py)")
    return parser.parse_args(argv)


if uwsgi is not None:
    _settings = settings(sys.argv[1:])
    application = root_wsgi(load_web2py(_settings.root, _settings.entry))
