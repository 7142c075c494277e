"""Unit tests of the appconfig_ini and appconfig_problems filters.

Every value the filters accept must come back byte for byte from web2py's own AppConfig, in both
flavours the role supports: web2py 2.26's (the web2py-gluon wheel, installed in the test
environment; interpolating parser) and web2py 3.3.3's (read from the release zip the tests
deploy; RawConfigParser).
"""
from __future__ import annotations

import os
import random
import sys
import types
import zipfile

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.web2py.deploy.plugins.filter.appconfig import (
    FilterModule,
    appconfig_ini,
    appconfig_problems,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
RELEASE = os.environ.get("W2P_RELEASE_ZIP") or os.path.join(ROOT, ".cache", "fixtures", "web2py_src-3.3.3.zip")

TRICKY = [
    "50% off",
    "%(name)s and %%",
    "semi;colon #hash =equals :colon",
    "spaces inside  twice",
    "both 'single' and \"double\" quotes",
    "non-ASCII: ü é ß 日本 ✓",
    "trailing-percent%",
    "",
    "=leading equals",
    ";leading semicolon",
    "#leading hash",
    "[bracket]",
    "back\\slash",
]
REDIS = {"host": "127.0.0.1", "port": 6379, "db": 0, "user": "web2py", "password": "r%d ;#=: 'q\" ü"}
MEMCACHE = {"servers": ["127.0.0.1:11211"], "user": "web2py", "password": "m%c ;#=: 'q\" ü"}


# web2py-gluon 2.26.1 imports the imp module, which Python 3.12 removed: web2py 2.26 cannot run
# on a newer Python (the web2py role refuses the wheel on Debian 13's 3.13 too), so the tests of
# that flavour run where the tool chain's Python is older (the 3.13 venvs of scripts/ci/matrix.sh
# do not install it).
GLUON_226 = pytest.mark.skipif(sys.version_info >= (3, 12), reason="web2py-gluon 2.26.1 imports imp (gone in Python 3.12)")


def _loader_226():
    from gluon.contrib import appconfig  # web2py-gluon 2.26.1 (tests/unit/requirements.txt)

    return appconfig.AppConfigLoader


def _loader_333():
    assert os.path.isfile(RELEASE), (
        "web2py 3.3.3 release not staged at %s: run scripts/lab/release.sh (or set W2P_RELEASE_ZIP)" % RELEASE
    )
    with zipfile.ZipFile(RELEASE) as release:
        source = release.read("web2py/gluon/contrib/appconfig.py").decode("utf-8")
    module = types.ModuleType("appconfig_333")
    # It imports gluon.globals.current, which AppConfigLoader(configfile=...) never reads: where
    # web2py-gluon is not installed (see GLUON_226) a stand-in of that module serves.
    stand_in = {}
    try:
        import gluon.globals  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import
    except ModuleNotFoundError:
        stand_in = {"gluon": types.ModuleType("gluon"), "gluon.globals": types.ModuleType("gluon.globals")}
        stand_in["gluon.globals"].current = None
    saved = {name: sys.modules.get(name) for name in stand_in}
    sys.modules.update(stand_in)
    try:
        exec(compile(source, "web2py/gluon/contrib/appconfig.py", "exec"), module.__dict__)  # pylint: disable=exec-used
    finally:
        for name, old in saved.items():
            if old is None:
                del sys.modules[name]
            else:
                sys.modules[name] = old
    return module.AppConfigLoader


FLAVOURS = {"2.26 (interpolating)": (_loader_226, True), "3.3.3 (RawConfigParser)": (_loader_333, False)}
FLAVOUR_PARAMS = [pytest.param("2.26 (interpolating)", marks=GLUON_226), "3.3.3 (RawConfigParser)"]


def read_back(tmp_path, text: str, flavour: str) -> dict:
    loader, _interpolation = FLAVOURS[flavour]
    path = tmp_path / "appconfig.ini"
    path.write_text(text, encoding="utf-8")
    return loader()(configfile=str(path)).settings


def app_with(values: dict, **extra) -> dict:
    app = {"name": "probe", "appconfig_extra": {"probe": values}}
    app.update(extra)
    return app


@pytest.mark.parametrize("flavour", FLAVOUR_PARAMS)
def test_tricky_values_reach_the_application_as_written(tmp_path, flavour):
    values = {"v%d" % i: value for i, value in enumerate(TRICKY)}
    uri = "postgres://web2py:p%w ;#=: 'q\" ü/x?y@db.example.org:5432/web2py?sslmode=require"
    app = app_with(values, db_uri=uri, session_store="redis", cache_store="memcache",
                   db_read_uris=["postgres://ro:a b%c@replica:5432/web2py", "postgres://ro:d%e@replica2/web2py"])
    assert appconfig_problems([app], REDIS, MEMCACHE) == []
    text = appconfig_ini(app, REDIS, MEMCACHE, 3600, FLAVOURS[flavour][1])
    settings = read_back(tmp_path, text, flavour)
    assert settings["probe"] == values
    assert settings["db"]["uri"] == uri
    assert settings["db"]["read_uris"].splitlines()[1:] == app["db_read_uris"]
    assert settings["redis"]["password"] == REDIS["password"]
    assert settings["memcache"]["password"] == MEMCACHE["password"]
    assert settings["session"] == {"store": "redis", "expiry": "3600", "cookie_samesite": "Lax"}


@pytest.mark.parametrize("flavour", FLAVOUR_PARAMS)
def test_random_values_round_trip_or_are_refused(tmp_path, flavour):
    """Whatever the filters accept comes back exactly; what they refuse is named."""
    rng = random.Random(20261202)
    alphabet = [chr(c) for c in range(0x20, 0x7f)] + list("\t\n\r\x0b\x85\u2028éü日✓ \u00a0")
    for _round in range(300):
        value = "".join(rng.choice(alphabet) for _i in range(rng.randint(0, 24)))
        app = app_with({"value": value})
        problems = appconfig_problems([app])
        if problems:
            assert problems == [problem for problem in problems if "web2py_apps[probe].appconfig_extra.probe.value" in problem]
            assert value not in " ".join(problems) or len(value) < 3
            continue
        text = appconfig_ini(app, interpolation=FLAVOURS[flavour][1])
        assert read_back(tmp_path, text, flavour)["probe"]["value"] == value, repr(value)


@GLUON_226
def test_the_wrong_escape_corrupts_percent(tmp_path):
    """Why the role asks the tree which parser it has: each escape is wrong for the other."""
    app = app_with({"value": "50%"})
    assert read_back(tmp_path, appconfig_ini(app, interpolation=True), "3.3.3 (RawConfigParser)")["probe"]["value"] == "50%%"
    with pytest.raises(Exception):
        read_back(tmp_path, appconfig_ini(app, interpolation=False), "2.26 (interpolating)")


def test_scalars_render_as_ini_text(tmp_path):
    app = app_with({"flag": True, "off": False, "count": 3, "ratio": 0.5, "none": None})
    settings = read_back(tmp_path, appconfig_ini(app), "3.3.3 (RawConfigParser)")
    assert settings["probe"] == {"flag": "true", "off": "false", "count": "3", "ratio": "0.5", "none": ""}


def test_extra_keys_join_managed_sections_but_cannot_override_them(tmp_path):
    app = {"name": "shop", "appconfig_extra": {"app": {"author": "Ann"}}}
    assert appconfig_problems([app]) == []
    settings = read_back(tmp_path, appconfig_ini(app), "3.3.3 (RawConfigParser)")
    assert settings["app"] == {"name": "shop", "production": "true", "author": "Ann"}
    problems = appconfig_problems([{"name": "shop", "appconfig_extra": {"db": {"uri": "sqlite://x"}}}])
    assert problems == ["web2py_apps[shop].appconfig_extra.db.uri: web2py.deploy writes db.uri itself (from web2py_apps[shop].db_uri)"]


@pytest.mark.parametrize("extra,fragment", [
    ({"DEFAULT": {"a": "1"}}, "section 'DEFAULT'"),
    ({"a.b": {"a": "1"}}, "section 'a.b'"),
    ({"ok": {"Upper": "1"}}, "appconfig_extra.ok.Upper: key names"),
    ({"ok": {"a.b": "1"}}, "appconfig_extra.ok.a.b: key names"),
    ({"ok": {"list": [1, 2]}}, "appconfig_extra.ok.list must be a string"),
    ({"ok": "flat"}, "appconfig_extra.ok must be a mapping"),
    ({"ok": {"nl": "line1\nline2"}}, "appconfig_extra.ok.nl holds a line break"),
    ({"ok": {"cr": "a\rb"}}, "appconfig_extra.ok.cr holds a line break"),
    ({"ok": {"tab": "a\tb"}}, "appconfig_extra.ok.tab holds a line break or another control character"),
    ({"ok": {"lead": " a"}}, "appconfig_extra.ok.lead starts or ends with whitespace"),
    ({"ok": {"trail": "a\n"}}, "appconfig_extra.ok.trail holds a line break"),
    ({"ok": {"nbsp": "a\u00a0"}}, "appconfig_extra.ok.nbsp starts or ends with whitespace"),
])
def test_extra_problems_name_the_setting(extra, fragment):
    problems = appconfig_problems([{"name": "shop", "appconfig_extra": extra}])
    assert len(problems) == 1 and fragment in problems[0], problems


@pytest.mark.parametrize("uri,fragment", [
    ("postgres://web2py:p@ss@db/web2py", "no '@' in the password"),
    ("postgres://web2py:pass@db", "pydal can parse"),
    ("postgres:psycopg2://:pass@db/web2py", "pydal can parse"),
    ("mysql://web2py:a@b@db/web2py", "no '@' in the password"),
    ("postgres://web2py:a,b@db/web2py", "holds a comma"),
    ("postgres//web2py@db/web2py", "not a DAL URI"),
    ("sqlite:storage.sqlite", "not a DAL URI"),
    ("postgres://web2py:pass@db/web2py\n", "holds a line break"),
    (" postgres://web2py:pass@db/web2py", "starts or ends with whitespace"),
])
def test_uri_problems_name_the_variable_not_the_secret(uri, fragment):
    problems = appconfig_problems([{"name": "shop", "db_uri": uri}])
    assert problems and fragment in " ".join(problems), problems
    assert all(problem.startswith("web2py_apps[shop].db_uri") for problem in problems)
    assert "pass" not in " ".join(problems).replace("password", "")


def test_probe_settings_are_named_by_their_variables():
    probe = {"name": "probe", "db_uri": "postgres://a:b@c@d/e", "db_read_uris": ["bad"],
             "variables": {"db_uri": "web2py_probe_db_uri", "db_read_uris": "web2py_probe_db_read_uris"}}
    problems = appconfig_problems([probe])
    assert [problem.split(" ")[0] for problem in problems] == ["web2py_probe_db_uri", "web2py_probe_db_read_uris[0]"]


def test_store_passwords_are_checked_only_where_used():
    bad = {"password": "line\nbreak"}
    assert appconfig_problems([{"name": "a"}], bad, bad) == []
    assert appconfig_problems([{"name": "a", "session_store": "redis"}], bad, bad) == [
        "web2py_redis.password holds a line break or another control character: appconfig.ini values are single lines"]
    assert appconfig_problems([{"name": "a", "cache_store": "memcache"}], bad, bad) == [
        "web2py_memcache.password holds a line break or another control character: appconfig.ini values are single lines"]


def test_host_names_and_valid_uris_pass():
    app = {"name": "a", "host_names": ["www.example.org", "*.example.org:443", "[::1]:8000", "*"],
           "db_uri": "postgres:psycopg2://web2py:pw@[fd00::1]:5432/web2py", "session_store": "db",
           "session_db_uri": "sqlite://sessions.sqlite"}
    assert appconfig_problems([app]) == []
    assert appconfig_problems([dict(app, host_names=["a b"])]) == [
        "web2py_apps[a].host_names: each entry is a host name or address with an optional :port, * as a wildcard"]


def test_render_refuses_what_validation_refuses():
    with pytest.raises(AnsibleFilterError, match="holds a line break"):
        appconfig_ini(app_with({"v": "a\nb"}))
    with pytest.raises(AnsibleFilterError):
        appconfig_problems("not a list")


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"appconfig_ini", "appconfig_problems"}


