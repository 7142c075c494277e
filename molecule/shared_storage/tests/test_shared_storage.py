"""Scenario shared_storage: the probe's uploads and tickets kept on files, mounted on app.

The tests run on the web2py host (app) and reach the storage host with testinfra.get_host.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import time

from conftest import ANSI, NO_COLOR_ENV, Client, assert_web2py_sees_the_shares, node

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
testinfra_hosts = [f"ansible://{INSTANCE}-app"]
FILES = f"{INSTANCE}-files"
SHARE = "/srv/web2py-shared/probe"
PROBE_DIR = "/srv/web2py/web2py/applications/probe"
UPLOADS_UNIT = "srv-web2py-web2py-applications-probe-uploads.mount"
KEY = "/etc/web2py-deploy/shared-storage/id_ed25519"
SSH = f"-i {KEY} -o UserKnownHostsFile=/etc/web2py-deploy/shared-storage/known_hosts -o BatchMode=yes -o ConnectTimeout=10"
SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def web2py(host) -> Client:
    return Client(host, "http://127.0.0.1:8000", "/tmp/jar-shared")


def upload(host, content: str) -> str:
    host.run(f"printf %s {shlex.quote(content)} > /tmp/shared-upload.txt")
    answer = web2py(host).request("/probe/default/upload", "-F", "file=@/tmp/shared-upload.txt;filename=n ü.txt")
    assert answer.status == 200, (answer.status, answer.body[:300])
    assert answer.json()["sha256"] == hashlib.sha256(content.encode()).hexdigest()
    return answer.json()["name"]


def files_address() -> str:
    """The storage host's name (shared_storage_address's default: Docker's DNS resolves it)."""
    return FILES


def test_an_upload_lands_on_the_storage_host_as_written(host):
    content = f"upload {time.time_ns()} 100% ;#=: 'q' \"dq\" ü ✓\n"
    name = upload(host, content)
    kept = node(FILES).file(f"{SHARE}/uploads/{name}")
    assert kept.is_file and kept.user == "web2py-shared" and kept.mode == 0o640
    assert kept.content_string == content
    download = web2py(host).get(f"/probe/default/download/{name}")
    assert download.status == 200 and download.body == content, (download.status, download.body[:200])
    local = host.file(f"{PROBE_DIR}/uploads/{name}")
    assert local.user == "web2py" and local.group == "web2py"
    denied = host.run(f"runuser -u nobody -- cat {PROBE_DIR}/uploads/{name}")
    assert denied.rc != 0 and "Permission denied" in denied.stderr, denied.stdout + denied.stderr


def test_a_ticket_lands_on_the_storage_host(host):
    answer = web2py(host).get("/probe/default/fail")
    assert answer.status == 500 and "Ticket issued" in answer.body, (answer.status, answer.body[:300])
    ticket = re.search(r"probe/([0-9a-zA-Z.:_-]+)", answer.body.split("Ticket issued", 1)[1]).group(1)
    kept = node(FILES).file(f"{SHARE}/errors/{ticket}")
    assert kept.is_file and kept.user == "web2py-shared" and kept.mode == 0o640


def test_the_mounts_are_web2pys_alone_and_never_run_anything(host):
    for folder in ("uploads", "errors"):
        out = host.run(f"findmnt -rn -o FSTYPE,SOURCE,OPTIONS --mountpoint {PROBE_DIR}/{folder}")
        fstype, source, options = out.stdout.split()
        assert (fstype, source) == ("fuse.sshfs", f"web2py-shared@{files_address()}:/probe/{folder}"), out.stdout
        assert {"nosuid", "nodev", "noexec", "allow_other", "default_permissions"} <= set(options.split(",")), options
    assert host.service(UPLOADS_UNIT).is_enabled
    # web2py's server runs in its own mount namespace (ProtectSystem=strict): restarted once the
    # folders were mounted, and ordered after them (at boot too) by a drop-in.
    assert_web2py_sees_the_shares(host, (f"{PROBE_DIR}/uploads", f"{PROBE_DIR}/errors"))
    dropin = host.file("/etc/systemd/system/web2py.service.d/web2py-deploy-shared-storage.conf").content_string
    assert f"After={UPLOADS_UNIT} " in dropin and "Wants=" not in dropin
    assert UPLOADS_UNIT in host.run("systemctl show -p After --value web2py.service").stdout
    unit = host.run(f"systemd-escape --path --suffix=mount {PROBE_DIR}/uploads").stdout.strip()
    assert unit == UPLOADS_UNIT
    key_dir = host.file("/etc/web2py-deploy/shared-storage")
    assert key_dir.user == "root" and key_dir.mode == 0o700
    assert host.file(KEY).user == "root" and host.file(KEY).mode == 0o600
    # The storage host's host key, pinned: the key file holds exactly it.
    pinned = host.file("/etc/web2py-deploy/shared-storage/known_hosts").content_string.split()
    served = node(FILES).file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()
    assert pinned == [files_address(), *served[:2]]


