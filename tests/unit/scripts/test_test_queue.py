"""scripts/test.sh's queues (`--platform P list`): what CI runs, what it leaves to `ci-rest`, and
that the two together are the whole suite on both releases."""
import os
import subprocess

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# The scenario scripts/test.sh runs in the matrix job on the first platform (not queued there).
MATRIX = os.environ.get("MATRIX_SCENARIO", "web2py_standalone")
SCENARIOS = sorted(name for name in os.listdir(os.path.join(TOP, "molecule"))
                   if os.path.isfile(os.path.join(TOP, "molecule", name, "molecule.yml")))


def queue(platform: str) -> list[str]:
    run = subprocess.run([os.path.join(TOP, "scripts", "test.sh"), "--platform", platform, "list"],
                         capture_output=True, text=True, check=True, cwd=TOP, timeout=60)
    items = run.stdout.splitlines()
    assert all(item.strip() == item and "@" in item for item in items), items  # no blank or broken item
    return items


def test_list_takes_nothing_after_it():
    run = subprocess.run([os.path.join(TOP, "scripts", "test.sh"), "list", "--platform", "ci-rest"],
                         capture_output=True, text=True, check=False, cwd=TOP, timeout=60)
    assert run.returncode == 2 and "usage" in run.stdout, (run.returncode, run.stdout)


def test_ci_runs_each_scenario_once_the_cluster_on_debian12():
    ci = queue("ci")
    assert len(ci) == len(set(ci)), ci
    # MATRIX runs on Debian 13 in the matrix job (with the newest ansible-core).
    on13 = {item.split("@")[0] for item in ci if item.endswith("@debian13")} | {MATRIX}
    assert on13 == set(SCENARIOS) - {"cluster"}
    on12 = {item.split("@")[0] for item in ci if item.endswith("@debian12")}
    assert on12 == {"cluster"}
    assert {"static@-", "matrix@-"} <= set(ci)
    assert f"{MATRIX}@debian13" not in ci  # the matrix job's


def test_all_is_every_scenario_on_both_releases():
    everything = queue("all")
    assert len(everything) == len(set(everything)), everything
    expected = {f"{name}@{p}" for name in SCENARIOS for p in ("debian13", "debian12")} - {f"{MATRIX}@debian13"}
    assert set(everything) == expected | {"static@-", "matrix@-"}


def test_ci_and_ci_rest_together_are_the_whole_suite():
    ci, rest, everything = queue("ci"), queue("ci-rest"), queue("all")
    assert not set(ci) & set(rest)
    assert sorted(ci + rest) == sorted(everything)
    assert [item for item in rest if item.endswith("@debian13")] == ["cluster@debian13"]


def test_ci_debian13_is_cis_debian13_part():
    assert queue("ci-debian13") == [item for item in queue("ci") if not item.endswith("@debian12")]


@pytest.mark.parametrize("platform", ["debian13", "debian12"])
def test_one_release_runs_every_scenario_once(platform):
    items = queue(platform)
    names = [item.split("@")[0] for item in items if item.endswith("@" + platform)]
    assert sorted(names + [MATRIX]) == SCENARIOS


def test_the_longest_scenarios_start_first():
    ci = queue("ci")
    assert ci[:4] == ["cluster@debian12", "static@-", "single@debian13", "matrix@-"]
    assert queue("all")[:4] == ["cluster@debian13", "static@-", "single@debian13", "matrix@-"]
    assert queue("ci-rest")[:2] == ["cluster@debian13", "single@debian12"]
    assert "static@-" not in queue("ci-rest") and "matrix@-" not in queue("ci-rest")
    # the second release's run of a long scenario is queued next to the first's, not at the end
    everything = queue("all")
    assert everything.index("acme@debian12") < everything.index("web2py_tls@debian13")
