"""Unit tests of web2py.deploy.web2py_acme (certbot and openssl replaced by a fake run_command)."""
from __future__ import annotations

import os
import stat

import pytest
from ansible.module_utils import basic

from ansible_collections.web2py.deploy.plugins.modules import web2py_acme
# no_exit: an autouse fixture (every test of this module)
from module_harness import no_exit, run_module  # noqa: F401  # pylint: disable=unused-import

HOOK = "/usr/local/libexec/web2py-deploy/acme-deploy"
SERVER = "https://acme.example/dir"
WEBROOT = "/var/lib/web2py-deploy/acme"


class FakeHost:
    """What run_command sees: the certificate's names and validity, certbot's and the hook's answers."""

    def __init__(self, names=("www.example.org",), valid=True, certbot_rc=0, hook_rc=0, on_certonly=None):
        self.names, self.valid, self.certbot_rc, self.hook_rc = list(names), valid, certbot_rc, hook_rc
        self.on_certonly = on_certonly  # what certbot and its deploy hook write
        self.calls: list[tuple[list[str], dict]] = []

    def run_command(self, argv, environ_update=None, **_kwargs):
        self.calls.append((list(argv), dict(environ_update or {})))
        if argv[0] == "openssl" and "-checkend" in argv:
            return (0 if self.valid else 1), "", ""
        if argv[0] == "openssl":
            return 0, "X509v3 Subject Alternative Name: \n    " + ", ".join("DNS:" + n for n in self.names) + "\n", ""
        if argv[0] == "certbot":
            if self.on_certonly and argv[1] == "certonly" and self.certbot_rc == 0:
                self.on_certonly()
            return self.certbot_rc, "Successfully received certificate.", "" if self.certbot_rc == 0 else "challenge failed"
        return self.hook_rc, "", "" if self.hook_rc == 0 else "refused"

    def ran(self, program: str) -> list[tuple[list[str], dict]]:
        return [call for call in self.calls if call[0][0] == program]


@pytest.fixture
def host(monkeypatch):
    monkeypatch.setattr(web2py_acme, "ROOT_UID", os.getuid())  # the tests' files are the runner's
    fake = FakeHost()
    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake.run_command)
    return fake


def request(tmp_path, **changes):
    value = {"name": "www.example.org", "domains": ["www.example.org"], "server": SERVER, "email": "ops@example.org",
             "webroot": WEBROOT, "http01_port": 8402, "deploy_hook": HOOK, "live_file": str(tmp_path / "live.pem"),
             "ca_bundle": "", "key_size": 3072}
    value.update(changes)
    return value


def lineage(tmp_path, settings=None, live=True):
    """A certbot configuration folder with the lineage www.example.org as asked (webroot)."""
    config = tmp_path / "letsencrypt"
    (config / "renewal").mkdir(parents=True)
    (config / "live" / "www.example.org").mkdir(parents=True)
    values = {"server": SERVER, "authenticator": "webroot", "renew_hook": HOOK, "key_type": "rsa",
              "rsa_key_size": "3072", "webroot_path": WEBROOT + ","}
    values.update(settings or {})
    text = "version = 2.1.0\narchive_dir = x\n\n[renewalparams]\n" + "".join(
        "%s = %s\n" % item for item in values.items() if item[1] is not None)
    text += "[[webroot_map]]\nwww.example.org = %s\n" % WEBROOT
    (config / "renewal" / "www.example.org.conf").write_text(text)
    for name, body in (("cert.pem", "CERT\n"), ("fullchain.pem", "CERT\nCHAIN\n"), ("privkey.pem", "KEY\n")):
        (config / "live" / "www.example.org" / name).write_text(body)
    if live:
        (tmp_path / "live.pem").write_text("CERT\nCHAIN\nKEY\n")
        (tmp_path / "live.pem").chmod(0o600)
    return str(config)


def run(args, check_mode=False, diff=False):
    return run_module(web2py_acme.main, args, check_mode, diff)


