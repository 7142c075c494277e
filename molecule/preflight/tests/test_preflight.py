"""Scenario preflight: each wrong input fails before any change, naming the variable.

Cases come from ../cases.yml. Every case applies one role (converge.yml) to the fresh container
with its wrong input and must end with: its play failed, the output names the variable, the
recap reports changed=0, and no file on the host is newer than the marker written right before.

The cases of one role run as one ansible-playbook run: each case is a host of its own in a
generated inventory (the same container, the case's input as host vars), and each gets the
container's facts, gathered once, from a fact cache (gathering=smart), so the run spends its
time on the roles' checks instead of one ansible-playbook start and fact gathering per case
(the verify step: 158 s against 490 s, both beside two other scenarios). Every host's
failure, message and recap line is read on its own; the marker is written before each role's
run. A case whose result Ansible censors (no_log) is run alone, as its message is only printed
without the host's name.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

import pytest
import yaml
from ansible.plugins.loader import cache_loader, init_plugin_loader
from conftest import ANSI, NO_COLOR_ENV, write_tls_fixtures

SCENARIO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(SCENARIO, "cases.yml"), encoding="utf-8") as stream:
    CASES = yaml.safe_load(stream)["cases"]

# Settings every case starts from (the case's vars override them): the web2py release from the
# controller, so that the web2py cases fail on their own input, not on the url source's checksum.
PROJECT = os.path.dirname(os.path.dirname(SCENARIO))
BASE_VARS = {
    "web2py_source": "archive",
    "web2py_archive_src": os.environ.get("W2P_RELEASE_ZIP") or os.path.join(PROJECT, ".cache", "fixtures", "web2py_src-3.3.3.zip"),
}
# Operator TLS files the tls cases name ("{{ bad_input_tls }}/..."): test-only keys and
# certificates written once per run on the controller (conftest.write_tls_fixtures).
TLS_FIXTURES = tempfile.mkdtemp(prefix="bad-input-tls-")
BASE_VARS["bad_input_tls"] = TLS_FIXTURES
ROLES = ("web2py", "nginx_uwsgi", "apache_wsgi", "apache_proxy", "lighttpd_fcgi", "postgres",
         "redis", "memcached", "haproxy", "web2py_scheduler", "web2py_standalone", "pgbackrest", "shared_storage")
# (web2py_tls, web2py_frontend, web2py_server, web2py_apache and pki are reached through these, whose
# preflight validates them: their cases apply a role that depends on them.)
MARKER = "/var/tmp/bad-input-marker"
# Where a run of Ansible may leave files without changing the host's configuration: its own
# temporary files and the journal. Everything else must be untouched.
FIND_CHANGED = (
    "find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp"
    " -o -path /var/tmp -o -path /root/.ansible -o -path /var/log/journal \\) -prune"
    f" -o -newer {MARKER} -print"
)


# The container's facts for the batched runs (see the module's docstring).
FACTS = tempfile.mkdtemp(prefix="bad-input-facts-")
FACT_CACHE_ENV = {
    "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile",
    "ANSIBLE_CACHE_PLUGIN_CONNECTION": FACTS,
    "ANSIBLE_GATHERING": "smart",
}


@pytest.fixture(scope="session", autouse=True)
def tls_fixtures():
    paths = write_tls_fixtures(TLS_FIXTURES)
    yield paths
    for path in paths.values():
        os.unlink(path)
    os.rmdir(TLS_FIXTURES)


@pytest.fixture(scope="module")
def booted(host):
    """The fresh container has finished booting: its first-boot units (ldconfig.service writes
    /etc/ld.so.cache) would otherwise count as changes of the first case."""
    host.run("timeout 120 systemctl is-system-running --wait")


@pytest.fixture
def marker(host, booted):  # pylint: disable=unused-argument,redefined-outer-name
    """Touched right before each case (find -newer compares nanoseconds)."""
    host.run(f"touch {MARKER}")
    return MARKER


def instance() -> tuple[str, dict]:
    """The container's name and connection variables in Molecule's inventory."""
    with open(os.environ["MOLECULE_INVENTORY_FILE"], encoding="utf-8") as stream:
        hosts = yaml.safe_load(stream)["all"]["hosts"]
    assert len(hosts) == 1, hosts
    return next(iter(hosts.items()))


@pytest.fixture(scope="module")
def case_facts(booted):  # pylint: disable=unused-argument,redefined-outer-name
    """The container's facts, gathered once into the fact cache, copied under every case's
    host name (with Ansible's own cache plugin). gather_facts (not setup) marks them gathered,
    which gathering=smart looks for."""
    name, _variables = instance()
    gathered = subprocess.run(
        ["ansible", "-i", os.environ["MOLECULE_INVENTORY_FILE"], name, "-m", "ansible.builtin.gather_facts"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **NO_COLOR_ENV, **FACT_CACHE_ENV},
    )
    assert gathered.returncode == 0, gathered.stdout[-3000:] + gathered.stderr[-3000:]
    init_plugin_loader()
    cache = cache_loader.get("ansible.builtin.jsonfile", _uri=FACTS)
    facts = cache.get(name)
    assert facts["ansible_distribution"] == "Debian" and facts["_ansible_facts_gathered"], sorted(facts)[:20]
    for case in CASES:
        cache.set(case["id"], facts)
    yield
    for entry in os.listdir(FACTS):
        os.unlink(os.path.join(FACTS, entry))
    os.rmdir(FACTS)


@dataclass
class Batch:
    """One role's cases applied in one run."""
    output: str
    changed_files: list[str]


@pytest.fixture(scope="module")
def batches(host, case_facts):  # pylint: disable=unused-argument,redefined-outer-name
    """role -> Batch, each run on first use."""
    done: dict[str, Batch] = {}

    def get(role: str) -> Batch:
        if role not in done:
            done[role] = apply_batch(host, role)
        return done[role]
    return get


def apply_batch(host, role: str) -> Batch:
    name, variables = instance()
    hosts = {
        case["id"]: {**variables, "ansible_host": name, **BASE_VARS, **case["vars"]}
        for case in CASES if case["role"] == role
    }
    # In a folder of its own: Ansible reads host_vars/ and group_vars/ next to an inventory.
    folder = tempfile.mkdtemp(prefix="bad-input-batch-")
    inventory = os.path.join(folder, "cases.json")
    with open(inventory, "w", encoding="utf-8") as stream:
        json.dump({"bad_input_cases": {"hosts": hosts}}, stream)
    host.run(f"touch {MARKER}")
    try:
        run = subprocess.run(
            ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-i", inventory,
             "--limit", "bad_input_cases", os.path.join(SCENARIO, "converge.yml"),
             "-e", json.dumps({"bad_input_role": role})],
            capture_output=True, text=True, timeout=900, check=False,
            env={**os.environ, **NO_COLOR_ENV, **FACT_CACHE_ENV},
        )
    finally:
        os.unlink(inventory)
        os.rmdir(folder)
    output = ANSI.sub("", run.stdout + run.stderr)
    assert run.returncode != 0, output[-3000:]
    return Batch(output, host.run(FIND_CHANGED).stdout.split())


