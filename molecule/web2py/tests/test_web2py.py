"""Scenario web2py: the base role, its built-in server service and every source, on the real
web2py 3.3.3 release (and the web2py-gluon wheel where its Python runs)."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import uuid
import zipfile

import pytest
from conftest import (
    Client,
    assert_admin_login,
    assert_appconfig_as_written,
    assert_check_mode_clean,
    assert_probe_answers,
    assert_ticket_written,
    changed_tasks,
    run_playbook,
    secret_values,
)

ROOT = "/srv/web2py/web2py"
VENV = "/srv/web2py/venv"
RELEASE_VERSION = "3.3.3-stable+timestamp.2026.04.28.08.03.04"
SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_minor(host) -> int:
    return int(host.run("python3 -c 'import sys; print(sys.version_info[1])'").stdout)


def test_check_mode_on_the_converged_host_changes_nothing(lab_vars):
    """First, on the state converge left: --check --diff reports 0 changes, -v shows no secret."""
    assert_check_mode_clean(secrets=secret_values(lab_vars))


@pytest.fixture
def app(host):
    return Client(host, "http://127.0.0.1:8000", "/tmp/web2py-jar")


def test_the_release_is_deployed(host):
    out = host.run(f"cd {ROOT} && sudo -u web2py {VENV}/bin/python web2py.py --version")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == RELEASE_VERSION
    # The release's own pydal, yatl and rocket3 (gluon/packages) are what runs.
    out = host.run(f"cd {ROOT} && sudo -u web2py {VENV}/bin/python -c 'import gluon, pydal; print(pydal.__file__)'")
    assert out.stdout.strip().startswith(f"{ROOT}/gluon/packages/pydal/"), out.stdout + out.stderr
    assert not host.file(f"{ROOT}/VERSION").exists
    assert host.file(f"{ROOT}/wsgihandler.py").content_string == host.file(f"{ROOT}/handlers/wsgihandler.py").content_string


def test_virtualenv_of_the_old_python_was_rebuilt(host, lab_vars):
    """prepare.yml left a virtualenv of the previous Debian release's Python; it was replaced."""
    minor = python_minor(host)
    cfg = host.file(f"{VENV}/pyvenv.cfg").content_string
    assert re.search(rf"^version(_info)? = 3\.{minor}\.", cfg, re.M), cfg
    assert not host.file(f"{VENV}/lib/python{lab_vars['lab_old_python']}").exists
    out = host.run(f"sudo -u web2py {VENV}/bin/python -c 'import sys; print(sys.version_info[1])'")
    assert out.rc == 0 and int(out.stdout) == minor, out.stderr
    assert host.file(f"{VENV}").user == "root"


def test_root_virtualenv_of_another_python_is_rebuilt(host):
    """A virtualenv of root's whose pyvenv.cfg names another Python (this role's own, after an
    in-place upgrade of Debian) is made again by the next run; the service runs on it."""
    minor = python_minor(host)
    assert host.file(VENV).user == "root"
    assert host.run(f"sed -i 's/^version = .*/version = 3.{minor - 2}.1/' {VENV}/pyvenv.cfg").rc == 0
    run = run_playbook("converge.yml")
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert any(task.startswith("web2py.deploy.web2py : Remove a virtualenv made by another Python")
               for task in changed_tasks(run.stdout)), run.stdout[-3000:]
    cfg = host.file(f"{VENV}/pyvenv.cfg").content_string
    assert re.search(rf"^version(_info)? = 3\.{minor}\.", cfg, re.M), cfg
    out = host.run(f"sudo -u web2py {VENV}/bin/python -c 'import sys; print(sys.version_info[1])'")
    assert out.rc == 0 and int(out.stdout) == minor, out.stderr
    assert host.service("web2py").is_running


def test_legacy_cgi_only_where_python_dropped_cgi(host):
    out = host.run(f"{VENV}/bin/pip list --format=freeze")
    assert ("legacy-cgi==" in out.stdout) == (python_minor(host) >= 13), out.stdout


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


