# Managed by web2py.deploy (role web2py_server).
"""Start web2py's own server (web2py.py: Rocket, or anyserver.py: gunicorn) with the
forwarding headers of untrusted clients removed.

web2py believes what a request says about itself: ``request.is_https`` is true when the
``X-Forwarded-Proto`` header says https, and ``request.client`` is the first address of
``X-Forwarded-For``. admin accepts any client over HTTPS, so with web2py's server reachable from
the network a client that sends ``X-Forwarded-Proto: https`` over plain HTTP would get admin's
login page, and its password would cross the network in clear. Nothing stands in front of the
server on a standalone host to drop the header (on an apache_proxy host Apache does, and calls
from 127.0.0.1).

Usage (the unit's ExecStart; the working directory is web2py's folder)::

    python web2py-server.py [--trust ADDRESS_OR_NETWORK]... -- SCRIPT [SCRIPT'S ARGUMENTS]...

Before the script runs, ``gluon.main.wsgibase`` (the application both servers look up when
they start) is wrapped:

- From a peer that is not trusted (127.0.0.1, ::1 and each ``--trust``): X-Forwarded-For,
  X-Forwarded-Proto, X-Forwarded-Host, X-Real-IP and Forwarded are removed, whatever their
  spelling (``X_Forwarded_For`` and ``X-Forwarded-For`` reach the application under the same
  name). web2py then sees the TCP peer and the scheme of the connection.
- From a trusted peer (a load balancer, Apache on the same host): the client is the last
  X-Forwarded-For entry, the one the trusted peer appended (it becomes REMOTE_ADDR and the
  only X-Forwarded-For entry); X-Forwarded-Proto is kept when it says http or https.
"""
from __future__ import annotations

import ipaddress
import os
import runpy
import sys
from typing import Any, Callable, Iterable

# WSGI environ keys of the forwarding headers web2py or an application could read.
FORWARDING = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
              "HTTP_X_REAL_IP", "HTTP_FORWARDED")
LOOPBACK = ("127.0.0.1", "::1")


def parse_networks(values: Iterable[str]) -> list:
    """The trusted peers: loopback's two addresses and each value (an address or a network)."""
    return [ipaddress.ip_network(value, strict=False) for value in (*LOOPBACK, *values)]


def peer_address(value: str):
    """The peer as an address (an IPv4 address mapped into IPv6 as IPv4), None if it is not one."""
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def is_trusted(peer: str, networks: list) -> bool:
    address = peer_address(peer)
    return address is not None and any(address.version == net.version and address in net for net in networks)


def clean_environ(environ: dict, networks: list) -> dict:
    """Remove or settle the forwarding headers of one request, in place (see the module's text)."""
    if not is_trusted(environ.get("REMOTE_ADDR", ""), networks):
        for key in FORWARDING:
            environ.pop(key, None)
        return environ
    forwarded_for = environ.pop("HTTP_X_FORWARDED_FOR", "")
    last = forwarded_for.split(",")[-1].strip() if forwarded_for else ""
    client = peer_address(last) if last else None
    if client is not None:
        environ["REMOTE_ADDR"] = str(client)
        environ["HTTP_X_FORWARDED_FOR"] = str(client)
    proto = environ.pop("HTTP_X_FORWARDED_PROTO", "").strip().lower()
    if proto in ("http", "https"):
        environ["HTTP_X_FORWARDED_PROTO"] = proto
    return environ


def guard(application: Callable[..., Any], networks: list) -> Callable[..., Any]:
    def guarded(environ: dict, start_response: Callable[..., Any]) -> Any:
        return application(clean_environ(environ, networks), start_response)
    guarded.__doc__ = application.__doc__
    return guarded


def split_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """(trusted values, [script, its arguments...]) from this program's arguments."""
    trusted: list[str] = []
    rest = list(argv)
    while rest and rest[0] != "--":
        option = rest.pop(0)
        if option != "--trust" or not rest:
            raise SystemExit(f"web2py-server.py: unexpected argument {option!r} (usage: [--trust NET]... -- SCRIPT ARGS...)")
        trusted.append(rest.pop(0))
    if not rest or len(rest) < 2:
        raise SystemExit("web2py-server.py: no script to run after --")
    return trusted, rest[1:]


def main(argv: list[str]) -> None:
    trusted, script_argv = split_arguments(argv)
    networks = parse_networks(trusted)
    root = os.getcwd()
    if root not in sys.path:
        sys.path.insert(0, root)
    # web2py's folder is on sys.path now.
    import gluon.main  # pylint: disable=import-outside-toplevel
    gluon.main.wsgibase = guard(gluon.main.wsgibase, networks)
    sys.argv = script_argv
    runpy.run_path(script_argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
