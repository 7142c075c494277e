"""The files web2py.deploy.pki puts on a host are where the roles that read them look."""
from __future__ import annotations

import pathlib
import re

import pytest
import yaml

ROLES = pathlib.Path(__file__).resolve().parents[4] / "roles"


def role_vars(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "vars" / "main.yml").read_text(encoding="utf-8"))


PKI = role_vars("pki")
HOST_DIR = PKI["__pki_host_dir"]


def test_pki_layout_is_what_its_readme_says():
    assert HOST_DIR == "/etc/web2py-deploy/pki"
    assert PKI["__pki_ca_file"] == "{{ __pki_host_dir }}/ca.crt"
    assert PKI["__pki_cert_file"] == "{{ __pki_host_dir }}/{{ pki_for }}.crt"
    assert PKI["__pki_key_file"] == "{{ __pki_key_dir }}/{{ pki_for }}.key"
    assert PKI["__pki_key_dir"] == "{{ __pki_host_dir }}/private"


@pytest.mark.parametrize("role, prefix, service", [
    ("postgres", "__postgres_tls", "postgres"),
    ("redis", "__redis_tls", "redis"),
    ("memcached", "__memcached_tls", "memcached"),
])
def test_service_roles_read_their_files_where_pki_writes_them(role, prefix, service):
    values = role_vars(role)
    assert values[f"{prefix}_ca"] == f"{HOST_DIR}/ca.crt"
    assert values[f"{prefix}_cert"] == f"{HOST_DIR}/{service}.crt"
    assert values[f"{prefix}_key"] == f"{HOST_DIR}/private/{service}.key"
    meta = yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text(encoding="utf-8"))
    deps = [d for d in meta["dependencies"] if d["role"] == "web2py.deploy.pki"]
    assert len(deps) == 1 and deps[0]["pki_for"] == service


def test_clients_read_the_ca_where_pki_writes_it():
    assert role_vars("web2py")["__web2py_pki_ca_file"] == f"{HOST_DIR}/ca.crt"
    checker = (ROLES / "memcached" / "files" / "memcached-check-candidate").read_text(encoding="utf-8")
    assert re.search(r'^CA = "%s/ca\.crt"' % re.escape(HOST_DIR), checker, re.M)


def test_pki_for_choices_are_the_services():
    spec = yaml.safe_load((ROLES / "pki" / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    assert spec["argument_specs"]["main"]["options"]["pki_for"]["choices"] == ["", "postgres", "redis", "memcached"]


def test_internal_ciphers_are_the_public_endpoints_and_one_list():
    defaults = yaml.safe_load((ROLES / "pki" / "defaults" / "main.yml").read_text(encoding="utf-8"))
    public = yaml.safe_load((ROLES / "web2py_tls" / "defaults" / "main.yml").read_text(encoding="utf-8"))
    # The public profile's ECDHE suites: the services' keys are EC and they have no DH parameters.
    assert defaults["pki_tls_ciphers"] == [c for c in public["web2py_tls_ciphers"] if c.startswith("ECDHE-")]
    for role, name in (("postgres", "__postgres_tls_settings"), ("redis", "__redis_tls_ciphers"),
                       ("memcached", "__memcached_tls_ciphers")):
        text = str(role_vars(role)[name])
        assert "pki_tls_ciphers | join(':')" in text and "ECDHE" not in text, (role, text)
