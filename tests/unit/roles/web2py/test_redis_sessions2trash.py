"""Unit tests of roles/web2py/files/redis-sessions2trash.py (no Redis needed: a dict-backed
stand-in with redis-py's sscan/pipeline/exists/srem/scard signatures and replies)."""
from __future__ import annotations

import pytest

from ansible_collections.web2py.deploy.plugins.filter.appconfig import appconfig_ini
from conftest import load_role_file

INDEX = "w2p:sess:probe:id_idx"
PASSWORD = "lab 50% ;#=: 'q' \"dq\" \u00fc-redis"


trash = load_role_file("roles/web2py/files/redis-sessions2trash.py", "redis_sessions2trash")


class FakePipeline:
    def __init__(self, server: "FakeRedis"):
        self.server = server
        self.commands: list[bytes] = []

    def exists(self, key: bytes) -> "FakePipeline":
        self.commands.append(key)
        return self

    def execute(self) -> list[int]:
        self.server.round_trips += 1
        self.server.largest_pipeline = max(self.server.largest_pipeline, len(self.commands))
        replies = [1 if key in self.server.hashes else 0 for key in self.commands]
        self.commands = []
        return replies


class FakeRedis:
    """Keys as bytes, like redis-py without decode_responses. SSCAN walks a snapshot of the set
    in slices of COUNT and may be told to return some members twice (as Redis may)."""

    def __init__(self, live: int, expired: int, duplicates: int = 0):
        self.hashes = {b"w2p:sess:probe:%d" % i for i in range(1, live + 1)}
        gone = {b"w2p:sess:probe:%d" % i for i in range(live + 1, live + expired + 1)}
        self.sets = {INDEX: set(self.hashes) | gone}
        self.duplicates = duplicates
        self.round_trips = 0
        self.largest_pipeline = 0
        self.largest_sscan = 0
        self.srem_calls: list[tuple[bytes, ...]] = []
        self._walk: list[bytes] = []

    def sscan(self, name, cursor=0, match=None, count=None):
        assert match is None
        self.round_trips += 1
        if cursor == 0:
            self._walk = sorted(self.sets.get(name, set()))
        members = self._walk[cursor:cursor + count]
        if self.duplicates and members:
            members = members + members[: self.duplicates]
            self.duplicates = 0
        self.largest_sscan = max(self.largest_sscan, len(members))
        following = cursor + count
        return (following if following < len(self._walk) else 0), members

    def pipeline(self, transaction=True):
        assert transaction is False, "a MULTI/EXEC transaction is not needed for read-only EXISTS"
        return FakePipeline(self)

    def srem(self, name, *values):
        self.round_trips += 1
        self.srem_calls.append(values)
        before = len(self.sets[name])
        self.sets[name].difference_update(values)
        return before - len(self.sets[name])

    def scard(self, name):
        self.round_trips += 1
        return len(self.sets.get(name, set()))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        # delete, unlink, hdel, flushdb...: the cleaner must never touch a session's data
        raise AssertionError("the cleaner called %s" % name)


def test_expired_entries_are_removed_and_live_ones_kept():
    server = FakeRedis(live=7, expired=2500)
    live = set(server.hashes)
    result = trash.prune_index(server, INDEX, batch=1000)
    assert server.sets[INDEX] == live
    assert server.hashes == live  # no session hash touched
    assert (result.checked, result.removed, result.left) == (2507, 2500, 7)


def test_one_batch_at_a_time():
    """Memory stays bounded: no SSCAN reply or pipeline larger than the batch, and a few round
    trips per batch instead of two per entry."""
    server = FakeRedis(live=100, expired=10000)
    result = trash.prune_index(server, INDEX, batch=500)
    assert result.batches == 21  # 10,100 entries, 500 per SSCAN
    assert server.largest_sscan <= 500 and server.largest_pipeline <= 500
    assert max(len(values) for values in server.srem_calls) <= 500
    assert server.round_trips <= 3 * result.batches + 1


def test_entries_returned_twice_are_counted_once():
    server = FakeRedis(live=1, expired=10, duplicates=3)
    result = trash.prune_index(server, INDEX, batch=4)
    assert result.checked == 14 and result.removed == 10 and result.left == 1


def test_an_index_of_live_sessions_is_left_alone():
    server = FakeRedis(live=50, expired=0)
    result = trash.prune_index(server, INDEX, batch=8)
    assert server.srem_calls == [] and result.removed == 0 and result.left == 50


def test_empty_or_missing_index():
    server = FakeRedis(live=0, expired=0)
    del server.sets[INDEX]
    result = trash.prune_index(server, INDEX)
    assert (result.checked, result.removed, result.left, result.batches) == (0, 0, 0, 1)


def test_batch_must_be_positive():
    with pytest.raises(ValueError):
        trash.prune_index(FakeRedis(1, 1), INDEX, batch=0)