@pytest.mark.parametrize("given,expected", [(False, "false"), ("false", "false"), ("no", "false"), ("0", "false"),
                                            ("off", "false"), (True, "true"), ("yes", "true"), ("1", "true")])
def test_boolean_settings_given_as_strings_keep_their_meaning(tmp_path, given, expected):
    """-e web2py_probe_db_migrate=false passes the string "false": bool("false") would be True
    and switch migrations on for every host."""
    app = {"name": "shop", "production": given, "db_migrate": given,
           "smtp": {"server": "smtp.example.org:587", "tls": given, "ssl": given}}
    assert appconfig_problems([app]) == []
    settings = read_back(tmp_path, appconfig_ini(app), "3.3.3 (RawConfigParser)")
    assert (settings["app"]["production"], settings["db"]["migrate"]) == (expected, expected)
    assert (settings["smtp"]["tls"], settings["smtp"]["ssl"]) == (expected, expected)


def test_a_boolean_setting_that_is_no_boolean_is_named():
    app = {"name": "shop", "production": "maybe", "db_migrate": 2}
    assert appconfig_problems([app]) == [
        "web2py_apps[shop].production must be a boolean (true or false)",
        "web2py_apps[shop].db_migrate must be a boolean (true or false)",
    ]
    with pytest.raises(AnsibleFilterError, match="production must be a boolean"):
        appconfig_ini(app)