def test_the_account_gets_sftp_in_its_folder_only(host):
    files = node(FILES)
    config = files.run("sshd -T -C user=web2py-shared,host=app,addr=10.0.0.1").stdout.lower()
    for line in ("chrootdirectory /srv/web2py-shared", "forcecommand internal-sftp -u 027", "permittty no",
                 "allowtcpforwarding no", "x11forwarding no", "passwordauthentication no",
                 "authorizedkeysfile /etc/ssh/web2py-deploy/web2py-shared.keys"):
        assert line in config, line
    keys = files.file("/etc/ssh/web2py-deploy/web2py-shared.keys")
    assert keys.user == "root" and keys.mode == 0o644
    address = host.interface("eth0").addresses[0]
    assert f'restrict,from="{address}" ssh-ed25519 ' in keys.content_string
    shell = host.run(f"ssh {SSH} web2py-shared@{files_address()} id </dev/null")
    assert "uid=" not in shell.stdout, shell.stdout
    listing = host.run(f"printf 'ls /\\ncd /etc\\n' | sftp {SSH} -b - web2py-shared@{files_address()}")
    assert "/probe" in listing.stdout and listing.rc != 0, listing.stdout + listing.stderr
    # The storage host itself has no key sshd accepts for the account.
    assert files.run(f"ssh -o BatchMode=yes -o StrictHostKeyChecking=no web2py-shared@{files_address()} true").rc != 0


def test_a_dropped_link_is_made_again(host):
    name = upload(host, "before the drop\n")
    node(FILES).run("pkill -u web2py-shared")  # ends the SFTP sessions, as a storage host restart would
    deadline, out = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        out = host.run(f"runuser -u web2py -- cat {PROBE_DIR}/uploads/{name}")
        if out.rc == 0:
            break
        time.sleep(2)
    assert out.rc == 0 and out.stdout == "before the drop\n", out.stdout + out.stderr
    assert upload(host, "after the drop\n")


def converge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(SCENARIO, "converge.yml"), *args],
        capture_output=True, text=True, timeout=600, check=False, env={**os.environ, **NO_COLOR_ENV},
    )


def test_a_folder_holding_files_is_never_mounted_over(host):
    """What web2py wrote while a folder was not mounted would hide under the share: refused."""
    assert host.run(f"systemctl stop {UPLOADS_UNIT}").rc == 0
    try:
        host.run(f"runuser -u web2py -- sh -c 'echo local > {PROBE_DIR}/uploads/written-while-unmounted.txt'")
        run = converge("--tags", "shared_storage")
        output = ANSI.sub("", run.stdout + run.stderr)
        assert run.returncode != 0, output[-3000:]
        assert f"{PROBE_DIR}/uploads: not empty" in output, output[-3000:]
        assert not host.service(UPLOADS_UNIT).is_running
    finally:
        host.run(f"rm -f {PROBE_DIR}/uploads/written-while-unmounted.txt")
    run = converge("--tags", "shared_storage")
    assert run.returncode == 0, ANSI.sub("", run.stdout + run.stderr)[-3000:]
    assert host.run(f"findmnt -rn -o FSTYPE --mountpoint {PROBE_DIR}/uploads").stdout.strip() == "fuse.sshfs"


def test_bad_web2py_host_settings_are_refused_before_any_change(host):
    """The settings only a web2py host reads (the preflight scenario's host is a storage host):
    refused by the validation plays, named, with nothing changed on any host."""
    for extra, name, why in (({"shared_storage_client_address": "10.0.0.9 -oProxyCommand=sh"}, "shared_storage_client_address",
                              "must be"),
                             ({"web2py_apps_writable": True}, "web2py_apps_writable", "must stay root's"),
                             ({"shared_storage_host": f"{INSTANCE}-app"}, "shared_storage_host", "runs web2py too")):
        run = converge("-e", json.dumps(extra))
        output = ANSI.sub("", run.stdout + run.stderr)
        assert run.returncode != 0 and name in output and why in output, output[-3000:]
        assert "changed: [" not in output and "PLAY [Shared uploads" not in output, output[-3000:]


