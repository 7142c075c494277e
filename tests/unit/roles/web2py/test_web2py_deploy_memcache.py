"""Unit tests of roles/web2py/files/site-packages/web2py_deploy_memcache.py (no memcached
needed: a dict-backed stand-in with pymemcache's method signatures)."""
from __future__ import annotations


import pytest
from conftest import load_role_file


mcmod = load_role_file("roles/web2py/files/site-packages/web2py_deploy_memcache.py", "web2py_deploy_memcache")


class FakeClient:
    """get/set/add/incr/delete/flush_all as pymemcache's, values kept as given."""

    def __init__(self):
        self.data = {}
        self.expires = {}
        self.now = 1000.0

    def _alive(self, key):
        if key in self.expires and self.expires[key] and self.now >= self.expires[key]:
            self.data.pop(key, None)
        return key in self.data

    def get(self, key):
        return self.data[key] if self._alive(key) else None

    def set(self, key, value, expire=0, noreply=None):
        assert len(key) <= 250 and " " not in key
        self.data[key] = value
        self.expires[key] = self.now + expire if expire else 0
        return True

    def add(self, key, value, expire=0, noreply=None):
        if self._alive(key):
            return False
        return self.set(key, value, expire)

    def incr(self, key, value, noreply=None):
        if not self._alive(key):
            return None
        self.data[key] = b"%d" % (int(self.data[key]) + value)
        return int(self.data[key])

    def delete(self, key, noreply=None):
        self.data.pop(key, None)
        return True

    def flush_all(self, noreply=None):
        self.data.clear()
        return True


@pytest.fixture
def fake(monkeypatch):
    client = FakeClient()
    monkeypatch.setattr(mcmod.time, "time", lambda: client.now)
    return client


def test_cache_computes_once_then_hits(fake):
    cache = mcmod.MemcacheCache(fake, "app")
    calls = []
    assert cache("k", lambda: calls.append(1) or "v", 60) == "v"
    assert cache("k", lambda: calls.append(1) or "other", 60) == "v"
    assert calls == [1]


def test_cache_expiry_is_measured_when_read(fake):
    cache = mcmod.MemcacheCache(fake, "app")
    cache("k", lambda: "old", 300)
    fake.now += 120
    # a caller asking for at most 60 s old gets a fresh value, as with web2py's cache.ram
    assert cache("k", lambda: "new", 60) == "new"
    assert cache("k", lambda: "newer", 60) == "new"


def test_cache_caches_none_and_deletes(fake):
    cache = mcmod.MemcacheCache(fake, "app")
    assert cache("n", lambda: None, 60) is None
    assert cache("n", lambda: "computed", 60) is None
    assert cache("n", None) is None
    assert cache("n", lambda: "again", 60) == "again"


def test_cache_time_expire_none_never_expires(fake):
    cache = mcmod.MemcacheCache(fake, "app")
    cache("k", lambda: "v", None)
    fake.now += 10 ** 8
    assert cache("k", lambda: "x", None) == "v"


def test_cache_ttl_is_capped_for_memcached(fake):
    cache = mcmod.MemcacheCache(fake, "app")
    cache("k", lambda: "v", 10 ** 9)
    key = next(iter(fake.data))
    assert fake.expires[key] - fake.now == mcmod.MemcacheCache.max_ttl


def test_long_or_spaced_keys_are_hashed(fake):
    cache = mcmod.MemcacheCache(fake, "app")
    cache("a key with spaces " + "x" * 300, lambda: 1, 60)
    (key,) = fake.data
    assert key.startswith("w2p:app:cache:sha1:") and len(key) < 250


def test_increment(fake):
    cache = mcmod.MemcacheCache(fake, "app")
    assert cache.increment("hits") == 1
    assert cache.increment("hits", 5) == 6


def _session_db(fake, expiry=3600):
    db = mcmod.MemcacheSessionDB(fake, expiry)
    field = db.Field
    db.define_table("web2py_session_app", field("locked", "boolean"), field("session_data", "blob"), migrate=True)
    return db, db["web2py_session_app"]


def test_session_insert_lookup_with_unique_key(fake):
    _db, table = _session_db(fake)
    record_id = table.insert(unique_key="u1", session_data=b"pickled")
    assert record_id == 1
    assert table(record_id, unique_key="u1")["session_data"] == b"pickled"
    assert table(record_id, unique_key="forged") is None
    assert table.insert(unique_key="u2", session_data=b"x") == 2


def test_session_update_and_delete_through_the_query(fake):
    _db, table = _session_db(fake)
    record_id = table.insert(unique_key="u1", session_data=b"a")
    assert table._db(table.id == record_id).update(session_data=b"b") == 1
    assert table(record_id)["session_data"] == b"b"
    table._db(table.id == record_id).delete()
    assert table(record_id) is None
    # updating a record that is gone tells web2py to insert a new one
    assert table._db(table.id == record_id).update(session_data=b"c") == 0


def test_session_records_expire_with_the_session_expiry(fake):
    _db, table = _session_db(fake, expiry=20)
    record_id = table.insert(unique_key="u1", session_data=b"a")
    fake.now += 21
    assert table(record_id, unique_key="u1") is None


def _ca_file(directory) -> str:
    """A self-signed CA certificate (PEM) for ssl.create_default_context(cafile=...)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    path = directory / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def test_client_over_tls_verifies_with_the_ca(monkeypatch, tmp_path):
    made = {}

    def fake_init(self, servers, **kwargs):
        made.clear()
        made.update(kwargs)

    monkeypatch.setattr(mcmod.HashClient, "__init__", fake_init)
    mcmod.client(["db.example:11211"], "web2py", "pw", ca_file=_ca_file(tmp_path))
    context = made["tls_context"]
    assert context.verify_mode == mcmod.ssl.CERT_REQUIRED and context.check_hostname is True
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test CA"),),)]
    mcmod.client(["127.0.0.1:11211"], "web2py", "pw2")
    assert made["tls_context"] is None