def apply_case(case: dict) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as extra:
        json.dump({"bad_input_role": case["role"], **BASE_VARS, **case["vars"]}, extra)
    try:
        return subprocess.run(
            ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
             os.path.join(SCENARIO, "converge.yml"), "-e", "@" + extra.name],
            capture_output=True, text=True, timeout=300, check=False,
            env={**os.environ, **NO_COLOR_ENV},
        )
    finally:
        os.unlink(extra.name)


def failure_message(output: str) -> str:
    """The msg of the failed task (not its assertion, which names variables by itself); in a
    loop, the first failed item's; for a no_log task (censored result), Ansible's error line."""
    fatal = re.search(r"^(?:fatal: \[[^]]+\]: FAILED!|failed: \[[^]]+\] \(item=.*\)) => (\{.*\})$", output, re.M)
    assert fatal, output[-3000:]
    result = json.loads(fatal.group(1))
    if "msg" in result:
        return result["msg"]
    assert "censored" in result, result
    error = re.search(r"^\[ERROR\]: Task failed: Action failed: (.*?)\nOrigin:", output, re.M | re.S)
    assert error, output[-3000:]
    return error.group(1)


def test_matrix_is_broad():
    assert len(CASES) >= 30
    assert len({case["id"] for case in CASES}) == len(CASES)
    assert {case["role"] for case in CASES} >= set(ROLES)