@pytest.mark.parametrize("read_uris", [True, 5, "postgres://ro:pw@replica/web2py"])
def test_read_uris_that_are_no_list_are_named_not_split(read_uris):
    app = {"name": "shop", "db_read_uris": read_uris}
    assert appconfig_problems([app]) == ["web2py_apps[shop].db_read_uris must be a list of DAL URIs"]
    with pytest.raises(AnsibleFilterError, match="db_read_uris must be a list"):
        appconfig_ini(app)


def test_smtp_values_with_a_comma_are_refused():
    """web2py's welcome models read smtp.sender and smtp.login with AppConfig.get(), which
    turns 'Doe, John <j@x.org>' into a list."""
    app = {"name": "shop", "smtp": {"server": "smtp.example.org:587", "login": "me:pa,ss", "sender": "Doe, John <j@x.org>"}}
    assert appconfig_problems([app]) == [
        "web2py_apps[shop].smtp.sender holds a comma: AppConfig.get(), which the welcome scaffold's models use for smtp.*, turns such a value into a list",
        "web2py_apps[shop].smtp.login holds a comma: AppConfig.get(), which the welcome scaffold's models use for smtp.*, turns such a value into a list",
    ]


def test_tls_flags_and_the_ca_file_are_written():
    app = {"name": "a", "session_store": "redis", "cache_store": "memcache"}
    text = appconfig_ini(app, {"host": "db", "password": "x", "tls": True}, {"servers": ["db:11211"], "password": "y", "tls": "yes"},
                         3600, False, "/etc/web2py-deploy/pki/ca.crt")
    assert "[redis]" in text and "\ntls = true\n" in text
    assert text.count("tls = true") == 2
    assert "[tls]\nca_file = /etc/web2py-deploy/pki/ca.crt\n" in text
    assert "[tls]" not in appconfig_ini(app, {"host": "db", "password": "x"}, {"servers": ["db:11211"], "password": "y"})


def test_a_tls_flag_that_is_no_boolean_is_named():
    problems = appconfig_problems([{"name": "a", "session_store": "redis"}], {"password": "x", "tls": "maybe"})
    assert any("web2py_redis.tls must be a boolean" in p for p in problems), problems
