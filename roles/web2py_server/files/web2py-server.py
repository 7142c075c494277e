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
  only X-Forwarded-For entry; "ip:port" and "[v6]:port" are read, anything else is answered
  400); X-Forwarded-Proto is kept when it says http or https. Other spellings of these
  headers (X.Forwarded.Proto, X_Forwarded-For...: web2py reads them as the same names) are
  removed from every peer.
- A request with a SCRIPT_NAME is answered 400, from every peer: web2py is served at the root,
  and gunicorn takes SCRIPT_NAME from a header of the peers it trusts, which would make web2py
  route another path than the one the front end checked.
"""
from __future__ import annotations

import ipaddress
import os
import re
import runpy
import sys
from typing import Any, Callable, Iterable

# WSGI environ keys of the forwarding headers web2py or an application could read. A server
# makes a header's key from its name (Rocket and gunicorn: upper case, "-" as "_"), and web2py
# reads environ keys with "." as "_" (gluon/rewrite.py): "X.Forwarded.Proto" and
# "X_Forwarded-Proto" reach web2py as X-Forwarded-Proto. Keys are compared with every character
# but letters and digits read as "_".
FORWARDING = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
              "HTTP_X_REAL_IP", "HTTP_FORWARDED")
LOOPBACK = ("127.0.0.1", "::1")
_NOT_WORD = re.compile(r"[^A-Z0-9]")
# The last X-Forwarded-For entry: an address, or an address and a port ("ip:port", "[v6]:port").
_WITH_PORT = re.compile(r"\[([0-9A-Fa-f:.]+)\]:[0-9]{1,5}\Z|([0-9.]+):[0-9]{1,5}\Z")


def forwarding_key(key: str) -> str:
    """The forwarding header a key of the environ stands for (its FORWARDING name), or ''."""
    if not isinstance(key, str) or not key[:5].upper() == "HTTP_":
        return ""
    name = _NOT_WORD.sub("_", key.upper())
    return name if name in FORWARDING else ""


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


def entry_address(value: str):
    """The address of an X-Forwarded-For entry ("ip", "ip:port" or "[v6]:port"), None if none."""
    match = _WITH_PORT.match(value)
    if match:
        value = match.group(1) or match.group(2)
    return peer_address(value)


class Refused(Exception):
    """A request this guard does not pass on: a trusted peer's X-Forwarded-For whose last entry
    is not an address, or a path prefix the server took from a header."""


def clean_environ(environ: dict, networks: list) -> dict:
    """Remove or settle the forwarding headers of one request, in place (see the module's text).

    Every spelling other than the server's own key (HTTP_X_FORWARDED_PROTO...) is removed, from
    trusted peers too: a spelling the peer did not know would otherwise reach web2py beside the
    one it set. Raises Refused for a trusted peer's unreadable X-Forwarded-For."""
    # web2py is served at the root: a SCRIPT_NAME comes only from a header that gunicorn takes
    # from the peers it trusts (forwarder_headers), and it would make web2py route another path
    # than the one the front end checked (/probe/probe/appadmin read as /probe/appadmin).
    if environ.get("SCRIPT_NAME"):
        raise Refused(environ["SCRIPT_NAME"])
    trusted = is_trusted(environ.get("REMOTE_ADDR", ""), networks)
    for key in [key for key in environ if forwarding_key(key)]:
        if not trusted or key not in FORWARDING:
            del environ[key]
    if not trusted:
        return environ
    forwarded_for = environ.pop("HTTP_X_FORWARDED_FOR", "")
    if forwarded_for.strip():
        client = entry_address(forwarded_for.split(",")[-1].strip())
        if client is None:
            raise Refused(forwarded_for)
        environ["REMOTE_ADDR"] = str(client)
        environ["HTTP_X_FORWARDED_FOR"] = str(client)
    proto = environ.pop("HTTP_X_FORWARDED_PROTO", "").strip().lower()
    if proto in ("http", "https"):
        environ["HTTP_X_FORWARDED_PROTO"] = proto
    return environ


def guard(application: Callable[..., Any], networks: list) -> Callable[..., Any]:
    def guarded(environ: dict, start_response: Callable[..., Any]) -> Any:
        try:
            cleaned = clean_environ(environ, networks)
        except Refused:
            start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", "12")])
            return [b"Bad Request\n"]
        return application(cleaned, start_response)
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