def _appconfig(tmp_path, interpolation=False, **redis):
    """The probe's appconfig.ini exactly as the role writes it (plugins/filter/appconfig.py)."""
    settings = {"host": "127.0.0.1", "port": 6379, "db": 0, "user": "web2py", "password": PASSWORD}
    settings.update(redis)
    app = {"name": "probe", "session_store": "redis", "cache_store": "redis"}
    path = tmp_path / "appconfig.ini"
    path.write_text("; header\n" + appconfig_ini(app, settings, {}, 45, interpolation), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("interpolation", [False, True])
def test_settings_read_as_the_role_writes_them(tmp_path, interpolation):
    path = _appconfig(tmp_path, interpolation, host="redis.example", port=6380, db=2)
    store, settings = trash.read_settings(path, interpolation)
    assert store == "redis"
    assert settings == trash.RedisSettings("redis.example", 6380, 2, "web2py", PASSWORD)
    assert PASSWORD not in repr(settings)


def test_empty_user_and_password_mean_none(tmp_path):
    path = tmp_path / "appconfig.ini"
    path.write_text("[session]\nstore = redis\n\n[redis]\nhost =\nport =\ndb =\nuser =\npassword =\n", encoding="utf-8")
    assert trash.read_settings(str(path)) == ("redis", trash.RedisSettings())


@pytest.mark.parametrize("text, message", [
    ("[session]\nstore = file\n", "no [redis] section"),
    ("[session]\nstore = redis\n[redis]\nport = sixty\n", "must be integers"),
    ("[redis\n", "cannot parse"),
])
def test_bad_settings(tmp_path, text, message):
    path = tmp_path / "appconfig.ini"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(trash.SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        trash.read_settings(str(path))


def test_interpolation_error_does_not_show_the_value(tmp_path):
    path = tmp_path / "appconfig.ini"
    path.write_text("[session]\nstore = redis\n[redis]\npassword = s3cret%(x\n", encoding="utf-8")
    with pytest.raises(trash.SettingsError) as caught:
        trash.read_settings(str(path), interpolation=True)
    assert "s3cret" not in str(caught.value)


def test_main_prunes_and_prints_one_summary_line(tmp_path, capsys):
    server = FakeRedis(live=3, expired=20)
    seen = []

    def connector(settings):
        seen.append(settings)
        return server

    status = trash.main(["--app", "probe", "--appconfig", _appconfig(tmp_path), "--batch", "7"], connector)
    out, err = capsys.readouterr()
    assert status == 0 and err == ""
    assert seen == [trash.RedisSettings("127.0.0.1", 6379, 0, "web2py", PASSWORD)]
    assert len(out.splitlines()) == 1
    assert "probe: w2p:sess:probe:id_idx: 23 entries checked in 4 batches, 20 of expired sessions removed, 3 left" in out
    assert server.sets[INDEX] == server.hashes


def test_main_refuses_an_application_without_redis_sessions(tmp_path, capsys):
    path = tmp_path / "appconfig.ini"
    path.write_text("[session]\nstore = file\n[redis]\nhost = 127.0.0.1\n", encoding="utf-8")
    status = trash.main(["--app", "probe", "--appconfig", str(path)], lambda s: pytest.fail("connected"))
    assert status == 2 and "session store is file, not redis" in capsys.readouterr().err


def test_main_without_appconfig(tmp_path, capsys):
    status = trash.main(["--app", "probe", "--appconfig", str(tmp_path / "missing.ini")], lambda s: pytest.fail("connected"))
    assert status == 2 and "cannot read" in capsys.readouterr().err


def test_main_reports_a_redis_failure_without_the_password(tmp_path, capsys):
    class Refused(FakeRedis):
        def sscan(self, *args, **kwargs):
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    status = trash.main(["--app", "probe", "--appconfig", _appconfig(tmp_path)], lambda s: Refused(1, 1))
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert "Redis 127.0.0.1:6379 db 0 as web2py failed" in err and "Connection refused" in err
    assert PASSWORD not in err


@pytest.mark.parametrize("batch", ["0", "100001", "x"])
def test_batch_bounds(tmp_path, batch):
    with pytest.raises(SystemExit) as caught:
        trash.main(["--app", "probe", "--appconfig", _appconfig(tmp_path), "--batch", batch])
    assert caught.value.code == 2


def test_tls_settings_read_as_the_role_writes_them(tmp_path):
    settings = {"host": "db.example", "port": 6379, "db": 0, "user": "web2py", "password": PASSWORD, "tls": True}
    app = {"name": "probe", "session_store": "redis"}
    path = tmp_path / "appconfig.ini"
    path.write_text("; header\n" + appconfig_ini(app, settings, {}, 45, False, "/etc/web2py-deploy/pki/ca.crt"), encoding="utf-8")
    _store, read = trash.read_settings(str(path))
    assert read.tls is True and read.ca_file == "/etc/web2py-deploy/pki/ca.crt"
    # What the managed model passes redis-py: the certificate and the name verified.
    assert trash.tls_arguments(read) == {"ssl": True, "ssl_ca_certs": "/etc/web2py-deploy/pki/ca.crt",
                                         "ssl_cert_reqs": "required", "ssl_check_hostname": True}


def test_no_tls_arguments_without_tls(tmp_path):
    _store, read = trash.read_settings(_appconfig(tmp_path))
    assert read.tls is False and trash.tls_arguments(read) == {}
