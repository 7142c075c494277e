# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks of the postgres role: addresses, networks and pg_hba.conf entries.

Each filter returns one message per problem, naming the inventory variable (and the entry), and
an empty list when everything is acceptable. Values are compared exactly: a value with leading
or trailing whitespace or a control character anywhere is refused, never trimmed (``"trust "``
must not slip past a check for ``trust``, and a line break must not add a pg_hba.conf line).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import typing as t

from ansible.errors import AnsibleFilterError

_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
# An SQL identifier the role writes unquoted (PostgreSQL folds unquoted names to lower case, so
# only what needs no quoting is accepted).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# RFC 1123 host names: labels of letters, digits and inner hyphens, separated by dots.
_HOST_NAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?\Z")
# pg_hba.conf options: name=value pairs separated by single spaces, values without quotes.
_OPTIONS = re.compile(r"[a-z_]+=[A-Za-z0-9_.:/@+=-]+(?: [a-z_]+=[A-Za-z0-9_.:/@+=-]+)*\Z")

HBA_TYPES = ("local", "host", "hostssl", "hostnossl")
# method -> the connection types it may be used with.
HBA_METHODS = {
    "scram-sha-256": HBA_TYPES,
    "peer": ("local",),
    "cert": ("hostssl",),
    "reject": HBA_TYPES,
}
HBA_KEYS = ("type", "database", "user", "address", "method", "options")
HBA_DATABASE_KEYWORDS = ("all", "sameuser", "samerole", "replication")
HBA_USER_KEYWORDS = ("all",)
# Methods a user might expect and why they are refused.
REFUSED_METHODS = {
    "trust": "trust lets anyone who can connect in without a password",
    "password": "password sends the password in clear text",
    "md5": "md5 is deprecated (PostgreSQL 18 warns); the role stores SCRAM-SHA-256 verifiers, use scram-sha-256",
}


def _exact(value: t.Any) -> t.Optional[str]:
    """Why a value is not a clean string, or None when it is one."""
    if not isinstance(value, str):
        return "must be a string, not %s" % type(value).__name__
    if value == "":
        return "must not be empty"
    if _CONTROL.search(value):
        return "must not hold a line break, tab or other control character"
    if value != value.strip():
        return "must not start or end with whitespace"
    return None


def _address(value: str) -> bool:
    if "%" in value:  # an IPv6 zone (fe80::1%eth0): PostgreSQL takes none
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _network(value: str) -> bool:
    if "/" not in value:
        return False
    address, _sep, prefix = value.partition("/")
    if not prefix.isdigit() or not _address(address):
        return False
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError:
        return False
    return True


_KINDS: t.Dict[str, t.Tuple[t.Callable[[str], bool], str]] = {
    "address": (_address, "an IP address (e.g. 10.0.0.5 or fd00::5)"),
    "network": (_network, "an IP network with its prefix length and no host bits set "
                          "(e.g. 10.0.0.5/32, 10.0.0.0/24, fd00::/64)"),
    "address_or_network": (lambda value: _network(value) if "/" in value else _address(value),
                           "an IP address or an IP network with its prefix length (e.g. 10.0.0.5, 10.0.0.0/24)"),
    "host": (lambda value: _address(value) or bool(_HOST_NAME.match(value)),
             "a host name (letters, digits, hyphens and dots) or an IP address"),
}


def address_problems(values: t.Any, variable: str, kind: str = "address") -> t.List[str]:
    """One message per entry of ``values`` (a list, or one string) that is not of ``kind``:
    ``address`` (IP address), ``network`` (CIDR with an explicit prefix length),
    ``address_or_network`` or ``host`` (host name or IP address). Shared by the postgres role and
    web2py_trusted_proxies."""
    if kind not in _KINDS:
        raise AnsibleFilterError("address_problems: kind must be one of %s" % ", ".join(_KINDS))
    check, expected = _KINDS[kind]
    single = isinstance(values, str)
    if single:
        entries = [values]
    elif isinstance(values, (list, tuple)):
        entries = list(values)
    else:
        return ["%s must be a list, not %s" % (variable, type(values).__name__)]
    problems = []
    for index, value in enumerate(entries):
        name = variable if single else "%s[%d]" % (variable, index)
        why = _exact(value)
        if why is None and not check(value):
            why = "must be " + expected
        if why is not None:
            problems.append("%s %s" % (name, why))
    return problems


def _names(value: t.Any, keywords: t.Tuple[str, ...], groups: bool) -> bool:
    """A pg_hba.conf database or user field: a keyword, or a comma-separated list of
    identifiers (for users, "+name" is a group)."""
    if value in keywords:
        return True
    for item in value.split(","):
        if groups and item.startswith("+"):
            item = item[1:]
        if item in keywords and item != "all":
            continue
        if not _IDENTIFIER.match(item):
            return False
    return True


