"""Unit tests of the web2py.deploy.settings lookup: each variable rendered on its own."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.web2py.deploy.plugins.lookup.settings import LookupModule


def run(variables: dict, *names: str) -> dict:
    templar = Templar(loader=DataLoader(), variables=variables)
    return LookupModule(loader=DataLoader(), templar=templar).run(list(names), variables=variables)[0]


def test_renders_each_name_and_names_what_cannot_be_rendered_here():
    variables = {
        "web2py_user": "web2py",
        # Templates as Ansible loads them from YAML files (trusted).
        "apache_wsgi_server_name": trust_as_template("{{ web2py_tls_common_name }}"),  # its role is not visible here
        "nginx_uwsgi_processes": trust_as_template("{{ 2 + 2 }}"),
    }
    result = run(variables, "web2py_user", "apache_wsgi_server_name", "nginx_uwsgi_processes", "not_defined")
    # the text of what cannot be rendered, for the fingerprint (a changed text is a changed setting)
    assert result["values"] == {"web2py_user": "web2py", "nginx_uwsgi_processes": 4,
                                "apache_wsgi_server_name": {"unrendered": "{{ web2py_tls_common_name }}"}}
    assert result["unresolved"] == ["apache_wsgi_server_name"]


def test_names_must_be_strings():
    with pytest.raises(AnsibleError):
        run({"a": 1}, 1)
