# -*- coding: utf-8 -*-
# Managed by web2py.deploy (role web2py): overwritten on every run. Installed root-owned and
# read-only in /usr/local/libexec/web2py-deploy; run by <name>-sessions2trash@<app>.service
# (drop-in redis.conf) with web2py's virtualenv python, as the web2py user.
"""Prune the Redis session index of one web2py application, in batches.

web2py's Redis sessions (``gluon/contrib/redis_session.py``, web2py 3.3.3) keep each session in
a hash ``w2p:sess:<app>:<id>`` that Redis expires by its TTL (the session expiry), and list every
session key in the set ``w2p:sess:<app>:id_idx``. Redis drops an expired hash but not its index
entry; web2py's ``scripts/sessions2trash.py`` prunes the index with one ``HGETALL`` and one
``SREM`` per entry (two round trips per session: 273 s for 1,000,000 entries).

This cleaner walks the index with ``SSCAN`` (``--batch`` entries at a time, so memory stays
bounded whatever the index holds), asks ``EXISTS`` for a whole batch in one pipeline, and
removes the entries whose hash is gone with one ``SREM``. It never deletes a hash: a live
session is left alone, and an index entry is removed only when Redis said its key does not
exist. (Session ids come from ``INCR w2p:sess:<app>:serial``, so a key once gone is not made
again; and web2py finds a session by the key in its cookie, never through the index.)

Connection settings are read from the application's ``private/appconfig.ini`` (``[redis]``:
host, port, db, user, password; ``[session]``: store), the file the application's model
``0_web2py_deploy.py`` reads too, so no other copy of the password exists and none is on a
command line. It is parsed as web2py's AppConfig does: RawConfigParser, UTF-8; ``--interpolation``
for the web2py 2 trees whose AppConfig interpolates (``%%`` for ``%``).

One summary line goes to standard output (the journal); errors go to standard error.
Exit status: 0 done, 1 Redis failed (connection, authentication, command), 2 bad arguments or
settings (no appconfig.ini, no [redis] section, session store not redis).
"""
from __future__ import annotations

import argparse
import configparser
import dataclasses
import sys
import time
import typing as t

PROG = "redis-sessions2trash"
DEFAULT_BATCH = 1000
MAX_BATCH = 100000


class SettingsError(Exception):
    """appconfig.ini does not say how to reach the application's Redis session store."""


@dataclasses.dataclass(frozen=True)
class RedisSettings:
    """How models/0_web2py_deploy.py connects to Redis (RConn's arguments)."""

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None


@dataclasses.dataclass
class Result:
    """What one run did: index entries checked (SSCAN may return an entry twice), removed
    (counted by SREM, so each at most once) and the index size at the end."""

    checked: int = 0
    removed: int = 0
    batches: int = 0
    left: int = 0


class RedisLike(t.Protocol):
    """The part of redis-py's client this module uses."""

    def sscan(self, name: str, cursor: int = 0, match: t.Any = None, count: int | None = None) -> tuple[int, list[bytes]]:
        ...  # pragma: no cover

    def srem(self, name: str, *values: bytes) -> int:
        ...  # pragma: no cover

    def scard(self, name: str) -> int:
        ...  # pragma: no cover

    def pipeline(self, transaction: bool = True) -> t.Any:
        ...  # pragma: no cover


def index_key(app: str) -> str:
    """web2py's index set of the application's sessions (MockTable.id_idx)."""
    return "w2p:sess:%s:id_idx" % app


def read_settings(path: str, interpolation: bool = False) -> tuple[str, RedisSettings]:
    """The session store and the Redis settings of an appconfig.ini, with the defaults
    models/0_web2py_deploy.py applies (an empty value counts as missing)."""
    parser: configparser.RawConfigParser = configparser.ConfigParser() if interpolation else configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as error:
        raise SettingsError("cannot read %s: %s" % (path, error.strerror or error)) from error
    except configparser.Error as error:
        raise SettingsError("cannot parse %s: %s" % (path, error.__class__.__name__)) from error

    def setting(section: str, key: str) -> str | None:
        try:
            value = parser.get(section, key).strip()
        except (configparser.NoSectionError, configparser.NoOptionError):
            return None
        except configparser.Error as error:  # interpolation errors: never echo the value
            raise SettingsError("%s: [%s] %s cannot be read (%s)" % (path, section, key, error.__class__.__name__)) from error
        return value or None

    store = setting("session", "store") or "file"
    if not parser.has_section("redis"):
        raise SettingsError("%s has no [redis] section (session store: %s)" % (path, store))
    try:
        settings = RedisSettings(
            host=setting("redis", "host") or "127.0.0.1",
            port=int(setting("redis", "port") or 6379),
            db=int(setting("redis", "db") or 0),
            user=setting("redis", "user"),
            password=setting("redis", "password"),
            tls=(setting("redis", "tls") or "false").lower() == "true",
            ca_file=setting("tls", "ca_file"),
        )
    except ValueError as error:
        raise SettingsError("%s: [redis] port and db must be integers" % path) from error
    return store, settings


