"""Unit tests of the postgres role's input filters (address_problems,
postgres_hba_problems): every refusal names the variable and the entry, and values are compared
exactly (surrounding whitespace and control characters are refused, never trimmed)."""
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.web2py.deploy.plugins.filter.postgres import (
    FilterModule,
    address_problems,
    postgres_hba_problems,
)

GOOD_HBA = [
    {"type": "host", "database": "web2py", "user": "web2py", "address": "10.0.0.0/24", "method": "scram-sha-256"},
    {"type": "hostssl", "database": "all", "user": "+admins", "address": "fd00::/64", "method": "cert",
     "options": "clientcert=verify-full map=certs"},
    {"type": "hostnossl", "database": "all", "user": "all", "address": "0.0.0.0/0", "method": "reject"},
    {"type": "local", "database": "web2py,reports", "user": "backup", "method": "peer"},
    {"type": "local", "database": "replication", "user": "all", "method": "scram-sha-256"},
    {"database": "sameuser", "address": "10.0.0.5/32", "method": "scram-sha-256"},  # type defaults to host
]


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"address_problems", "postgres_hba_problems", "scram_sha256_matches"}


@pytest.mark.parametrize("value", ["10.0.0.5", "10.0.0.0/24", "::1", "fd00::/64", "127.0.0.2"])
def test_trusted_proxies_take_addresses_or_networks(value):
    assert address_problems([value], "web2py_trusted_proxies", "address_or_network") == []


@pytest.mark.parametrize("value", [":::::", "10.0.0.5/24", "10.0.0.0/", "lb.example.org", "10.0.0.1\n", " 10.0.0.1", "*"])
def test_trusted_proxies_refuse_the_rest(value):
    assert address_problems([value], "web2py_trusted_proxies", "address_or_network")[0].startswith("web2py_trusted_proxies[0] ")


def test_good_hba_entries_pass():
    assert postgres_hba_problems(GOOD_HBA) == []
    assert postgres_hba_problems([]) == []


def entry(**overrides):
    base = {"type": "host", "database": "all", "user": "all", "address": "10.0.0.0/8", "method": "scram-sha-256"}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


@pytest.mark.parametrize("method", ["trust", "password", "md5", "ident", "ldap", "gss", "radius", "pam",
                                    "trust ", " trust", "trust\n", "Trust", "TRUST", "scram-sha-256 ",
                                    "scram-sha-256\n", "\tpeer", "", "scram-sha-256 trust"])
def test_methods_outside_the_allow_list_are_refused(method):
    problems = postgres_hba_problems([entry(method=method)])
    assert len(problems) == 1 and problems[0].startswith("postgres_hba_extra[0].method "), problems


@pytest.mark.parametrize("method", ["trust", "password", "md5"])
def test_refused_methods_say_why(method):
    (problem,) = postgres_hba_problems([entry(method=method)])
    assert problem.startswith("postgres_hba_extra[0].method %s is refused: " % method)


def test_whitespace_is_refused_not_trimmed_in_every_field():
    for key in ("type", "database", "user", "address", "method"):
        value = entry()[key]
        for bad in (value + " ", " " + value, value + "\n", value + "\r", value + "\u2028", value[:1] + "\x00" + value[1:]):
            problems = postgres_hba_problems([entry(**{key: bad})])
            assert problems and all(p.startswith("postgres_hba_extra[0].%s " % key) for p in problems), (key, bad, problems)
    assert postgres_hba_problems([entry(options="map=x ")])[0].startswith("postgres_hba_extra[0].options ")


def test_a_line_break_cannot_add_a_line():
    problems = postgres_hba_problems([entry(user="web2py\nhost all all 0.0.0.0/0 trust")])
    assert problems == ["postgres_hba_extra[0].user must not hold a line break, tab or other control character"]


def test_method_fits_the_type():
    assert postgres_hba_problems([entry(method="peer")]) == ["postgres_hba_extra[0].method peer is only for type local"]
    assert postgres_hba_problems([entry(method="cert")]) == ["postgres_hba_extra[0].method cert is only for type hostssl"]
    assert postgres_hba_problems([entry(type="hostssl", method="cert")]) == []