def test_a_limit_without_the_storage_host(host):
    """A web2py host that mounted the folders before runs without the storage host (--limit);
    nothing is refused, nothing changes."""
    run = converge("--limit", f"{INSTANCE}-app", "--tags", "shared_storage")
    output = ANSI.sub("", run.stdout + run.stderr)
    assert run.returncode == 0 and re.search(r"-app\s*:\s*ok=\d+\s+changed=0 ", output), output[-3000:]


def test_services_are_found_by_their_user_and_see_a_mount_made_anew(host):
    """After a shared folder is mounted anew (a new sshfs, a new device), web2py's server (its own
    mount namespace) is restarted to see it; a zombie of web2py's user does not break the run and
    a service running as another user with one of web2py's processes (as cron would) is left
    alone; the next run changes nothing."""
    host.run("systemctl stop w2p-zombie w2p-foreign; systemctl reset-failed w2p-zombie w2p-foreign")
    # a zombie: the exec'd sleep never reaps its finished child
    assert host.run("systemd-run --unit=w2p-zombie -p User=web2py sh -c 'sleep 0.1 & exec sleep 600'").rc == 0
    assert host.run("systemd-run --unit=w2p-foreign runuser -u web2py -- sleep 600").rc == 0
    try:
        before = host.run(f"findmnt -rn -o MAJ:MIN --mountpoint {PROBE_DIR}/uploads").stdout.strip()
        assert host.run(f"systemctl restart {UPLOADS_UNIT}").rc == 0
        assert host.run(f"findmnt -rn -o MAJ:MIN --mountpoint {PROBE_DIR}/uploads").stdout.strip() != before
        time.sleep(1)
        assert host.run("ps -o stat= --ppid $(systemctl show -p MainPID --value w2p-zombie)").stdout.strip().startswith("Z")
        first = converge("--tags", "shared_storage")
        output = ANSI.sub("", first.stdout + first.stderr)
        assert first.returncode == 0, output[-3000:]
        assert re.search(r"changed: \[[^]]+-app\] => \(item=web2py\.service\)", output), output[-3000:]
        assert_web2py_sees_the_shares(host, (f"{PROBE_DIR}/uploads", f"{PROBE_DIR}/errors"))
        assert host.file("/etc/systemd/system/w2p-zombie.service.d/web2py-deploy-shared-storage.conf").exists
        assert not host.file("/etc/systemd/system/w2p-foreign.service.d").exists
        again = converge("--tags", "shared_storage")
        output = ANSI.sub("", again.stdout + again.stderr)
        assert again.returncode == 0 and re.search(r"-app\s*:\s*ok=\d+\s+changed=0 ", output), output[-3000:]
    finally:
        host.run("systemctl stop w2p-zombie w2p-foreign; rm -rf /etc/systemd/system/w2p-zombie.service.d; systemctl daemon-reload")


def test_removing_a_shared_application_keeps_its_files_on_the_storage_host(host):
    """The last test (it removes the probe): web2py.deploy.web2py unmounts before it removes an
    application, the role drops the units of what is no longer shared, the files stay kept."""
    kept = set(node(FILES).run(f"ls -1 {SHARE}/uploads {SHARE}/errors").stdout.split())
    assert len(kept) > 4, kept
    run = converge("-e", json.dumps({"web2py_probe_app": False, "web2py_remove_apps": ["examples", "welcome", "probe"],
                                     "shared_storage_apps": ["admin"]}))
    output = ANSI.sub("", run.stdout + run.stderr)
    assert run.returncode == 0, output[-3000:]
    unmount = output.split("TASK [web2py.deploy.web2py : Unmount what is mounted in the applications to remove]", 1)[1]
    assert f"changed: [{INSTANCE}-app]" in unmount.split("TASK [", 1)[0], output[-3000:]
    assert set(node(FILES).run(f"ls -1 {SHARE}/uploads {SHARE}/errors").stdout.split()) == kept
    assert not host.file(PROBE_DIR).exists
    assert not host.file(f"/etc/systemd/system/{UPLOADS_UNIT}").exists
    admin = "/srv/web2py/web2py/applications/admin"
    assert host.run(f"findmnt -rn -o FSTYPE --mountpoint {admin}/uploads").stdout.strip() == "fuse.sshfs"
    assert node(FILES).file("/srv/web2py-shared/admin/errors").is_directory
