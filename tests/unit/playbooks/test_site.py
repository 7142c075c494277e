"""playbooks/site.yml run by ansible-playbook on the controller (local connection) for what it
refuses before any host changes: nothing of a role runs in these cases."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def collections(tmp_path):
    """A collections path holding this checkout as web2py.deploy."""
    base = tmp_path / "collections" / "ansible_collections" / "web2py"
    base.mkdir(parents=True)
    (base / "deploy").symlink_to(ROOT)
    return str(tmp_path / "collections")


def test_a_host_in_two_recipe_groups_stops_every_host_before_any_change(tmp_path, collections):
    """h1 in two recipe groups: site.yml's check fails it, naming both groups, and the run ends
    there for every host (h2, a Redis host, reaches no validation or deploy play either)."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"""
all:
  vars: {{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}
  children:
    web2py_nginx_uwsgi: {{hosts: {{h1: {{}}}}}}
    web2py_apache_proxy: {{hosts: {{h1: {{}}}}}}
    redis: {{hosts: {{h2: {{}}}}}}
""")
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
           "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg")}
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    run = subprocess.run([playbook, "-i", str(inventory), os.path.join(ROOT, "playbooks", "site.yml")],
                         capture_output=True, text=True, timeout=300, check=False, env=env, cwd=str(tmp_path))
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "h1 is in the groups web2py_apache_proxy and web2py_nginx_uwsgi" in output, output[-3000:]
    assert "PLAY [Validate" not in output and "PLAY [Redis" not in output, output[-3000:]
