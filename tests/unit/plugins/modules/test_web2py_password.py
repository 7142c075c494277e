"""Unit tests of web2py.deploy.web2py_password."""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.web2py.deploy.plugins.modules import web2py_password
# no_exit: an autouse fixture (every test of this module)
from module_harness import no_exit, run_module  # noqa: F401  # pylint: disable=unused-import

PASSWORD = "s3cret-Pass!"
LINE_RE = re.compile(r'^password="pbkdf2\(1000,20,sha512\)\$([0-9a-f]{16})\$([0-9a-f]{40})"\n$')


def run(args, check_mode=False, diff=False):
    return run_module(web2py_password.main, args, check_mode, diff)


def params_file(root, port=443):
    return os.path.join(str(root), "parameters_%d.py" % port)


def test_writes_the_save_password_format_with_0600(tmp_path):
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    assert ok and result["changed"]
    content = open(params_file(tmp_path)).read()
    salt, digest = LINE_RE.match(content).groups()
    assert hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt.encode(), 1000, 20).hex() == digest
    assert stat.S_IMODE(os.stat(params_file(tmp_path)).st_mode) == 0o600
    assert result["path"] == params_file(tmp_path) and result["port"] == 443


def test_second_run_is_unchanged(tmp_path):
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    before = open(params_file(tmp_path)).read()
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    assert ok and not result["changed"]
    assert open(params_file(tmp_path)).read() == before


def test_other_password_rewrites_with_new_salt(tmp_path):
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    old_salt = LINE_RE.match(open(params_file(tmp_path)).read()).group(1)
    ok, result = run({"path": str(tmp_path), "port": 443, "password": "another"})
    assert ok and result["changed"]
    salt, digest = LINE_RE.match(open(params_file(tmp_path)).read()).groups()
    assert salt != old_salt
    assert hashlib.pbkdf2_hmac("sha512", b"another", salt.encode(), 1000, 20).hex() == digest


def test_existing_hash_with_other_parameters_is_verified(tmp_path):
    # A hash web2py made with other rounds/length still counts as the same password.
    salt = "0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt.encode(), 2000, 32).hex()
    open(params_file(tmp_path), "w").write('password="pbkdf2(2000,32,sha512)$%s$%s"\n' % (salt, digest))
    os.chmod(params_file(tmp_path), 0o600)
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    assert ok and not result["changed"]


def test_disabled_writes_none(tmp_path):
    run({"path": str(tmp_path), "port": 8000, "password": PASSWORD})
    ok, result = run({"path": str(tmp_path), "port": 8000, "state": "disabled"})
    assert ok and result["changed"]
    assert open(params_file(tmp_path, 8000)).read() == "password=None\n"
    ok, result = run({"path": str(tmp_path), "port": 8000, "state": "disabled"})
    assert ok and not result["changed"]


def test_absent_removes(tmp_path):
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    ok, result = run({"path": str(tmp_path), "port": 443, "state": "absent"})
    assert ok and result["changed"] and not os.path.exists(params_file(tmp_path))
    ok, result = run({"path": str(tmp_path), "port": 443, "state": "absent"})
    assert ok and not result["changed"]


def test_check_mode_writes_nothing(tmp_path):
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD}, check_mode=True)
    assert ok and result["changed"]
    assert not os.path.exists(params_file(tmp_path))


def test_diff_has_no_secret(tmp_path):
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    content = open(params_file(tmp_path)).read()
    salt, digest = LINE_RE.match(content).groups()
    ok, result = run({"path": str(tmp_path), "port": 443, "password": "new-one"}, diff=True)
    assert ok and result["changed"]
    text = json.dumps(result)
    new_salt, new_digest = LINE_RE.match(open(params_file(tmp_path)).read()).groups()
    for secret in (PASSWORD, "new-one", salt, digest, new_salt, new_digest):
        assert secret not in text
    assert "redacted" in result["diff"]["before"] and "redacted" in result["diff"]["after"]


def test_result_never_holds_the_password(tmp_path):
    cases = [
        ({"password": PASSWORD}, False),  # created
        ({"password": PASSWORD}, False),  # unchanged
        ({"password": PASSWORD + "2"}, True),  # would change (check mode)
        ({"password": PASSWORD, "state": "disabled"}, False),
        ({"password": PASSWORD}, False),  # None -> hash
        ({"password": PASSWORD, "state": "absent"}, False),
        ({"password": PASSWORD, "port": 0}, False),  # failure
    ]
    for extra, check_mode in cases:
        args = dict({"path": str(tmp_path), "port": 443}, **extra)
        ok, result = run(args, check_mode=check_mode, diff=True)
        text = json.dumps(result)
        assert PASSWORD not in text and "pbkdf2(" not in text


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_bad_port_fails_naming_port(tmp_path, port):
    ok, result = run({"path": str(tmp_path), "port": port, "password": PASSWORD})
    assert not ok and "port" in result["msg"]
    assert not os.listdir(tmp_path)


def test_missing_password_fails(tmp_path):
    ok, result = run({"path": str(tmp_path), "port": 443})
    assert not ok and "password" in result["msg"]