def assert_refused_before_any_change(host, run: subprocess.CompletedProcess, names: str) -> None:
    output = ANSI.sub("", run.stdout + run.stderr)
    assert run.returncode != 0, output[-3000:]
    message = failure_message(output)
    assert names in message, output[-3000:]
    recap = re.findall(r"changed=(\d+)", output)
    assert recap and all(count == "0" for count in recap), output[-3000:]
    changed = host.run(FIND_CHANGED).stdout.split()
    assert changed == [], changed[:20]


def host_result(output: str, name: str) -> dict | None:
    """The result of the host's failed task (in a loop, its first failed item's)."""
    fatal = re.search(
        rf"^(?:fatal: \[{re.escape(name)}\]: FAILED!|failed: \[{re.escape(name)}\] \(item=.*\)) => (\{{.*\}})$",
        output, re.M)
    return json.loads(fatal.group(1)) if fatal else None


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_fails_before_any_change(host, batches, case):  # pylint: disable=redefined-outer-name
    batch = batches(case["role"])
    result = host_result(batch.output, case["id"])
    assert result is not None, f"{case['id']} did not fail:\n" + batch.output[-3000:]
    if "msg" not in result:
        # Censored (no_log): Ansible prints the message without the host's name; alone, the
        # run's only error line is this case's.
        assert "censored" in result, result
        host.run(f"touch {MARKER}")
        run = apply_case(case)
        assert_refused_before_any_change(host, run, case["names"])
        output = run.stdout + run.stderr
    else:
        assert case["names"] in result["msg"], result["msg"]
        recap = re.search(rf"^{re.escape(case['id'])}\s+: ok=\d+\s+changed=(\d+)", batch.output, re.M)
        assert recap and recap.group(1) == "0", batch.output[-3000:]
        assert batch.changed_files == [], f"the run of {case['role']}'s cases changed: {batch.changed_files[:20]}"
        output = batch.output
    # a case's "hidden" text (part of a value) is never shown
    assert not case.get("hidden") or case["hidden"] not in output


@pytest.fixture
def debian11(host):
    """The container pretends to be Debian 11 (what Ansible's distribution facts read), and is
    itself again afterwards."""
    files = "/etc/os-release /usr/lib/os-release /etc/debian_version"
    host.run(f"for f in {files}; do [ -L $f ] || cp -p $f $f.bad-input; done")
    host.run(
        "printf 'PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\\nNAME=\"Debian GNU/Linux\"\\n"
        "VERSION_ID=\"11\"\\nVERSION=\"11 (bullseye)\"\\nVERSION_CODENAME=bullseye\\nID=debian\\n'"
        " > /usr/lib/os-release && echo 11.11 > /etc/debian_version"
    )
    yield
    host.run(f"for f in {files}; do [ -e $f.bad-input ] && mv -f $f.bad-input $f; done")


@pytest.mark.parametrize("role", ROLES)
def test_unsupported_platform_refused_before_any_change(host, debian11, marker, role):
    """Every role stops on a release it has no vars file for, before it changes anything."""
    # What the argument specs require, so that the platform is the only thing wrong.
    required = {
        "redis": {"redis_app_password": "x-S3cret"},
        "memcached": {"memcached_users": [{"name": "web2py", "password": "x-S3cret"}]},
    }
    run = apply_case({"role": role, "vars": required.get(role, {})})
    assert_refused_before_any_change(host, run, f"web2py.deploy.{role} supports Debian 12, Debian 13; this host runs Debian 11")


def apply_later_play(tls_dir: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], os.path.join(SCENARIO, "later_play.yml"),
         "-e", json.dumps({"later_tls_dir": tls_dir}), "--check"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **NO_COLOR_ENV},
    )


def test_a_later_plays_value_is_validated_again(host, marker):
    """The validation play passed web2py_tls with its defaults (its later runs of preflight
    skip); the include_role of the next play gives web2py_tls_dir a system folder: the role's
    own preflight refuses it before any change."""
    assert_refused_before_any_change(host, apply_later_play("/etc"), "web2py_tls_dir")


def test_a_later_plays_good_value_passes():
    """The same two plays with a sound folder: validated, then previewed (check mode)."""
    run = apply_later_play("/etc/lab-later-tls")
    output = ANSI.sub("", run.stdout + run.stderr)
    assert run.returncode == 0, output[-3000:]
    # Each play validated: the first with the defaults, the second the new folder.
    task = "TASK [web2py.deploy.preflight : Check every pending role (platform, argument spec, types, its checks, line breaks)]"
    assert output.count(task) == 2, output[-3000:]