def test_appconfig_values_reach_web2py_as_written(app, lab_vars):
    """%, ;, #, =, :, quotes and non-ASCII through 3.3.3's RawConfigParser."""
    assert_appconfig_as_written(app, lab_vars)


def test_appconfig_written_for_rawconfigparser(host):
    cfg = host.file(f"{ROOT}/applications/probe/private/appconfig.ini").content_string
    assert "RawConfigParser: % as is" in cfg
    assert "percents = %(name)s %% %\n" in cfg


def test_error_writes_a_ticket_with_its_snapshot(host, app):
    assert_ticket_written(host, app, ROOT)


def test_appconfig_rendered_0600(host):
    cfg = host.file(f"{ROOT}/applications/notes/private/appconfig.ini")
    assert cfg.mode == 0o600 and cfg.user == "web2py"
    assert "uri = sqlite://notes.sqlite" in cfg.content_string
    assert "names = notes.example.org" in cfg.content_string
    assert "login = notes:smtp-S3cret" in cfg.content_string
    assert host.file(f"{ROOT}/applications/notes/controllers/default.py").exists
    assert host.file(f"{ROOT}/applications/notes/databases").mode == 0o700


def test_welcome_packed_then_sample_apps_removed(host):
    """welcome.w2p (admin's template for new applications) was packed from the release's welcome
    before web2py_remove_apps removed welcome and examples."""
    assert not host.file(f"{ROOT}/applications/examples").exists
    assert not host.file(f"{ROOT}/applications/welcome").exists
    assert host.file(f"{ROOT}/applications/admin").is_directory
    listing = host.run(f"tar -tzf {ROOT}/welcome.w2p").stdout.split()
    for member in ("controllers/default.py", "models/db.py", "views/layout.html", "private/appconfig.ini"):
        assert member in listing, listing[:20]


def test_parameters_file_verifies_with_gluon_crypt(host):
    params = host.file(f"{ROOT}/parameters_8000.py")
    assert params.mode == 0o600 and params.user == "web2py"
    # The password goes through stdin, never a command line.
    script = (
        "import sys; sys.path.insert(0, '.'); import gluon; from gluon.validators import CRYPT; "
        "stored = open('parameters_8000.py').read().split('\"')[1]; "
        "pw = sys.stdin.read(); print(CRYPT()(pw)[0] == stored, CRYPT()(pw + 'x')[0] == stored)"
    )
    out = host.run(f"cd {ROOT} && printf %s 'lab-admin-S3cret!' | sudo -u web2py {VENV}/bin/python -c {shlex.quote(script)}")
    assert out.rc == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


def test_admin_login_from_localhost(app, lab_vars):
    # web2py's admin opens for local requests and reads parameters_8000.py.
    assert_admin_login(app, lab_vars["web2py_admin_password"])


def test_admin_installs_an_uploaded_application(host, app, lab_vars):
    """applications/ is the web2py user's here (web2py_apps_writable): the real admin, logged in,
    installs a packed application (welcome.w2p, uploaded), and the new application answers. Its
    files are the web2py user's, so admin can edit them; web2py's own folder stays root's (admin's
    "create" from the scaffold, which writes welcome.tar there, is the one thing it cannot do)."""
    assert_admin_login(app, lab_vars["web2py_admin_password"])
    site = app.get("/admin/default/site")
    assert site.status == 200, site.body[:300]
    form = re.search(r'<form[^>]*>(?:(?!</form>).)*value="appupdate/create"(?:(?!</form>).)*</form>', site.body, re.S)
    assert form, site.body[:2000]
    formkey = re.search(r'name="_formkey" type="hidden" value="([^"]+)"|value="([^"]+)" name="_formkey"|name="_formkey"[^>]*value="([^"]+)"', form.group(0))
    assert formkey, form.group(0)
    key = next(group for group in formkey.groups() if group)
    name = "fromadmin_" + uuid.uuid4().hex[:8]  # the verify step may run more than once
    assert host.run(f"cp {ROOT}/welcome.w2p /tmp/upload.w2p").rc == 0
    installed = app.request("/admin/default/site", "-F", f"name={name}", "-F", "file=@/tmp/upload.w2p",
                            "-F", "_formname=appupdate/create", "-F", f"_formkey={key}")
    assert installed.status == 303, (installed.status, installed.headers, installed.body[:300])
    controller = host.file(f"{ROOT}/applications/{name}/controllers/default.py")
    assert controller.exists and controller.user == "web2py"
    page = app.get(f"/{name}/default/index")
    assert page.status == 200 and "web2py" in page.body.lower(), (page.status, page.body[:300])
    assert host.file(ROOT).user == "root" and not host.file(f"{ROOT}/welcome.tar").exists