def test_empty_password_fails(tmp_path):
    ok, result = run({"path": str(tmp_path), "port": 443, "password": ""})
    assert not ok and "password" in result["msg"]


def test_missing_path_fails(tmp_path):
    ok, result = run({"path": str(tmp_path / "nope"), "port": 443, "password": PASSWORD})
    assert not ok and "nope" in result["msg"]


@pytest.mark.parametrize(
    "legacy",
    ['password="5f4dcc3b5aa765d61d8327deb882cf99"\n', "garbage\n", "", "password=None\n", "password='<pam_user:web2py>'\n"],
)
def test_legacy_or_unparsable_content_is_rewritten(tmp_path, legacy):
    open(params_file(tmp_path), "w").write(legacy)
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD}, diff=True)
    assert ok and result["changed"]
    assert LINE_RE.match(open(params_file(tmp_path)).read())


def test_mode_is_fixed_on_an_existing_file(tmp_path):
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    os.chmod(params_file(tmp_path), 0o644)
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    assert ok and result["changed"]
    assert stat.S_IMODE(os.stat(params_file(tmp_path)).st_mode) == 0o600


def test_explicit_mode_is_honoured(tmp_path):
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD, "mode": "0640"})
    assert ok and stat.S_IMODE(os.stat(params_file(tmp_path)).st_mode) == 0o640


def test_uppercase_stored_digest_is_rewritten(tmp_path):
    # web2py compares lowercase hex strings: an uppercase digest never lets anybody in.
    salt = "0123456789abcdef"
    digest = hashlib.pbkdf2_hmac("sha512", PASSWORD.encode(), salt.encode(), 1000, 20).hex().upper()
    open(params_file(tmp_path), "w").write('password="pbkdf2(1000,20,sha512)$%s$%s"\n' % (salt, digest))
    os.chmod(params_file(tmp_path), 0o600)
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    assert ok and result["changed"]
    assert LINE_RE.match(open(params_file(tmp_path)).read())


def test_check_mode_leaves_existing_file_and_mode_alone(tmp_path):
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    os.chmod(params_file(tmp_path), 0o644)
    before = open(params_file(tmp_path)).read()
    ok, result = run({"path": str(tmp_path), "port": 443, "password": "other"}, check_mode=True, diff=True)
    assert ok and result["changed"] and "redacted" in result["diff"]["after"]
    assert open(params_file(tmp_path)).read() == before
    assert stat.S_IMODE(os.stat(params_file(tmp_path)).st_mode) == 0o644
    ok, result = run({"path": str(tmp_path), "port": 443, "state": "absent"}, check_mode=True)
    assert ok and result["changed"] and os.path.exists(params_file(tmp_path))


def test_diff_texts(tmp_path):
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD}, diff=True)
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"] == "password=<pbkdf2 hash, redacted>\n"
    assert result["diff"]["before_header"] == result["diff"]["after_header"] == params_file(tmp_path)
    ok, result = run({"path": str(tmp_path), "port": 443, "state": "disabled"}, diff=True)
    assert result["diff"]["before"] == "password=<pbkdf2 hash, redacted>\n"
    assert result["diff"]["after"] == "password=None\n"
    ok, result = run({"path": str(tmp_path), "port": 443, "state": "absent"}, diff=True)
    assert result["diff"]["before"] == "password=None\n" and result["diff"]["after"] == ""
    ok, result = run({"path": str(tmp_path), "port": 443, "state": "absent"}, diff=True)
    assert not result["changed"] and "diff" not in result


@pytest.mark.parametrize("existing_mode", [None, 0o644])
def test_never_readable_by_others_while_written(tmp_path, monkeypatch, existing_mode):
    """Right after the atomic move (before owner/mode are applied) the file is already 0600."""
    if existing_mode is not None:
        open(params_file(tmp_path), "w").write("password=None\n")
        os.chmod(params_file(tmp_path), existing_mode)
    seen = []
    real_move = basic.AnsibleModule.atomic_move

    def spy(self, src, dest, *args, **kwargs):
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        real_move(self, src, dest, *args, **kwargs)
        seen.append(stat.S_IMODE(os.stat(dest).st_mode))

    monkeypatch.setattr(basic.AnsibleModule, "atomic_move", spy)
    old_umask = os.umask(0o022)
    try:
        ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    finally:
        os.umask(old_umask)
    assert ok and result["changed"]
    assert seen == [0o600, 0o600]
    assert stat.S_IMODE(os.stat(params_file(tmp_path)).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["parameters_443.py"]  # no temp file left


def test_password_not_in_failure_messages(tmp_path, monkeypatch):
    def broken_move(self, src, dest, *args, **kwargs):
        raise OSError(13, "Permission denied", dest)

    monkeypatch.setattr(basic.AnsibleModule, "atomic_move", broken_move)
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD}, diff=True)
    assert not ok and "cannot write" in result["msg"]
    assert PASSWORD not in json.dumps(result)
    assert not os.listdir(tmp_path)  # the temporary file is gone too