@pytest.mark.parametrize("kind", ["hostgssenc", "hostnogssenc", "Host", "host ", "include", "all"])
def test_types_outside_the_allow_list_are_refused(kind):
    problems = postgres_hba_problems([entry(type=kind)])
    assert len(problems) == 1 and problems[0].startswith("postgres_hba_extra[0].type "), problems


@pytest.mark.parametrize("address", ["10.0.0.1/24", "10.0.0.0", "10.0.0.0/33", "db.example.org", "samenet",
                                     "all", "10.0.0.0/8 ", "10.0.0.0/8\n", "fe80::/64%eth0", "10.0.0.0/8/8",
                                     "10.0.0.0/+8", "::1/129", "0x0a000000/8"])
def test_bad_addresses_are_refused(address):
    problems = postgres_hba_problems([entry(address=address)])
    assert len(problems) == 1 and problems[0].startswith("postgres_hba_extra[0].address "), problems


def test_address_required_except_for_local():
    assert postgres_hba_problems([entry(address=None)]) == ["postgres_hba_extra[0].address is required with type host"]
    assert postgres_hba_problems([entry(type="local")]) == ["postgres_hba_extra[0].address must not be set with type local"]


@pytest.mark.parametrize("key,value", [("database", "web2py;drop"), ("database", "all,web2py\n"), ("database", "\"quoted\""),
                                       ("database", "web2py,"), ("database", "1db"), ("user", "web-2py"),
                                       ("user", "@file"), ("user", "+"), ("database", "+group")])
def test_bad_names_are_refused(key, value):
    problems = postgres_hba_problems([entry(**{key: value})])
    assert len(problems) == 1 and problems[0].startswith("postgres_hba_extra[0].%s " % key), problems


@pytest.mark.parametrize("options", ["map=x\nhost", "map=\"x y\"", "map=x  clientcert=1", "map", "=x", "map=x#c"])
def test_bad_options_are_refused(options):
    problems = postgres_hba_problems([entry(options=options)])
    assert len(problems) == 1 and problems[0].startswith("postgres_hba_extra[0].options "), problems


def test_shapes():
    assert postgres_hba_problems("host all all 0.0.0.0/0 trust") == ["postgres_hba_extra must be a list of dicts, not str"]
    assert postgres_hba_problems(["x"]) == ["postgres_hba_extra[0] must be a dict with the keys type, database, user, address, method, options"]
    assert postgres_hba_problems([entry(netmask="255.0.0.0")]) == [
        "postgres_hba_extra[0] has unknown keys (netmask); allowed: type, database, user, address, method, options"]
    assert postgres_hba_problems([entry(method=None)]) == [
        "postgres_hba_extra[0].method is required (one of scram-sha-256, peer, cert, reject)"]
    assert postgres_hba_problems([entry(port=5432, method=1)])[1] == "postgres_hba_extra[0].method must be a string, not int"


def test_every_entry_is_named():
    problems = postgres_hba_problems([entry(), entry(method="trust"), entry(), entry(address="x")], "extra")
    assert [p.split(".")[0] for p in problems] == ["extra[1]", "extra[3]"]


@pytest.mark.parametrize("value", ["127.0.0.1", "::1", "10.0.0.5", "0.0.0.0", "::", "fd00::5"])
def test_good_listen_addresses(value):
    assert address_problems([value], "postgres_listen_addresses") == []


@pytest.mark.parametrize("value", ["*", "localhost", "10.0.0.5/32", "10.0.0.256", " 127.0.0.1", "127.0.0.1 ",
                                   "127.0.0.1\n", "127.0.0.1,10.0.0.5", "", "fe80::1%eth0", "127.1"])
def test_bad_listen_addresses(value):
    problems = address_problems(["127.0.0.1", value], "postgres_listen_addresses")
    assert len(problems) == 1 and problems[0].startswith("postgres_listen_addresses[1] "), problems


