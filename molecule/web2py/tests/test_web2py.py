"""Scenario web2py: the base role, its built-in server service and every source."""
from __future__ import annotations

import shlex

import pytest
from conftest import assert_check_mode_clean, secret_values, Client, assert_admin_login

ROOT = "/srv/web2py/web2py"
VENV = "/srv/web2py/venv"


def test_check_mode_on_the_converged_host_changes_nothing(lab_vars):
    """First, on the state converge left: --check --diff reports 0 changes, -v shows no secret."""
    assert_check_mode_clean(secrets=secret_values(lab_vars))


@pytest.fixture
def app(host):
    return Client(host, "http://127.0.0.1:8000", "/tmp/web2py-jar")


def test_service_runs_as_web2py_on_loopback(host):
    svc = host.service("web2py")
    assert svc.is_running and svc.is_enabled
    pid = host.run("systemctl show -p MainPID --value web2py").stdout.strip()
    assert host.run(f"ps -o user= -p {pid}").stdout.strip() == "web2py"
    assert host.socket("tcp://127.0.0.1:8000").is_listening
    assert not host.socket("tcp://0.0.0.0:8000").is_listening


def test_admin_password_not_on_command_line(host):
    cmdline = host.run("ps -eo args").stdout
    assert "lab-admin-S3cret!" not in cmdline
    assert "<recycle>" in cmdline


def test_probe_answers(app):
    r = app.get("/probe/default/ping")
    assert r.status == 200 and r.body == "pong"
    assert r.headers["content-type"].startswith("text/plain")


def test_session_counter_kept_across_requests(app):
    values = [app.get("/probe/default/counter").json()["counter"] for _i in range(3)]
    assert values == [1, 2, 3]


def test_db_round_trip(app):
    first = app.get("/probe/default/dbrw").json()
    second = app.get("/probe/default/dbrw").json()
    assert first["wrote"] == first["read"] and len(first["wrote"]) == 32
    assert second["rows"] == first["rows"] + 1
    assert first["engine"] == "sqlite"


def test_cache_hit(app):
    first = app.get("/probe/default/cached").json()
    second = app.get("/probe/default/cached").json()
    assert second["hit"] is True and second["value"] == first["value"]


def test_host_action_reports_node(host, app):
    assert app.get("/probe/default/host").json()["host"] == host.check_output("hostname")


def test_appconfig_rendered_0600(host):
    cfg = host.file(f"{ROOT}/applications/notes/private/appconfig.ini")
    assert cfg.mode == 0o600 and cfg.user == "web2py"
    assert "uri = sqlite://notes.sqlite" in cfg.content_string
    assert "names = notes.example.org" in cfg.content_string
    assert "login = notes:smtp-S3cret" in cfg.content_string
    assert host.file(f"{ROOT}/applications/notes/controllers/default.py").exists
    assert host.file(f"{ROOT}/applications/notes/databases").mode == 0o700


def test_default_apps_removed(host):
    assert not host.file(f"{ROOT}/applications/examples").exists
    assert not host.file(f"{ROOT}/applications/welcome").exists
    assert host.file(f"{ROOT}/applications/admin").is_directory


def test_version_file_written_for_the_wheel(host):
    assert host.file(f"{ROOT}/VERSION").content_string.startswith("Version 2.26.1-stable")
    assert host.file(f"{ROOT}/wsgihandler.py").exists


def test_parameters_file_verifies_with_gluon_crypt(host):
    params = host.file(f"{ROOT}/parameters_8000.py")
    assert params.mode == 0o600 and params.user == "web2py"
    # The password goes through stdin, never a command line.
    script = (
        "import sys; sys.path.insert(0, '.'); from gluon.validators import CRYPT; "
        "stored = open('parameters_8000.py').read().split('\"')[1]; "
        "pw = sys.stdin.read(); print(CRYPT()(pw)[0] == stored, CRYPT()(pw + 'x')[0] == stored)"
    )
    out = host.run(f"cd {ROOT} && printf %s 'lab-admin-S3cret!' | sudo -u web2py {VENV}/bin/python -c {shlex.quote(script)}")
    assert out.rc == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


def test_admin_login_from_localhost(app, lab_vars):
    # web2py's admin opens for local requests and reads parameters_8000.py.
    assert_admin_login(app, lab_vars["web2py_admin_password"])


def test_sessions2trash_timer_and_run(host):
    timer = host.service("web2py-sessions2trash@probe.timer")
    assert timer.is_enabled and timer.is_running
    out = host.run("systemctl start web2py-sessions2trash@probe.service")
    assert out.rc == 0, out.stderr
    result = host.run("systemctl show -p Result --value web2py-sessions2trash@probe.service")
    assert result.stdout.strip() == "success"


@pytest.mark.parametrize("home,user", [
    ("/srv/w2p-url", "w2purl"),
    ("/srv/w2p-git", "w2pgit"),
    ("/srv/w2p-archive", "w2parc"),
])
def test_other_sources_give_a_runnable_web2py(host, home, user):
    out = host.run(
        f"cd {home}/web2py && sudo -u {user} {home}/venv/bin/python -c "
        "\"import gluon.main, gluon.widget; print(gluon.main.web2py_version)\""
    )
    assert out.rc == 0, out.stderr
    assert out.stdout.strip().startswith("2.26.1")
    assert host.file(f"{home}/web2py/wsgihandler.py").exists
    assert not host.service(user).is_running


def test_git_source_has_its_submodule(host):
    assert host.file("/srv/w2p-git/web2py/gluon/packages/yatl/yatl/__init__.py").exists
    out = host.run("sudo -u w2pgit git -C /srv/w2p-git/src/web2py describe --tags")
    assert out.stdout.strip() == "v2.26.1"
    # The checkout stays clean while web2py runs from the synced root.
    assert host.run("sudo -u w2pgit git -C /srv/w2p-git/src/web2py status --porcelain").stdout == ""
    assert not host.file("/srv/w2p-git/web2py/.git").exists