def test_sessions2trash_removes_expired_sessions_only(host, app):
    """The timer's service, run now: a session idle longer than the expiration goes, a live one stays."""
    timer = host.service("web2py-sessions2trash@probe.timer")
    assert timer.is_enabled and timer.is_running
    old, new = Client(host, "http://127.0.0.1:8000", "/tmp/jar-old"), Client(host, "http://127.0.0.1:8000", "/tmp/jar-new")
    old.get("/probe/default/counter")
    new.get("/probe/default/counter")
    # The session file is named after the cookie's value (web2py's file sessions).
    cookie = host.run("awk '$6 == \"session_id_probe\" {print $7}' /tmp/jar-old").stdout.strip()
    found = host.run(f"find {ROOT}/applications/probe/sessions -type f -name {shlex.quote(cookie)}").stdout.split()
    assert len(found) == 1, (cookie, found)
    old_file = found[0]
    host.run(f"touch -d '3 hours ago' {old_file}")
    out = host.run("systemctl start web2py-sessions2trash@probe.service")
    assert out.rc == 0, out.stderr
    result = host.run("systemctl show -p Result --value web2py-sessions2trash@probe.service")
    assert result.stdout.strip() == "success"
    assert not host.file(old_file).exists
    assert host.run(f"find {ROOT}/applications/probe/sessions -type f").stdout.split(), "the live session went too"
    assert new.get("/probe/default/counter").json()["counter"] == 2
    assert old.get("/probe/default/counter").json()["counter"] == 1


@pytest.mark.parametrize("home,user", [
    ("/srv/w2p-url", "w2purl"),
    ("/srv/w2p-git", "w2pgit"),
])
def test_other_sources_give_the_release(host, home, user):
    out = host.run(f"cd {home}/web2py && sudo -u {user} {home}/venv/bin/python web2py.py --version")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip() == RELEASE_VERSION
    out = host.run(f"cd {home}/web2py && sudo -u {user} {home}/venv/bin/python -c 'import gluon.main'")
    assert out.rc == 0, out.stderr
    assert host.file(f"{home}/web2py/wsgihandler.py").exists
    assert not host.service(user).is_running


def test_git_source_has_its_submodules(host):
    for package in ("pydal/pydal", "yatl/yatl", "rocket3/rocket3"):
        assert host.file(f"/srv/w2p-git/web2py/gluon/packages/{package}/__init__.py").exists, package
    out = host.run("git -C /srv/w2p-git/src/web2py describe --tags")
    assert out.stdout.strip() == "v3.3.3"
    # The checkout stays clean while web2py runs from the synced root.
    assert host.run("git -C /srv/w2p-git/src/web2py status --porcelain").stdout == ""
    assert host.file("/srv/w2p-git/src/web2py").user == "root"
    assert not host.file("/srv/w2p-git/web2py/.git").exists


# The web2py-gluon wheel (2.26.1): installed and served on Debian 12 (Python 3.11); on Debian 13
# (Python 3.13) the role refuses it before any change (converge.yml's rescue checks the message).

def test_wheel_runs_where_its_python_does_and_is_refused_elsewhere(host, lab_vars):
    if python_minor(host) >= 12:
        assert not host.file("/srv/w2p-wheel").exists
        assert host.run("getent passwd w2pwhl").rc == 2
        return
    wheel = Client(host, "http://127.0.0.1:8001", "/tmp/jar-wheel")
    assert wheel.get("/probe/default/ping").body == "pong"
    assert host.file("/srv/w2p-wheel/web2py/VERSION").content_string.startswith("Version 2.26.1-stable")
    # The same values through 2.26's interpolating parser: '%' is written '%%' in the file.
    assert_appconfig_as_written(wheel, lab_vars)
    cfg = host.file("/srv/w2p-wheel/web2py/applications/probe/private/appconfig.ini").content_string
    assert "percents = %%(name)s %%%% %%\n" in cfg


