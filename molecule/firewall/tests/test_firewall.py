"""Scenario firewall: the nftables firewall worked out from the hosts' groups.

The tests run on the host in no group (the outsider) and reach the others with testinfra's
get_host; connections are made from inside each container to the others' names (Docker's
network, IPv4 and IPv6), with a 2-second timeout: "open" (connected: a listener, or the
outsider's sshd), "dropped" (no answer: the firewall), "refused".
"""
from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import time

import pytest
from conftest import changed_tasks, node, run_playbook

INSTANCE = os.environ.get("MOLECULE_INSTANCE", "instance")
LB, APP, DB, OUTSIDER = f"{INSTANCE}-lb", f"{INSTANCE}-app", f"{INSTANCE}-db", INSTANCE
HOSTS = (LB, APP, DB, OUTSIDER)
testinfra_hosts = [f"ansible://{OUTSIDER}"]
PORTS = (22, 80, 443, 5432, 6379, 8404)
TABLE = "inet web2py_deploy"
APPLY = "/usr/local/libexec/web2py-deploy/firewall-apply"
NEXT = "/etc/web2py-deploy/firewall.nft.next"

# Who may reach what (the groups' services; SSH from anywhere): (destination, port) -> sources.
ALLOWED = {
    (LB, 80): HOSTS, (LB, 443): HOSTS,
    (APP, 80): (LB,), (APP, 443): (LB,),
    (DB, 5432): (APP,), (DB, 6379): (APP,),
}

REACH = r"""
import json, socket, sys, concurrent.futures
def attempt(target):
    host, port, family = target
    fam = socket.AF_INET if family == 4 else socket.AF_INET6
    try:
        address = socket.getaddrinfo(host, port, fam, socket.SOCK_STREAM)[0][4]
    except OSError as error:
        return "noaddress"
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(address)
        return "open"
    except socket.timeout:
        return "dropped"
    except ConnectionRefusedError:
        return "refused"
    except OSError as error:
        return "error %s" % error.errno
    finally:
        s.close()
targets = json.loads(sys.argv[1])
with concurrent.futures.ThreadPoolExecutor(len(targets)) as pool:
    print(json.dumps(list(pool.map(attempt, targets))))
"""


def reach(source: str, targets: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], str]:
    """From SOURCE, connect to each (host, port, family) at once; what each attempt saw."""
    out = node(source).run(f"python3 -c {shlex.quote(REACH)} {shlex.quote(json.dumps(targets))}")
    assert out.rc == 0, out.stderr
    return dict(zip([tuple(t) for t in targets], json.loads(out.stdout)))


def expected(source: str, destination: str, port: int) -> str:
    if port == 22:
        return "open"
    return "open" if source in ALLOWED.get((destination, port), ()) else "dropped"


@pytest.mark.parametrize("source", HOSTS)
def test_each_host_reaches_only_what_its_groups_need(source):
    """From each host to every other, on every listened port, over IPv4 and IPv6: SSH
    everywhere; the balancer's HTTP/HTTPS from anyone; the app host's only from the balancer;
    PostgreSQL and Redis only from the app host; everything else dropped (no answer)."""
    targets = [(dest, port, family) for dest in HOSTS if dest != source for port in PORTS for family in (4, 6)]
    seen = reach(source, targets)
    wrong = {t: s for t, s in seen.items() if s != expected(source, t[0], t[1])}
    assert not wrong, wrong