def test_no_lineage_runs_certbot_with_the_webroot(tmp_path, host):
    def issue():  # certbot's new lineage, installed by its deploy hook
        folder = tmp_path / "none" / "live" / "www.example.org"
        folder.mkdir(parents=True)
        (folder / "fullchain.pem").write_text("CERT\n")
        (folder / "privkey.pem").write_text("KEY\n")
        (tmp_path / "live.pem").write_text("CERT\nKEY\n")
        (tmp_path / "live.pem").chmod(0o600)
    host.on_certonly = issue
    ok, result = run({"request": request(tmp_path, ca_bundle="/etc/web2py-deploy/acme/ca-bundle.pem"),
                      "config_dir": str(tmp_path / "none")})
    assert ok and result["changed"] and result["issued"] and not result["hook_ran"]
    assert result["reasons"] == ["no lineage www.example.org"]
    (argv, environ), = host.ran("certbot")
    assert argv[:2] == ["certbot", "certonly"] and "--force-renewal" not in argv
    assert argv[argv.index("--cert-name") + 1] == "www.example.org" and argv[argv.index("--server") + 1] == SERVER
    assert argv[argv.index("--deploy-hook") + 1] == HOOK and argv[argv.index("-m") + 1] == "ops@example.org"
    assert argv[-3:] == ["--webroot", "-w", WEBROOT]
    assert environ["REQUESTS_CA_BUNDLE"] == "/etc/web2py-deploy/acme/ca-bundle.pem"


def test_lineage_as_asked_changes_nothing(tmp_path, host):
    ok, result = run({"request": request(tmp_path), "config_dir": lineage(tmp_path)})
    assert ok and not result["changed"] and not result["issued"] and not result["hook_ran"], result
    assert not host.ran("certbot") and not host.ran(HOOK)


def test_live_file_changed_by_hand_runs_the_deploy_hook_alone(tmp_path, host):
    config = lineage(tmp_path)
    (tmp_path / "live.pem").write_text("SELF-SIGNED\nKEY\n")
    ok, result = run({"request": request(tmp_path), "config_dir": config})
    assert ok and result["changed"] and result["hook_ran"] and not result["issued"]
    (_argv, environ), = host.ran(HOOK)
    assert environ == {"RENEWED_LINEAGE": os.path.join(config, "live", "www.example.org")}
    assert not host.ran("certbot")


@pytest.mark.parametrize("settings, reason", [
    ({"server": "https://old.example/dir"}, "server: https://old.example/dir"),
    ({"renew_hook": None}, "renew_hook: (none)"),
    ({"rsa_key_size": "2048"}, "rsa_key_size: 2048"),
    ({"webroot_path": "/var/www/html,"}, "webroot_path: /var/www/html,"),
])
def test_other_settings_force_a_new_certificate(tmp_path, host, settings, reason):
    ok, result = run({"request": request(tmp_path), "config_dir": lineage(tmp_path, settings)})
    assert ok and result["issued"] and reason in result["reasons"], result
    (argv, _environ), = host.ran("certbot")
    assert argv[-1] == "--force-renewal"


def test_other_names_or_an_expired_certificate_ask_again(tmp_path, monkeypatch):
    for fake, reason in ((FakeHost(names=["old.example.org"]), "names: old.example.org"),
                         (FakeHost(valid=False), "no certificate valid now")):
        monkeypatch.setattr(basic.AnsibleModule, "run_command", fake.run_command)
        folder = tmp_path / reason.split(":", maxsplit=1)[0].replace(" ", "-")
        folder.mkdir()
        ok, result = run({"request": request(folder), "config_dir": lineage(folder)})
        assert ok and result["issued"] and result["reasons"] == [reason], result


def test_standalone_behind_haproxy_answers_on_loopback(tmp_path, host):
    config = lineage(tmp_path, {"authenticator": "standalone", "webroot_path": None,
                                "http01_port": "8402", "http01_address": "127.0.0.1"})
    ok, result = run({"request": request(tmp_path), "authenticator": "standalone", "config_dir": config})
    assert ok and not result["changed"], result
    ok, result = run({"request": request(tmp_path, http01_port=8499), "authenticator": "standalone", "config_dir": config})
    assert ok and result["reasons"] == ["http01_port: 8402"]
    (argv, _environ), = host.ran("certbot")
    assert argv[-6:] == ["--standalone", "--http-01-address", "127.0.0.1", "--http-01-port", "8499", "--force-renewal"]