def postgres_hba_problems(entries: t.Any, variable: str = "postgres_hba_extra") -> t.List[str]:
    """One message per problem of the pg_hba.conf entries (dicts with the keys type, database,
    user, address, method, options), naming ``variable[index]`` and the key."""
    if not isinstance(entries, (list, tuple)):
        return ["%s must be a list of dicts, not %s" % (variable, type(entries).__name__)]
    problems = []
    for index, entry in enumerate(entries):
        name = "%s[%d]" % (variable, index)
        if not isinstance(entry, dict):
            problems.append("%s must be a dict with the keys %s" % (name, ", ".join(HBA_KEYS)))
            continue
        unknown = sorted(str(key) for key in entry if key not in HBA_KEYS)
        if unknown:
            problems.append("%s has unknown keys (%s); allowed: %s" % (name, ", ".join(unknown), ", ".join(HBA_KEYS)))
        fields = {"type": "host", "database": "all", "user": "all"}
        fields.update(entry)
        bad = set()
        for key in HBA_KEYS:
            if key not in fields:
                continue
            why = _exact(fields[key])
            if why is not None:
                problems.append("%s.%s %s" % (name, key, why))
                bad.add(key)
        kind = fields["type"]
        if "type" not in bad and kind not in HBA_TYPES:
            problems.append("%s.type must be one of %s" % (name, ", ".join(HBA_TYPES)))
            bad.add("type")
        method = fields.get("method")
        if "method" not in fields:
            problems.append("%s.method is required (one of %s)" % (name, ", ".join(HBA_METHODS)))
        elif "method" not in bad:
            if method in REFUSED_METHODS:
                problems.append("%s.method %s is refused: %s" % (name, method, REFUSED_METHODS[method]))
            elif method not in HBA_METHODS:
                problems.append("%s.method must be one of %s" % (name, ", ".join(HBA_METHODS)))
            elif "type" not in bad and kind not in HBA_METHODS[method]:
                problems.append("%s.method %s is only for type %s" % (name, method, " or ".join(HBA_METHODS[method])))
        if "database" not in bad and not _names(fields["database"], HBA_DATABASE_KEYWORDS, groups=False):
            problems.append("%s.database must be all, sameuser, samerole, replication or database names "
                            "(letters, digits, _; comma-separated)" % name)
        if "user" not in bad and not _names(fields["user"], HBA_USER_KEYWORDS, groups=True):
            problems.append("%s.user must be all or role names (letters, digits, _; +name for a group; "
                            "comma-separated)" % name)
        if "type" not in bad:
            if kind == "local" and "address" in fields:
                problems.append("%s.address must not be set with type local" % name)
            elif kind != "local" and "address" not in fields:
                problems.append("%s.address is required with type %s" % (name, kind))
            elif kind != "local" and "address" not in bad:
                problems.extend(address_problems(fields["address"], name + ".address", "network"))
        if "options" in fields and "options" not in bad and not _OPTIONS.match(fields["options"]):
            problems.append("%s.options must be name=value pairs separated by single spaces "
                            "(e.g. clientcert=verify-full), without quotes" % name)
    return problems


_SCRAM = re.compile(r"SCRAM-SHA-256\$([0-9]{1,7}):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)\Z")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+\Z")


def scram_sha256_matches(verifier: t.Any, password: t.Any) -> bool:
    """Whether a SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from this password.

    Only printable ASCII passwords are checked (PostgreSQL prepares others with SASLprep first);
    for any other password, any other kind of verifier or anything unreadable the answer is
    False, and the caller lets community.postgresql.postgresql_user decide."""
    if not isinstance(verifier, str) or not isinstance(password, str) or not _PRINTABLE_ASCII.match(password):
        return False
    match = _SCRAM.match(verifier)
    if not match:
        return False
    iterations = int(match.group(1))
    if iterations < 1 or iterations > 10000000:
        return False
    try:
        salt, stored_key, server_key = (base64.b64decode(match.group(n), validate=True) for n in (2, 3, 4))
    except ValueError:
        return False
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return (hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)
            and hmac.compare_digest(hmac.new(salted, b"Server Key", hashlib.sha256).digest(), server_key))


class FilterModule:
    """postgres role input filters."""

    def filters(self) -> t.Dict[str, t.Callable]:
        return {
            "address_problems": address_problems,
            "postgres_hba_problems": postgres_hba_problems,
            "scram_sha256_matches": scram_sha256_matches,
        }
