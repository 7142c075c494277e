"""Unit tests of web2py.deploy.web2py_password."""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.web2py.deploy.plugins.modules import web2py_password

PASSWORD = "s3cret-Pass!"
LINE_RE = re.compile(r'^password="pbkdf2\(1000,20,sha512\)\$([0-9a-f]{16})\$([0-9a-f]{40})"\n$')


class Exit(Exception):
    pass


class Fail(Exception):
    pass


@pytest.fixture(autouse=True)
def no_exit(monkeypatch):
    def exit_json(self, **kwargs):
        raise Exit(kwargs)

    def fail_json(self, **kwargs):
        raise Fail(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)


def run(args, check_mode=False, diff=False):
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises((Exit, Fail)) as info:
            web2py_password.main()
    return info.type is Exit, info.value.args[0]


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
    for args in ({"port": 443, "password": PASSWORD}, {"port": 443, "password": PASSWORD}):
        ok, result = run(dict(args, path=str(tmp_path)), diff=True)
        assert PASSWORD not in json.dumps(result)


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


@pytest.mark.parametrize("legacy", ['password="5f4dcc3b5aa765d61d8327deb882cf99"\n', "garbage\n", ""])
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


@pytest.fixture
def gluon_validators():
    """web2py's own validators (the web2py-gluon package pinned in requirements.txt)."""
    import gluon.validators  # pylint: disable=import-outside-toplevel

    return gluon.validators


def test_web2py_crypt_accepts_what_the_module_writes(tmp_path, gluon_validators):
    run({"path": str(tmp_path), "port": 443, "password": PASSWORD})
    stored = open(params_file(tmp_path)).read().split('"')[1]
    crypt = gluon_validators.CRYPT()
    assert crypt(PASSWORD)[0] == stored
    assert not crypt(PASSWORD + "x")[0] == stored


def test_file_reads_like_web2py_admin_reads_it(tmp_path, gluon_validators):
    # admin's models/access.py: exec the parameters file, compare CRYPT()(typed) with password.
    run({"path": str(tmp_path), "port": 8000, "password": PASSWORD})
    config = {}
    exec(open(params_file(tmp_path, 8000)).read(), {}, config)  # pylint: disable=exec-used
    assert gluon_validators.CRYPT()(PASSWORD)[0] == config["password"]
    run({"path": str(tmp_path), "port": 8000, "state": "disabled"})
    config = {}
    exec(open(params_file(tmp_path, 8000)).read(), {}, config)  # pylint: disable=exec-used
    assert config["password"] is None