def test_rule_set_and_files():
    """The database host's table: policy drop, PostgreSQL and Redis from the app host's IPv4 and
    IPv6 addresses, SSH from anywhere, the extra UDP rule; the files root's (0600), the boot
    unit enabled, the listing kept."""
    db = node(DB)
    table = db.run(f"nft list table {TABLE}")
    assert table.rc == 0, table.stderr
    text = table.stdout
    assert "policy drop;" in text and "tcp dport 22 accept" in text
    app_v4 = node(APP).ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"]["address"]
    app_v6 = node(APP).ansible("setup", "filter=ansible_default_ipv6")["ansible_facts"]["ansible_default_ipv6"]["address"]
    assert f"ip saddr {app_v4} tcp dport 5432 accept" in text, text
    assert f"ip6 saddr {app_v6} tcp dport 5432 accept" in text, text
    assert f"ip saddr {app_v4} tcp dport 6379 accept" in text, text
    assert "ip saddr 10.0.0.0/8 udp dport 5353 accept" in text, text
    for path in ("/etc/web2py-deploy/firewall.nft", NEXT):
        f = db.file(path)
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600), path
    assert db.service("web2py-firewall.service").is_enabled
    assert db.file("/var/lib/web2py-deploy/firewall.listing").exists


def test_dropped_packets_are_counted():
    """The policy's counter on the app host counts what it dropped (the outsider's attempts)."""
    app = node(APP)
    before = app.run(f"nft list table {TABLE} | sed -n 's/.*counter packets \\([0-9]*\\).*/\\1/p'").stdout.strip()
    reach(OUTSIDER, [(APP, 80, 4), (APP, 5432, 4)])
    after = app.run(f"nft list table {TABLE} | sed -n 's/.*counter packets \\([0-9]*\\).*/\\1/p'").stdout.strip()
    assert int(after) >= int(before) + 2, (before, after)


def test_a_rule_set_nobody_confirms_is_rolled_back():
    """A rule set loaded with its rollback armed but never confirmed (as when the controller
    loses the host): here one that shuts the app host out of PostgreSQL. It takes effect, and
    after the delay the previous rules are back by themselves, exactly as kept."""
    db = node(DB)
    assert db.run(f"grep -v 'dport 5432' {NEXT} > /tmp/shut.nft").rc == 0
    loaded = db.run(f"{APPLY} /tmp/shut.nft 10")
    assert loaded.rc == 0, loaded.stderr
    assert reach(APP, [(DB, 5432, 4)])[(DB, 5432, 4)] == "dropped"
    assert reach(APP, [(DB, 6379, 4)])[(DB, 6379, 4)] == "open"
    for _attempt in range(30):
        time.sleep(1)
        if db.run(f"nft -s list table {TABLE} | cmp -s - /var/lib/web2py-deploy/firewall.listing").rc == 0:
            break
    else:
        pytest.fail("the rollback did not put the kept rules back")
    assert reach(APP, [(DB, 5432, 4)])[(DB, 5432, 4)] == "open"


def test_a_rule_set_nft_refuses_changes_nothing():
    """A broken rule set: firewall-apply refuses it (nft -c), arms no rollback, and the running
    table is the kept one."""
    db = node(DB)
    assert db.run(f"sed 's/policy drop/policy maybe/' {NEXT} > /tmp/broken.nft").rc == 0
    out = db.run(f"{APPLY} /tmp/broken.nft 30")
    assert out.rc != 0 and "Error" in out.stderr, (out.rc, out.stderr)
    assert db.run("systemctl list-timers --all --no-legend | grep -c web2py-firewall-rollback").stdout.strip() == "0"
    assert db.run(f"nft -s list table {TABLE} | cmp -s - /var/lib/web2py-deploy/firewall.listing").rc == 0


def run_over_ssh(tmp_path, settings: dict) -> subprocess.CompletedProcess:
    """converge.yml against the outsider over SSH from the controller (its own key, made by
    prepare.yml), so the controller's connection goes through the host's firewall."""
    address = node(OUTSIDER).ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"]["address"]
    inventory = tmp_path / "over-ssh.json"
    inventory.write_text(json.dumps({"all": {"children": {"outsider": {"hosts": {"outsider-over-ssh": {
        "ansible_host": address, "ansible_user": "root", "ansible_connection": "ssh",
        "ansible_ssh_private_key_file": os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ssh", "id_ed25519"),
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5",
        "ansible_python_interpreter": "/usr/bin/python3"}}}}}}))
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"),
         "-e", json.dumps({"firewall_enabled": True, **settings})],
        capture_output=True, text=True, timeout=600, check=False)


