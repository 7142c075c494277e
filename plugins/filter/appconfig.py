# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""web2py's private/appconfig.ini, rendered so that every value reaches the application as written.

web2py's AppConfig reads appconfig.ini with configparser, and what it hands the application is
not always what the file says:

* web2py 2.x (up to the web2py-gluon 2.26 wheel) uses an interpolating parser: ``%`` must be
  written ``%%``; web2py 3.x uses RawConfigParser: ``%%`` stays two characters. The caller tells
  which one the deployed tree uses (``interpolation``).
* configparser strips the whitespace around a value and ends a value at a line break.
* option names are lower-cased; a ``[DEFAULT]`` section leaks its keys into every section.
* ``AppConfig.get()`` (what the welcome scaffold's models call) turns a value holding a comma
  into a list, so a DAL URI with a comma never reaches ``DAL()`` whole.
* pydal splits ``user:password@host`` at the first ``@`` and does not decode percent-escapes.

``appconfig_problems`` names every value that could not arrive intact (never the value itself:
most are secrets); ``appconfig_ini`` renders the file for one application.
"""

from __future__ import annotations

import re
import typing as t

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

# Characters that end or split a line for configparser (file iteration in universal-newline
# mode) or for str.splitlines(), plus the other C0 controls and DEL.
_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
_SCHEME = re.compile(r"(?P<scheme>[a-z][a-z0-9]*)(?::[a-z0-9_]+)?://(?P<rest>.*)", re.S)
# pydal's REGEX_URI for postgres and mysql, with the host kept free of '@' so that a password
# holding '@' (which pydal would cut at its first '@') cannot match.
_NETWORK_URI = re.compile(
    r"(?P<user>[^:@]+)(?::(?P<password>[^@]*))?"
    r"@(?P<host>[^:/@]*|\[[^\]]+\])(?::(?P<port>\d+))?"
    r"/(?P<db>[^?]+)(?:\?(?P<args>.*))?",
    re.S,
)
_NETWORK_SCHEMES = ("postgres", "mysql")
_SECTION = re.compile(r"[A-Za-z0-9_]+")
_KEY = re.compile(r"[a-z0-9_][a-z0-9_-]*")
_HOST_NAME = re.compile(r"[A-Za-z0-9*._\[\]:-]+")
# Settings AppConfig hands the application as booleans.
_FLAGS = (("app", "production"), ("db", "migrate"), ("smtp", "tls"), ("smtp", "ssl"), ("redis", "tls"), ("memcache", "tls"))

Value = t.Union[str, int, float, bool, None, t.List[str]]
# section -> key -> (value, name of the inventory variable it comes from)
Sections = t.Dict[str, t.Dict[str, t.Tuple[Value, str]]]


def _var(app: dict, key: str) -> str:
    """The inventory variable a setting of this application comes from, for messages."""
    names = app.get("variables") or {}
    if key in names:
        return names[key]
    return "web2py_apps[%s].%s" % (app.get("name", "?"), key)


def _flag(value: t.Any) -> t.Any:
    """A boolean setting as a bool: true/false, yes/no, on/off, 1/0 (as -e key=value passes
    them) are converted; anything else is kept for appconfig_problems to name. Python's
    bool("false") would be True: AppConfig would see production or migrate switched on."""
    if isinstance(value, bool):
        return value
    try:
        return boolean(value, strict=True)
    except TypeError:
        return value


def _managed(app: dict, redis: dict, memcache: dict, session_expiry: int, ca_file: str = "") -> Sections:
    """The sections and keys web2py.deploy writes, in file order. ``ca_file``: the private CA's
    certificate (web2py.deploy.pki) the clients verify PostgreSQL, Redis and memcached with."""
    db_uri = app.get("db_uri", "sqlite://storage.sqlite")
    sections: Sections = {
        "app": {
            "name": (app["name"], _var(app, "name")),
            "production": (_flag(app.get("production", True)), _var(app, "production")),
        },
        "db": {"uri": (db_uri, _var(app, "db_uri"))},
    }
    read_uris = app.get("db_read_uris") or []
    if read_uris:
        sections["db"]["read_uris"] = (read_uris, _var(app, "db_read_uris"))
    sections["db"]["pool_size"] = (int(app.get("db_pool_size", 10)), _var(app, "db_pool_size"))
    sections["db"]["migrate"] = (_flag(app.get("db_migrate", True)), _var(app, "db_migrate"))
    sections["host"] = {
        "names": (list(app.get("host_names") or ["localhost:*", "127.0.0.1:*", "::1:*"]), _var(app, "host_names")),
    }
    session_store = app.get("session_store", "file")
    cache_store = app.get("cache_store", "ram")
    sections["session"] = {
        "store": (session_store, _var(app, "session_store")),
        "expiry": (int(session_expiry), "web2py_session_expiry"),
    }
    if session_store == "db":
        sections["session"]["db_uri"] = (app.get("session_db_uri", db_uri), _var(app, "session_db_uri" if "session_db_uri" in app else "db_uri"))
    if session_store == "cookie":
        sections["session"]["cookie_key"] = (app.get("session_cookie_key", ""), _var(app, "session_cookie_key"))
    sections["session"]["cookie_samesite"] = (app.get("session_cookie_samesite", "Lax"), _var(app, "session_cookie_samesite"))
    sections["cache"] = {"store": (cache_store, _var(app, "cache_store"))}
    if "redis" in (session_store, cache_store):
        sections["redis"] = {
            key: (redis.get(key, ""), "web2py_redis.%s" % key) for key in ("host", "port", "db", "user", "password")
        }
        sections["redis"]["tls"] = (_flag(redis.get("tls", False)), "web2py_redis.tls")
    if "memcache" in (session_store, cache_store):
        sections["memcache"] = {
            "servers": (",".join(memcache.get("servers") or []), "web2py_memcache.servers"),
            "user": (memcache.get("user", ""), "web2py_memcache.user"),
            "password": (memcache.get("password", ""), "web2py_memcache.password"),
            "tls": (_flag(memcache.get("tls", False)), "web2py_memcache.tls"),
        }
    if ca_file:
        sections["tls"] = {"ca_file": (ca_file, "web2py.deploy.pki")}
    smtp = app.get("smtp")
    if smtp:
        sections["smtp"] = {
            "server": (smtp.get("server", ""), _var(app, "smtp") + ".server"),
            "sender": (smtp.get("sender", ""), _var(app, "smtp") + ".sender"),
            "login": (smtp.get("login", ""), _var(app, "smtp") + ".login"),
            "tls": (_flag(smtp.get("tls", True)), _var(app, "smtp") + ".tls"),
            "ssl": (_flag(smtp.get("ssl", False)), _var(app, "smtp") + ".ssl"),
        }
    return sections


def _sections(app: dict, redis: dict, memcache: dict, session_expiry: int, ca_file: str = "") -> tuple[Sections, list[str]]:
    """Managed sections merged with appconfig_extra, and the problems of appconfig_extra's shape."""
    sections = _managed(app, redis, memcache, session_expiry, ca_file)
    problems: list[str] = []
    extra = app.get("appconfig_extra") or {}
    where = _var(app, "appconfig_extra")
    if not isinstance(extra, dict):
        return sections, ["%s must be a mapping of sections to {key: value}" % where]
    for section, values in extra.items():
        section = str(section)
        if not _SECTION.fullmatch(section) or section.upper() == "DEFAULT":
            problems.append(
                "%s: section %r must be letters, digits and _ (and not DEFAULT, which configparser "
                "copies into every section)" % (where, section[:40])
            )
            continue
        if not isinstance(values, dict):
            problems.append("%s.%s must be a mapping of keys to values" % (where, section))
            continue
        target = sections.setdefault(section, {})
        for key, value in values.items():
            key = str(key)
            name = "%s.%s.%s" % (where, section, key)
            if not _KEY.fullmatch(key):
                problems.append(
                    "%s: key names are lower-case letters, digits, _ and - (configparser lower-cases "
                    "them and AppConfig splits paths at dots)" % name
                )
            elif key in target and not target[key][1].startswith(where + "."):
                problems.append("%s: web2py.deploy writes %s.%s itself (from %s)" % (name, section, key, target[key][1]))
            elif value is not None and not isinstance(value, (str, int, float, bool)):
                problems.append("%s must be a string, a number or a boolean" % name)
            else:
                target[key] = (value, name)
    return sections, problems


def _text_problems(value: Value, name: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str):
            continue
        if _CONTROL.search(item):
            return ["%s holds a line break or another control character: appconfig.ini values are single lines" % name]
        if item != item.strip():
            return ["%s starts or ends with whitespace, which configparser strips" % name]
    return []


def _uri_problems(uri: Value, name: str) -> list[str]:
    if not isinstance(uri, str):
        return ["%s must be a string" % name]
    match = _SCHEME.fullmatch(uri)
    if not match:
        return ["%s is not a DAL URI (scheme://...)" % name]
    if "," in uri:
        return [
            "%s holds a comma: AppConfig.get(), which the welcome scaffold's models use for db.uri, "
            "turns such a value into a list" % name
        ]
    if match.group("scheme").startswith(_NETWORK_SCHEMES):
        parts = _NETWORK_URI.fullmatch(match.group("rest"))
        if not parts:
            return [
                "%s is not a URI pydal can parse: scheme://user:password@host[:port]/database[?args], "
                "with no '@' in the password and no ':' or '@' in the user (pydal cuts at the first '@' "
                "and does not decode %%-escapes)" % name
            ]
    return []


def _host_problems(names: Value, name: str) -> list[str]:
    if not isinstance(names, list) or not names:
        return ["%s must be a non-empty list of host names" % name]
    for entry in names:
        if not isinstance(entry, str) or not _HOST_NAME.fullmatch(entry):
            return ["%s: each entry is a host name or address with an optional :port, * as a wildcard" % name]
    return []


def appconfig_problems(apps: list, redis: dict | None = None, memcache: dict | None = None, session_expiry: int = 3600) -> list[str]:
    """Every reason a value of these applications' appconfig.ini would not reach them as written."""
    if not isinstance(apps, list):
        raise AnsibleFilterError("appconfig_problems: expects the list of applications")
    redis = redis or {}
    memcache = memcache or {}
    problems: list[str] = []
    for app in apps:
        if not isinstance(app, dict) or "name" not in app:
            raise AnsibleFilterError("appconfig_problems: every application is a mapping with a name")
        sections, shape = _sections(app, redis, memcache, session_expiry)
        problems.extend(shape)
        for section, values in sections.items():
            for key, (value, name) in values.items():
                problems.extend(_text_problems(value, name))
                if (section, key) in _FLAGS:
                    if not isinstance(value, bool):
                        problems.append("%s must be a boolean (true or false)" % name)
                elif (section, key) in (("db", "uri"), ("session", "db_uri")):
                    problems.extend(_uri_problems(value, name))
                elif (section, key) == ("db", "read_uris"):
                    if not isinstance(value, list):
                        problems.append("%s must be a list of DAL URIs" % name)
                        continue
                    for index, uri in enumerate(value):
                        problems.extend(_uri_problems(uri, "%s[%d]" % (name, index)))
                elif section == "smtp" and isinstance(value, str) and "," in value:
                    problems.append(
                        "%s holds a comma: AppConfig.get(), which the welcome scaffold's models use "
                        "for smtp.*, turns such a value into a list" % name
                    )
                elif (section, key) == ("host", "names"):
                    problems.extend(_host_problems(value, name))
    # One message per variable is enough (a shared setting is checked once per application).
    return list(dict.fromkeys(problems))


def _render(value: Value, interpolation: bool) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = ""
    elif isinstance(value, list):
        text = ", ".join(value)
    else:
        text = str(value)
    return text.replace("%", "%%") if interpolation else text


def appconfig_ini(
    app: dict, redis: dict | None = None, memcache: dict | None = None, session_expiry: int = 3600, interpolation: bool = False, ca_file: str = ""
) -> str:
    """The sections of one application's appconfig.ini (without the header comment)."""
    sections, shape = _sections(app, redis or {}, memcache or {}, session_expiry, ca_file)
    problems = shape + [p for s in sections.values() for value, name in s.values() for p in _text_problems(value, name)]
    problems += [
        "%s must be a boolean (true or false)" % sections[section][key][1]
        for section, key in _FLAGS
        if key in sections.get(section, {}) and not isinstance(sections[section][key][0], bool)
    ]
    if "read_uris" in sections["db"] and not isinstance(sections["db"]["read_uris"][0], list):
        problems.append("%s must be a list of DAL URIs" % sections["db"]["read_uris"][1])
    if problems:
        # validate.yml refuses these before any change; a direct caller gets the same refusal.
        raise AnsibleFilterError("appconfig_ini: " + "; ".join(problems))
    lines: list[str] = []
    for section, values in sections.items():
        if lines:
            lines.append("")
        lines.append("[%s]" % section)
        for key, (value, _name) in values.items():
            if (section, key) == ("db", "read_uris"):
                # One URI per line (continuation lines); models/0_web2py_deploy.py splits them.
                lines.append("%s =" % key)
                lines.extend("    " + _render(uri, interpolation) for uri in t.cast(list, value))
            else:
                lines.append(("%s = %s" % (key, _render(value, interpolation))).rstrip())
    return "\n".join(lines) + "\n"


class FilterModule:
    """web2py appconfig.ini filters."""

    def filters(self) -> dict[str, t.Callable]:
        return {"appconfig_ini": appconfig_ini, "appconfig_problems": appconfig_problems}
