"""Scenario web2py_frontend: the shared role alone for a recipe of the scenario's own (lab_recipe):
the takeover from the recorded recipe, its own record, the admin password files of its ports."""
from __future__ import annotations

import json
import shlex

from conftest import assert_check_mode_clean, changed_tasks, run_playbook, secret_values

ROOT = "/srv/web2py/web2py"
PYTHON = "/srv/web2py/venv/bin/python"
FACT = "/etc/ansible/facts.d/web2py_frontend.fact"
PORTS = (8443, 9000)  # the recipe's port, then web2py_admin_ports
# web2py's own check of an admin password (gluon.main reads parameters_<port>.py the same way).
VERIFY = """
import os, sys
sys.path.insert(0, '.')
from gluon.validators import CRYPT
namespace = {}
exec(open('parameters_%s.py' % sys.argv[1]).read(), namespace)
stored = namespace['password']
print('none' if stored is None else 'match' if CRYPT()(os.environ['W2P_PASSWORD'])[0] == stored else 'differs')
"""


def admin_password(host, port: int, password: str) -> str:
    """'match', 'differs' or 'none': what web2py's CRYPT says of the password file of port."""
    command = (f"cd {ROOT} && "
               f"runuser -u web2py -- env W2P_PASSWORD={shlex.quote(password)} {PYTHON} -c {shlex.quote(VERIFY)} {port}")
    out = host.run(command)
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def test_check_mode_on_the_converged_host_changes_nothing(lab_vars):
    """First, on the state converge left: --check --diff reports 0 changes, -v shows no secret."""
    assert_check_mode_clean(secrets=secret_values(lab_vars))


def test_the_previous_recipes_unit_is_stopped_and_disabled(host):
    assert host.run("systemctl is-active w2p-old-site.service").stdout.strip() != "active"
    assert host.run("systemctl is-enabled w2p-old-site.service").stdout.strip() == "disabled"


def test_the_recipe_is_recorded_for_the_next_one(host):
    fact = host.file(FACT)
    assert fact.user == "root" and fact.mode == 0o644
    assert json.loads(fact.content_string) == {"web2py": {"name": "lab_recipe", "units": ["w2p-lab-site.service"]}}
    # what a later play reads back as ansible_local.web2py_frontend
    local = host.ansible("setup", "filter=ansible_local")["ansible_facts"]["ansible_local"]
    assert local["web2py_frontend"]["web2py"]["name"] == "lab_recipe"


def test_admin_password_files_of_the_recipes_ports(host, lab_vars):
    files = sorted(name for name in host.file(ROOT).listdir() if name.startswith("parameters_"))
    assert files == [f"parameters_{port}.py" for port in PORTS], files
    for port in PORTS:
        params = host.file(f"{ROOT}/parameters_{port}.py")
        assert (params.user, params.group, params.mode) == ("web2py", "web2py", 0o600)
        assert lab_vars["web2py_admin_password"] not in params.content_string
        assert admin_password(host, port, lab_vars["web2py_admin_password"]) == "match"
        assert admin_password(host, port, lab_vars["web2py_admin_password"] + "x") == "differs"


def test_the_role_without_a_front_end_is_refused_and_changes_nothing(host):
    before = host.file(FACT).sha256sum
    run = run_playbook("unnamed.yml")
    output = run.stdout + run.stderr
    assert run.returncode != 0 and "web2py_frontend_name and web2py_frontend_units" in output, output[-3000:]
    assert "changed=0" in output and host.file(FACT).sha256sum == before


def test_the_web2py_user_cannot_plant_password_files(host):
    """The tree the role left: web2py's root folder is root's, so the web2py user can neither
    replace a password file nor add one (this checks the host, not a run of the role)."""
    root_dir = host.file(ROOT)
    assert root_dir.user == "root" and not root_dir.mode & 0o022, oct(root_dir.mode)
    for command in ("rm -f parameters_8443.py", "ln -s /etc/shadow parameters_80.py", "touch parameters_443.py"):
        out = host.run(f"cd {ROOT} && runuser -u web2py -- sh -c {shlex.quote(command)}")
        assert out.rc != 0 and "Permission denied" in out.stderr, (command, out.stderr)
    assert not host.file(f"{ROOT}/parameters_80.py").exists and host.file(f"{ROOT}/parameters_8443.py").exists