def test_password_in_no_log_values(tmp_path, monkeypatch):
    """no_log: AnsibleModule masks the password wherever it would appear in the output."""
    captured = {}
    real_init = basic.AnsibleModule.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        captured["no_log_values"] = set(self.no_log_values)

    monkeypatch.setattr(basic.AnsibleModule, "__init__", init)
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    assert PASSWORD in captured["no_log_values"]


@pytest.fixture
def gluon_modules():
    """web2py's own code (the web2py-gluon package pinned in requirements.txt)."""
    # pylint: disable=import-outside-toplevel
    import warnings

    if sys.version_info >= (3, 12):
        # web2py 2.26 cannot run there (the web2py role refuses the wheel on Python 3.13 too); the
        # 3.13 venvs of scripts/ci/matrix.sh do not install it.
        pytest.skip("web2py-gluon 2.26.1 imports imp (gone in Python 3.12)")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # gluon imports cgi and imp
        import gluon.fileutils
        import gluon.restricted
        import gluon.validators

    return gluon


def test_web2py_crypt_accepts_what_the_module_writes(tmp_path, gluon_modules):
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    stored = open(params_file(tmp_path)).read().split('"')[1]
    crypt = gluon_modules.validators.CRYPT()
    # LazyCrypt.__eq__ rehashes the typed password with the stored salt and parameters.
    assert (crypt(PASSWORD)[0] == stored) is True
    assert (crypt(PASSWORD + "x")[0] == stored) is False
    assert (crypt("")[0] == stored) is False


def test_module_hash_matches_web2py_for_the_same_salt(gluon_modules):
    salt = "00112233aabbccdd"
    ours = "pbkdf2(1000,20,sha512)$%s$%s" % (salt, web2py_password.pbkdf2_hex(PASSWORD, salt))
    theirs = str(gluon_modules.validators.CRYPT(salt=salt)(PASSWORD)[0])
    assert ours == theirs


@pytest.fixture
def gluon_main(gluon_modules, tmp_path_factory, monkeypatch):
    """gluon.main, which at import time needs <gluon_parent>/VERSION (a web2py checkout has one)."""
    # pylint: disable=import-outside-toplevel
    import importlib.metadata
    import locale
    import warnings

    import gluon.settings

    if "gluon.main" not in sys.modules:
        parent = tmp_path_factory.mktemp("gluon_parent")
        version = importlib.metadata.version("web2py-gluon")
        (parent / "VERSION").write_text("Version %s-stable+timestamp.2024.01.01.00.00.00\n" % version)
        monkeypatch.setattr(gluon.settings.global_settings, "gluon_parent", str(parent))
        ctype = locale.setlocale(locale.LC_CTYPE)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import gluon.main  # noqa: F401
        finally:
            locale.setlocale(locale.LC_CTYPE, ctype)  # gluon.main sets LC_CTYPE=C
    return sys.modules["gluon.main"]


def test_file_is_byte_for_byte_what_save_password_writes(tmp_path, monkeypatch, gluon_main):
    """gluon.main.save_password itself, given the module's salt, writes the very same bytes."""
    fixed_salt = "0123456789abcdef"
    monkeypatch.setattr(web2py_password.secrets, "token_hex", lambda n: fixed_salt)
    ok, result = run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    ours = open(params_file(tmp_path), "rb").read()

    other = tmp_path / "web2py"
    other.mkdir()
    real_crypt = gluon_main.CRYPT
    monkeypatch.setattr(gluon_main, "CRYPT", lambda: real_crypt(salt=fixed_salt))
    # save_password writes abspath("parameters_<port>.py"), under applications_parent.
    monkeypatch.setattr(gluon_main.global_settings, "applications_parent", str(other))
    gluon_main.save_password(PASSWORD, 443)
    gluon_main.save_password("", 8000)  # no password: admin disabled
    assert (other / "parameters_443.py").read_bytes() == ours
    run({"path": str(tmp_path), "port": 8000, "state": "disabled"})
    assert (other / "parameters_8000.py").read_bytes() == open(params_file(tmp_path, 8000), "rb").read()


def test_file_reads_like_web2py_admin_reads_it(tmp_path, gluon_modules):
    """As applications/admin/models/access.py does: restricted(read_file(...), _config)."""
    restricted = gluon_modules.restricted.restricted
    read_file = gluon_modules.fileutils.read_file
    CRYPT = gluon_modules.validators.CRYPT  # pylint: disable=invalid-name

    run({"path": str(tmp_path), "port": 8000, "password": PASSWORD})
    _config = {}
    restricted(read_file(params_file(tmp_path, 8000)), _config)
    assert _config["password"] == CRYPT()(PASSWORD)[0]  # verify_password() in access.py
    assert not _config["password"] == CRYPT()("wrong")[0]

    run({"path": str(tmp_path), "port": 8000, "state": "disabled"})
    _config = {}
    restricted(read_file(params_file(tmp_path, 8000)), _config)
    assert not _config["password"]  # access.py: 'admin disabled because no admin password'
    assert to_native(_config["password"]) == "None"