def test_networks():
    assert address_problems(["127.0.0.1/32", "::1/128", "10.0.0.0/24"], "postgres_app_hosts", "network") == []
    assert address_problems(["10.0.0.5"], "postgres_app_hosts", "network") == [
        "postgres_app_hosts[0] must be an IP network with its prefix length and no host bits set "
        "(e.g. 10.0.0.5/32, 10.0.0.0/24, fd00::/64)"]
    assert address_problems(["10.0.0.5/24"], "postgres_replica_hosts", "network")[0].startswith("postgres_replica_hosts[0] ")
    # One string is checked as one value (named without an index).
    assert address_problems("10.0.0.0/8", "x", "network") == []
    assert address_problems("10.0.0.0/33", "x", "network")[0].startswith("x must be an IP network")


@pytest.mark.parametrize("value", ["db1", "db1.example.org", "10.0.0.21", "fd00::21", "m-wt-pg-postgres-13"])
def test_good_primary_hosts(value):
    assert address_problems(value, "postgres_primary_host", "host") == []


@pytest.mark.parametrize("value", ["db1 sslmode=disable", "db1\n", " db1", "db1:5432", "-db1", "db_1", "db1..x",
                                   "", "a" * 64, "db1'", "host=db1"])
def test_bad_primary_hosts(value):
    problems = address_problems(value, "postgres_primary_host", "host")
    assert len(problems) == 1 and problems[0].startswith("postgres_primary_host "), problems


def test_type_of_the_list_and_kind():
    assert address_problems({"a": 1}, "postgres_listen_addresses") == ["postgres_listen_addresses must be a list, not dict"]
    assert address_problems([5], "postgres_listen_addresses") == ["postgres_listen_addresses[0] must be a string, not int"]
    with pytest.raises(AnsibleFilterError):
        address_problems([], "x", "url")


# SCRAM-SHA-256 verifiers as PostgreSQL stores them (RFC 5802, RFC 7677).
def _verifier(password: bytes, salt: bytes = b"0123456789abcdef", iterations: int = 4096) -> str:
    import base64
    import hashlib
    import hmac
    salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    salt64, stored64, server64 = (base64.b64encode(data).decode() for data in (salt, stored, server))
    return f"SCRAM-SHA-256${iterations}:{salt64}${stored64}:{server64}"


def test_scram_verifier_of_the_password_matches():
    from ansible_collections.web2py.deploy.plugins.filter.postgres import scram_sha256_matches
    for password in ("lab-db-S3cret!", "100% sure: 'quoted' \"and\" ;#=", " spaces at both ends "):
        assert scram_sha256_matches(_verifier(password.encode()), password) is True
    # another iteration count and salt, as PostgreSQL's scram_iterations may set
    assert scram_sha256_matches(_verifier(b"x-S3cret", b"salt", 10000), "x-S3cret") is True


def test_scram_anything_else_does_not_match():
    from ansible_collections.web2py.deploy.plugins.filter.postgres import scram_sha256_matches
    good = _verifier(b"lab-db-S3cret!")
    assert scram_sha256_matches(good, "lab-db-S3cret") is False
    assert scram_sha256_matches(good, "lab-db-S3cret!\n") is False
    # non-ASCII passwords go through SASLprep in PostgreSQL: never judged here
    assert scram_sha256_matches(_verifier("pässwörd".encode()), "pässwörd") is False
    assert scram_sha256_matches("md5" + "0" * 32, "lab-db-S3cret!") is False
    assert scram_sha256_matches(good.replace("SCRAM-SHA-256$4096", "SCRAM-SHA-256$0"), "lab-db-S3cret!") is False
    assert scram_sha256_matches(good[:-4], "lab-db-S3cret!") is False
    assert scram_sha256_matches(good.replace(":", ":!", 1), "lab-db-S3cret!") is False
    assert scram_sha256_matches(good + "\n", "lab-db-S3cret!") is False
    for verifier, password in ((None, "x"), (good, None), ("", ""), (good, "")):
        assert scram_sha256_matches(verifier, password) is False