def ssh_port_answers(address: str) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect((address, 22))
            return s.recv(8).startswith(b"SSH-")
        except OSError:
            return False


def test_over_ssh_a_new_rule_set_is_confirmed_through_itself(tmp_path):
    """Over SSH (the controller's connection through the outsider's firewall): a changed rule
    set is loaded, the controller reaches the host anew through it, and it is kept."""
    run = run_over_ssh(tmp_path, {"firewall_extra_rules": [{"name": "over-ssh", "port": 7777}]})
    assert run.returncode == 0, run.stdout[-3000:]
    assert any("Keep the rule set" in banner for banner in changed_tasks(run.stdout)), changed_tasks(run.stdout)
    outsider = node(OUTSIDER)
    assert "tcp dport 7777 accept" in outsider.check_output(f"nft list table {TABLE}")
    assert outsider.run("systemctl is-active web2py-firewall-rollback.timer").stdout.strip() != "active"


def test_over_ssh_a_rule_set_that_locks_the_controller_out_is_rolled_back(tmp_path):
    """Over SSH, a rule set that shuts SSH to the controller (firewall_ssh_sources naming another
    network): the controller cannot reach the host anew, the play fails there, nothing is kept,
    and after firewall_rollback_seconds the previous rules are back by themselves: SSH answers
    again. (The outsider then gets the scenario's rules back.)"""
    outsider = node(OUTSIDER)
    address = outsider.ansible("setup", "filter=ansible_default_ipv4")["ansible_facts"]["ansible_default_ipv4"]["address"]
    kept = outsider.check_output(f"nft -s list table {TABLE}")
    run = run_over_ssh(tmp_path, {"firewall_ssh_sources": ["192.0.2.0/24"], "firewall_rollback_seconds": 30})
    assert run.returncode != 0, run.stdout[-3000:]
    assert "Reach the host anew" in run.stdout and "Keep the rule set" not in "".join(changed_tasks(run.stdout)), run.stdout[-3000:]
    for _attempt in range(60):
        if ssh_port_answers(address):
            break
        time.sleep(1)
    else:
        pytest.fail("SSH stayed shut: the rollback did not run")
    assert outsider.check_output(f"nft -s list table {TABLE}") == kept
    back = run_playbook("converge.yml", "--limit", OUTSIDER)
    assert back.returncode == 0, back.stdout[-3000:]


def test_converge_puts_back_a_table_deleted_by_hand_then_turned_off():
    """The outsider's table deleted by hand: the next converge loads the rules again (and
    confirms them). Turned off (firewall_enabled false): the table, the files and the boot unit
    are gone and every port answers again."""
    outsider = node(OUTSIDER)
    assert outsider.run(f"nft delete table {TABLE}").rc == 0
    run = run_playbook("converge.yml", "--limit", OUTSIDER)
    assert run.returncode == 0, run.stdout[-3000:]
    assert any("Keep the rule set" in banner for banner in changed_tasks(run.stdout)), changed_tasks(run.stdout)
    assert outsider.run(f"nft list table {TABLE}").rc == 0
    assert reach(APP, [(OUTSIDER, 80, 4)])[(OUTSIDER, 80, 4)] == "dropped"
    off = run_playbook("converge.yml", "--limit", OUTSIDER, "-e", '{"firewall_enabled": false}')
    assert off.returncode == 0, off.stdout[-3000:]
    assert outsider.run(f"nft list table {TABLE}").rc != 0
    assert not outsider.file("/etc/systemd/system/web2py-firewall.service").exists
    assert not outsider.file("/etc/web2py-deploy/firewall.nft").exists
    assert reach(APP, [(OUTSIDER, 80, 4), (OUTSIDER, 80, 6)]) == {(OUTSIDER, 80, 4): "open", (OUTSIDER, 80, 6): "open"}