# --- Safety: the service user never becomes root; deploys never overwrite runtime data -------
# (last in this file: they deploy again)

OUTSIDE = ("/etc/systemd/system", "/etc/shadow", "/etc/passwd", "/root")


def outside_state(host) -> str:
    """Owners, modes and contents of what a planted link would aim root at."""
    return host.run(
        "stat -c '%n %U:%G %a' " + " ".join(OUTSIDE) + " && sha256sum /etc/shadow /etc/passwd"
        " && ls -la /etc/systemd/system"
    ).stdout


def test_code_is_read_only_to_the_service_user(host):
    """Default install (url): the code and applications are root's; the user writes runtime data only."""
    for path in ("/srv/w2p-url/web2py/gluon/main.py", "/srv/w2p-url/web2py/applications/admin/controllers/default.py"):
        out = host.run(f"sudo -u w2purl sh -c 'echo x >> {path}'")
        assert out.rc != 0, path
    for path in ("/srv/w2p-url/web2py", "/srv/w2p-url/web2py/applications/admin", "/srv/w2p-url/venv", "/srv/w2p-url"):
        f = host.file(path)
        assert f.user == "root" and f.mode & 0o022 == 0, path
    # The attack of the issue: replace a runtime folder by a link. Its parent is root's: refused.
    out = host.run("sudo -u w2purl sh -c 'rm -rf /srv/w2p-url/web2py/applications/admin/cache "
                   "&& ln -s /etc/systemd/system /srv/w2p-url/web2py/applications/admin/cache'")
    assert out.rc != 0
    assert host.file("/srv/w2p-url/web2py/applications/admin/cache").is_directory
    for sub in ("databases", "sessions", "errors", "cache", "uploads"):
        f = host.file(f"/srv/w2p-url/web2py/applications/admin/{sub}")
        assert f.user == "w2purl" and not f.is_symlink, sub
    assert host.file("/srv/w2p-url/web2py/logs").user == "w2purl"