def prune_index(conn: RedisLike, index: str, batch: int = DEFAULT_BATCH) -> Result:
    """Remove from the set ``index`` the members whose key does not exist.

    Per batch: one SSCAN, one pipeline of EXISTS (one per member), one SREM of the missing
    ones. SSCAN returns every member present for the whole walk at least once, also while
    members are removed or added; members added during the walk may be skipped until the next
    run. Memory: one batch of members and their EXISTS replies.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    result = Result()
    cursor = 0
    while True:
        cursor, members = conn.sscan(index, cursor, count=batch)
        result.batches += 1
        if members:
            result.checked += len(members)
            pipe = conn.pipeline(transaction=False)
            for member in members:
                pipe.exists(member)
            found = pipe.execute()
            gone = [member for member, exists in zip(members, found) if not exists]
            if gone:
                result.removed += int(conn.srem(index, *gone))
        if int(cursor) == 0:
            break
    result.left = int(conn.scard(index))
    return result


def connect(settings: RedisSettings) -> RedisLike:
    """A redis-py client as RConn makes it (socket timeouts added: a run must end)."""
    import redis  # web2py's virtualenv has it when an application keeps its sessions in Redis

    return redis.Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        username=settings.user,
        password=settings.password,
        socket_timeout=60,
        socket_connect_timeout=10,
        **tls_arguments(settings),
    )


def tls_arguments(settings: RedisSettings) -> dict[str, t.Any]:
    """redis-py's TLS arguments as the managed model passes them: the server's certificate and
    name verified with the private CA."""
    if not settings.tls:
        return {}
    return {"ssl": True, "ssl_ca_certs": settings.ca_file, "ssl_cert_reqs": "required", "ssl_check_hostname": True}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Remove the expired sessions' entries from a web2py application's Redis session index.",
    )
    parser.add_argument("--app", required=True, help="application name (the index is w2p:sess:<app>:id_idx)")
    parser.add_argument("--appconfig", required=True, help="the application's private/appconfig.ini")
    parser.add_argument("--interpolation", action="store_true", help="appconfig.ini is read with interpolation (web2py 2: %%%% for %%)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="SSCAN COUNT and pipeline size (default %(default)s)")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= MAX_BATCH:
        parser.error("--batch must be between 1 and %d" % MAX_BATCH)
    return args


def main(argv: list[str] | None = None, connector: t.Callable[[RedisSettings], RedisLike] = connect) -> int:
    """Run once; returns the exit status."""
    args = parse_args(argv)
    index = index_key(args.app)
    try:
        store, settings = read_settings(args.appconfig, args.interpolation)
    except SettingsError as error:
        print("%s: %s: %s" % (PROG, args.app, error), file=sys.stderr)
        return 2
    if store != "redis":
        print("%s: %s: the session store is %s, not redis: nothing done" % (PROG, args.app, store), file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        result = prune_index(connector(settings), index, args.batch)
    except Exception as error:  # redis.RedisError, OSError: one line, never the password
        print(
            "%s: %s: Redis %s:%s db %s as %s failed after %.1f s: %s: %s"
            % (PROG, args.app, settings.host, settings.port, settings.db, settings.user or "default",
               time.monotonic() - started, error.__class__.__name__, error),
            file=sys.stderr,
        )
        return 1
    print(
        "%s: %s: %s: %d entries checked in %d batches, %d of expired sessions removed, %d left, %.2f s"
        % (PROG, args.app, index, result.checked, result.batches, result.removed, result.left, time.monotonic() - started)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
