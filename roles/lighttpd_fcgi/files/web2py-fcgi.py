# Managed by web2py.deploy (role lighttpd_fcgi).
"""web2py FastCGI backend for lighttpd, socket-activated by systemd.

web2py's handlers/fcgihandler.py does not run on Python 3 (it imports ``thread`` and
``dummy_threading``) and binds a hard-coded /tmp/fcgi.sock. This handler serves
web2py's WSGI application (the web2py role's entry point, which loads ``wsgihandler.py``) with
flup 1.0.3 on the listening socket systemd passes in (sd_listen_fds protocol: LISTEN_PID,
LISTEN_FDS, first descriptor 3). The socket belongs to
systemd: restarting this process never removes it.

Usage: python web2py-fcgi.py --root /srv/web2py/web2py [--mode threaded|prefork] ...
"""
from __future__ import annotations

import argparse
import os
import runpy
import socket
import sys

SD_LISTEN_FDS_START = 3
# Installed by the web2py role (files/web2py-wsgi.py).
DEFAULT_ENTRY = "/usr/local/libexec/web2py-deploy/web2py-wsgi.py"


def inherited_socket() -> socket.socket:
    """The one listening socket systemd passed to this process (sd_listen_fds(3))."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        raise SystemExit(
            "web2py-fcgi: no socket from systemd (LISTEN_PID is not this process); "
            "start it through its .socket unit"
        )
    count = int(os.environ.get("LISTEN_FDS", "0"))
    if count != 1:
        raise SystemExit(f"web2py-fcgi: expected 1 socket from systemd, got LISTEN_FDS={count}")
    # Children (prefork) must not take the variables for themselves.
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    if sock.type != socket.SOCK_STREAM or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) != 1:
        raise SystemExit("web2py-fcgi: fd 3 is not a listening stream socket")
    return sock


class SystemdSocketMixin:
    """Overrides flup's socket setup: use the inherited socket, never bind or unlink one."""

    def _setupSocket(self):  # noqa: N802 (flup's name)
        return inherited_socket()

    def _cleanupSocket(self, sock):  # noqa: N802
        # Closes this process's copy only; systemd keeps the socket listening.
        sock.close()


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
    (Python started in systemd's LANG=C.UTF-8 is not in UTF-8 mode and would read
    appconfig.ini, and every other text file opened without an encoding, as ASCII)."""
    root = os.path.abspath(root)
    if not os.path.isdir(os.path.join(root, "applications")):
        raise SystemExit(f"web2py-fcgi: {root} has no applications/ folder")
    # web2py works relative to its folder, where the role placed wsgihandler.py.
    os.chdir(root)
    sys.path = [root] + [p for p in sys.path if p != root]
    return runpy.run_path(entry, run_name="web2py_wsgi")["application"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="web2py folder (with web2py.py, applications/)")
    parser.add_argument("--entry", default=DEFAULT_ENTRY, help="WSGI entry point (web2py role's web2py-wsgi.py)")
    parser.add_argument("--mode", choices=("threaded", "prefork"), default="prefork")
    parser.add_argument("--min-spare", type=int, default=1)
    parser.add_argument("--max-spare", type=int, default=5)
    parser.add_argument("--max-threads", type=int, default=32, help="threaded mode")
    parser.add_argument("--max-children", type=int, default=8, help="prefork mode")
    parser.add_argument("--max-requests", type=int, default=0, help="prefork mode, 0: no limit")
    args = parser.parse_args(argv)

    app = root_wsgi(load_web2py(args.root, args.entry))
    if args.mode == "threaded":
        from flup.server.fcgi import WSGIServer  # pylint: disable=import-outside-toplevel

        class Server(SystemdSocketMixin, WSGIServer):
            pass

        server = Server(app, minSpare=args.min_spare, maxSpare=args.max_spare, maxThreads=args.max_threads)
    else:
        from flup.server.fcgi_fork import WSGIServer  # pylint: disable=import-outside-toplevel

        class Server(SystemdSocketMixin, WSGIServer):
            pass

        server = Server(
            app,
            minSpare=args.min_spare,
            maxSpare=args.max_spare,
            maxChildren=args.max_children,
            maxRequests=args.max_requests,
        )
    print(
        f"web2py-fcgi: serving {args.root} ({args.mode}) on the socket from systemd",
        file=sys.stderr,
        flush=True,
    )
    # flup's run() returns True on SIGHUP: exit non-zero so systemd (Restart=on-failure)
    # starts a fresh process that re-imports web2py; SIGTERM/SIGINT exit cleanly.
    return 1 if server.run() else 0


if __name__ == "__main__":
    sys.exit(main())