def test_a_link_among_the_password_files_stops_the_play_untouched(host):
    """A link in the tree (whoever made it) is named and the play stops before root follows it."""
    target = "/etc/web2py-frontend-target"
    assert host.run(f"printf 'root file\\n' > {target} && chmod 0644 {target} && ln -s {target} {ROOT}/parameters_80.py").rc == 0
    try:
        run = run_playbook("converge.yml")
        output = run.stdout + run.stderr
        assert run.returncode != 0 and "entries were refused" in output and "parameters_80.py" in output, output[-3000:]
        assert host.file(target).content_string == "root file\n" and host.file(target).user == "root"
        assert host.file(target).mode == 0o644
    finally:
        host.run(f"rm -f {ROOT}/parameters_80.py {target}")


def test_the_password_file_of_a_port_not_served_is_removed(host, lab_vars):
    """A copy left for another port (after a recipe or port change) would keep an old password."""
    assert host.run(f"cp -p {ROOT}/parameters_8443.py {ROOT}/parameters_443.py").rc == 0
    run = run_playbook("converge.yml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert changed_tasks(output) == ["web2py.deploy.web2py_frontend : Remove the parameters files of other ports"], changed_tasks(output)
    assert not host.file(f"{ROOT}/parameters_443.py").exists
    assert admin_password(host, 8443, lab_vars["web2py_admin_password"]) == "match"


def test_admin_off_writes_password_none_on_every_port(host):
    run = run_playbook("converge.yml", "-e", json.dumps({"web2py_frontend_admin": False}))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    for port in PORTS:
        assert host.file(f"{ROOT}/parameters_{port}.py").content_string == "password=None\n"
        assert admin_password(host, port, "anything") == "none"


def test_a_record_that_is_not_json_is_reported_and_written_again(host, lab_vars):
    """Next to last: the record is garbage; the role says so (every known recipe's units are then the
    candidates to stop: none is installed here), writes its record again, and the password files
    get the inventory's password back (the test before left password=None)."""
    assert host.run(f"echo 'not json' > {FACT}").rc == 0
    run = run_playbook("converge.yml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "holds no record of web2py" in run.stdout
    assert "web2py.deploy.web2py_frontend : Record this recipe's units (read by the next front end on this host)" in changed_tasks(output)
    assert json.loads(host.file(FACT).content_string)["web2py"]["name"] == "lab_recipe"
    for port in PORTS:
        assert admin_password(host, port, lab_vars["web2py_admin_password"]) == "match"


def test_a_check_pass_then_a_switch_stops_the_previous_recipe(host):
    """Last (it switches the recipe): rolling.yml's check pass (check_mode on the play) previews
    the switch and leaves the record and the running recipe alone; the real run after it still
    stops and disables the recipe it replaces (the check pass once left its record in a fact, and
    the real run then took the new recipe for the previous one)."""
    unit = "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n"
    assert host.run(f"printf '{unit}' > /etc/systemd/system/w2p-lab-site.service && systemctl daemon-reload"
                    " && systemctl enable --now w2p-lab-site.service").rc == 0
    run = run_playbook("check_then_switch.yml")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    check_pass, real_run = output.split("PLAY [Real run]", 1)
    stop = "web2py.deploy.web2py_frontend : Stop and disable the previous recipe's units"
    assert stop in changed_tasks(check_pass) and stop in changed_tasks(real_run), output[-3000:]
    assert host.run("systemctl is-active w2p-lab-site.service").stdout.strip() != "active"
    assert host.run("systemctl is-enabled w2p-lab-site.service").stdout.strip() == "disabled"
    assert json.loads(host.file(FACT).content_string)["web2py"] == {"name": "next_recipe", "units": ["w2p-next-site.service"]}