def test_planted_links_never_make_root_change_anything_outside(host):
    """applications/ is the service user's here (web2py_apps_writable): it plants links and hard
    links everywhere it can write; the next deploy fails, naming them, and changes nothing
    outside the tree. Once they are gone the deploy repairs the tree."""
    before = outside_state(host)
    apps = f"{ROOT}/applications"
    plant = " && ".join([
        f"rm -rf {apps}/notes/cache && ln -s /etc/systemd/system {apps}/notes/cache",
        f"rm -f {apps}/probe/private/appconfig.ini && ln -s /etc/shadow {apps}/probe/private/appconfig.ini",
        f"ln -s /etc/passwd {apps}/probe/databases/evil",
        f"ln -s /root {ROOT}/logs/evil",
        f"ln -s /etc {ROOT}/deposit/evil",
        f"ln -s /etc/systemd/system {apps}/notes/controllers/evil",
        f"rm -f {apps}/notes/models/0_web2py_deploy.py && ln -s /etc/passwd {apps}/notes/models/0_web2py_deploy.py",
    ])
    out = host.run(f"sudo -u web2py sh -c {shlex.quote(plant)}")
    assert out.rc == 0, out.stderr
    # Hard links to files of other users: refused by the kernel (fs.protected_hardlinks) or, where
    # allowed, planted too.
    host.run(f"sudo -u web2py ln /etc/shadow {apps}/probe/uploads/shadow")
    try:
        result = run_playbook("redeploy.yml")
        assert result.returncode != 0, result.stdout[-3000:]
        words = " ".join((result.stdout + result.stderr).split())  # failures may go to stderr
        assert "applications/notes/cache: symbolic link where a service folder belongs" in words
        assert "applications/probe/private/appconfig.ini: symbolic link where a service file belongs" in words
        assert outside_state(host) == before
    finally:
        undo = " && ".join([
            f"rm -f {apps}/notes/cache {apps}/probe/private/appconfig.ini {apps}/probe/databases/evil",
            f"rm -f {ROOT}/logs/evil {ROOT}/deposit/evil {apps}/notes/controllers/evil",
            f"rm -f {apps}/notes/models/0_web2py_deploy.py {apps}/probe/uploads/shadow",
        ])
        host.run(f"sudo -u web2py sh -c {shlex.quote(undo)}")
    result = run_playbook("redeploy.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert outside_state(host) == before
    assert host.file(f"{apps}/notes/cache").is_directory and host.file(f"{apps}/notes/cache").user == "web2py"
    assert host.file(f"{apps}/notes/models/0_web2py_deploy.py").is_file
    assert host.file(f"{apps}/probe/private/appconfig.ini").mode == 0o600


def test_code_changed_or_removed_by_hand_is_put_back(host, app):
    """In an application deployed from a folder (probe) and one from an archive (notes): a code
    file edited by hand at the same size and time (only its content differs) and code files
    removed by hand (one of them the managed model), and a file of web2py's code, are put back by
    the next deploy, with their owner and mode; the applications' databases and uploads on the
    server stay as they were. A run with check_mode on the play before it only reports them."""
    apps = f"{ROOT}/applications"
    probe_src = os.path.join(SCENARIO, "..", "..", "roles", "web2py", "files")
    with zipfile.ZipFile(os.path.join(SCENARIO, "files", "notes.zip")) as notes_zip:
        expected = {
            "probe/controllers/default.py": open(os.path.join(probe_src, "probe", "controllers", "default.py"), "rb").read(),
            "notes/controllers/default.py": notes_zip.read("controllers/default.py"),
            "probe/models/0_web2py_deploy.py": open(os.path.join(probe_src, "0_web2py_deploy.py"), "rb").read(),
        }
    data = " ".join(f"{apps}/{a}/{d}" for a in ("probe", "notes") for d in ("databases", "uploads"))
    listing = f"find {data} -type f -exec sha256sum {{}} + | sort"
    plant = " && ".join([
        f"printf %s hand-data > {apps}/probe/databases/hand.sqlite",
        f"printf %s hand-upload > {apps}/notes/uploads/hand-upload.txt",
        # First byte swapped, size and time kept: rsync's size-and-time check would miss it.
        f"f={apps}/probe/controllers/default.py && t=$(stat -c %Y $f)"
        " && printf Q | dd of=$f bs=1 count=1 conv=notrunc status=none && touch -d @$t $f",
        f"rm {apps}/notes/controllers/default.py {apps}/probe/models/0_web2py_deploy.py",
    ])
    out = host.run(f"sudo -u web2py sh -c {shlex.quote(plant)}")
    assert out.rc == 0, out.stderr
    # and in web2py's own code (root's)
    readme = host.file(f"{ROOT}/README.md").content
    assert host.run(f"printf '%s\\n' '# edited by hand' >> {ROOT}/README.md").rc == 0
    assert host.file(f"{apps}/probe/controllers/default.py").content != expected["probe/controllers/default.py"]
    before = host.run(listing).stdout
    assert "hand.sqlite" in before and "hand-upload.txt" in before
    # check_mode on the play (rolling.yml's check pass), where ansible_check_mode is false: the
    # syncs only report what they would put back (dry runs), nothing changes.
    changed_by_hand = host.run(f"sha256sum {ROOT}/README.md {apps}/probe/controllers/default.py; ls {apps}/notes/controllers").stdout
    preview = run_playbook("check_play.yml")
    assert preview.returncode == 0, preview.stdout[-3000:]
    previewed = changed_tasks(preview.stdout)
    assert any("Sync web2py's code" in task for task in previewed), previewed
    assert any("Sync staged applications" in task for task in previewed), previewed
    assert host.run(f"sha256sum {ROOT}/README.md {apps}/probe/controllers/default.py; ls {apps}/notes/controllers").stdout == changed_by_hand
    result = run_playbook("redeploy.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert any("Sync staged applications" in task for task in changed_tasks(result.stdout)), result.stdout[-3000:]
    for rel, content in expected.items():
        f = host.file(f"{apps}/{rel}")
        assert f.content == content, rel
        assert (f.user, f.group, f.mode) == ("web2py", "web2py", 0o640), rel
    assert host.run(listing).stdout == before
    assert host.file(f"{ROOT}/README.md").content == readme
    assert_probe_answers(app)
    host.run(f"rm -f {apps}/probe/databases/hand.sqlite {apps}/notes/uploads/hand-upload.txt")


def test_staged_archive_and_folder_changed_by_hand_are_put_back(host, app):
    """The host's copy of an application's archive and its staging folder, both root's: an
    archive that no longer has the controller's digest is copied again, a staged file edited by
    hand is unpacked again and a file added to the staging folder goes, before either reaches
    applications/."""
    archive, staged = "/srv/web2py/downloads/app-probe.tar.gz", "/srv/web2py/downloads/apps/probe/controllers/default.py"
    archive_sum, staged_sum = host.file(archive).sha256sum, host.file(staged).sha256sum
    planted = "/srv/web2py/downloads/apps/probe/controllers/planted.py"
    assert host.run(f"printf junk >> {archive} && printf '# edited by hand' >> {staged} && echo 'x = 1' > {planted}").rc == 0
    result = run_playbook("redeploy.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    changed = changed_tasks(result.stdout)
    assert "web2py.deploy.web2py : Copy each application's archive to the host (one transfer, none when the host has it)" in changed, changed
    assert "web2py.deploy.web2py : Unpack the archives that differ from their staging folders" in changed, changed
    assert host.file(archive).sha256sum == archive_sum and host.file(staged).sha256sum == staged_sum
    assert "edited by hand" not in host.file(f"{ROOT}/applications/probe/controllers/default.py").content_string
    # a file the archive does not hold is not kept in the staging folder, nor synced
    assert not host.file(planted).exists and not host.file(f"{ROOT}/applications/probe/controllers/planted.py").exists
    assert_probe_answers(app)


def test_deploy_never_overwrites_runtime_data(host, app, lab_vars, tmp_path):
    """An app folder that carries its own databases, uploads, sessions, errors, cache and
    appconfig.ini is deployed over the running app (notes): the server's data stay as they were,
    the code is updated."""
    apps = f"{ROOT}/applications"
    server = ["databases/notes.sqlite", "uploads/server-upload.txt", "sessions/server-session",
              "errors/server-ticket", "cache/server-cache"]
    for rel in server:
        text = f"server's {rel}"
        host.run(f"sudo -u web2py sh -c {shlex.quote(f'printf %s {shlex.quote(text)} > {apps}/notes/{rel}')}")
    listing = f"cd {apps}/notes && sha256sum " + " ".join(server) + " private/appconfig.ini"
    sums = host.run(listing).stdout
    assert sums.count("\n") == len(server) + 1, sums
    # The notes source (a folder now, not the zip) with runtime data of its own and one code change.
    src = tmp_path / "notes"
    src.mkdir()
    subprocess.run(["unzip", "-q", os.path.join(SCENARIO, "files", "notes.zip"), "-d", str(src)], check=True)
    for rel in server + ["private/appconfig.ini"]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("FROM THE SOURCE, MUST NOT LAND\n")
    (src / "static").mkdir(exist_ok=True)
    (src / "static" / "redeployed.txt").write_text("new code\n")
    notes = dict(lab_vars["web2py_apps"][0], src=str(src) + "/")
    # Last test of the scenario: the host is not put back to the zip source afterwards.
    result = run_playbook("redeploy.yml", "-e", json.dumps({"web2py_apps": [notes]}))
    assert result.returncode == 0, result.stdout[-3000:]
    assert host.run(listing).stdout == sums
    assert host.file(f"{apps}/notes/static/redeployed.txt").content_string == "new code\n"
    assert host.run(f"grep -rl 'MUST NOT LAND' {apps}/notes").stdout == ""
    assert_probe_answers(app)