def test_check_mode_runs_neither_certbot_nor_the_hook(tmp_path, host):
    ok, result = run({"request": request(tmp_path, email=""), "config_dir": str(tmp_path / "none")},
                     check_mode=True, diff=True)
    assert ok and result["changed"] and result["issued"]
    assert "server = %s\n" % SERVER in result["diff"]["after"] and result["diff"]["before"] == ""
    assert not host.ran("certbot") and not host.ran(HOOK)


def test_certbot_failure_fails_naming_the_domains(tmp_path, monkeypatch):
    fake = FakeHost(certbot_rc=1)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake.run_command)
    ok, result = run({"request": request(tmp_path, email=""), "config_dir": str(tmp_path / "none")})
    assert not ok and "www.example.org" in result["msg"] and result["stderr"] == "challenge failed"
    assert "--register-unsafely-without-email" in fake.ran("certbot")[0][0]


def test_loose_account_keys_are_set_back_and_links_are_left_alone(tmp_path, host):
    config = lineage(tmp_path)
    account = tmp_path / "letsencrypt" / "accounts" / "acme.example" / "dir" / "abc"
    account.mkdir(parents=True)
    key = account / "private_key.json"
    key.write_text("{}")
    key.chmod(0o644)
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    target.chmod(0o644)
    (account.parent / "private_key.json").symlink_to(target)
    ok, result = run({"request": request(tmp_path), "config_dir": config})
    assert ok and result["changed"] and result["account_keys_fixed"] == [str(key)]
    assert stat.S_IMODE(key.stat().st_mode) == 0o400
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_lineage_name_with_a_slash_is_refused(tmp_path, host):
    ok, result = run({"request": request(tmp_path, name="../x"), "config_dir": str(tmp_path)})
    assert not ok and "request.name" in result["msg"]


def test_a_live_file_readable_by_others_is_written_again(tmp_path, host):
    config = lineage(tmp_path)
    (tmp_path / "live.pem").chmod(0o644)
    ok, result = run({"request": request(tmp_path), "config_dir": config})
    assert ok and result["hook_ran"], result


def test_earlier_lineages_are_deleted_only_once_the_new_one_is_in_place(tmp_path, monkeypatch):
    config = lineage(tmp_path)
    (tmp_path / "letsencrypt" / "renewal" / "old.example.org.conf").write_text("[renewalparams]\nrenew_hook = %s\n" % HOOK)
    (tmp_path / "letsencrypt" / "renewal" / "other.example.org.conf").write_text("[renewalparams]\nrenew_hook = /x\n")
    monkeypatch.setattr(web2py_acme, "ROOT_UID", os.getuid())
    failing = FakeHost(certbot_rc=1)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", failing.run_command)
    ok, result = run({"request": request(tmp_path, server="https://new.example/dir"), "config_dir": config})
    assert not ok and len(failing.ran("certbot")) == 1  # certonly only: nothing deleted
    fake = FakeHost()
    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake.run_command)
    ok, result = run({"request": request(tmp_path), "config_dir": config}, check_mode=True)
    assert ok and result["pruned"] == ["old.example.org"] and not fake.ran("certbot")
    ok, result = run({"request": request(tmp_path), "config_dir": config})
    assert ok and result["changed"] and result["pruned"] == ["old.example.org"]
    assert [call[0] for call in fake.ran("certbot")] == [["certbot", "delete", "--non-interactive", "--cert-name", "old.example.org"]]


def test_an_owed_reload_runs_the_hook_again(tmp_path, host):
    config = lineage(tmp_path)
    (tmp_path / "live.pem.reload-pending").write_text("")
    ok, result = run({"request": request(tmp_path), "config_dir": config})
    assert ok and result["hook_ran"] and host.ran(HOOK), result


def test_a_hook_that_did_not_install_the_new_certificate_fails_and_prunes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(web2py_acme, "ROOT_UID", os.getuid())
    config = lineage(tmp_path, {"server": "https://old.example/dir"})
    (tmp_path / "live.pem").write_text("OLD\n")
    (tmp_path / "letsencrypt" / "renewal" / "old.example.org.conf").write_text("[renewalparams]\nrenew_hook = %s\n" % HOOK)
    fake = FakeHost()  # certbot exits 0, the hook (its deploy hook) wrote nothing
    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake.run_command)
    ok, result = run({"request": request(tmp_path), "config_dir": config})
    assert not ok and "did not install" in result["msg"]
    assert [call[0][1] for call in fake.ran("certbot")] == ["certonly"]
