"""Unit tests of web2py.deploy.pki_san and pki_csr_problems (what the private CA signs)."""
from __future__ import annotations

import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.pki import FilterModule, pki_csr_problems, pki_san

NAMES = ["db1", "db1.internal.example"]
ADDRESSES = ["10.0.0.21", "127.0.0.1", "::1", "FD00::0001"]
# What openssl_csr_info reports for the request the role makes (tasks/main.yml).
GOOD = {
    "signature_valid": True,
    "public_key_type": "ECC",
    "subject_ordered": [["commonName", "db1"]],
    "subject_alt_name": ["DNS:db1", "DNS:db1.internal.example", "IP:10.0.0.21", "IP:127.0.0.1", "IP:::1", "IP:fd00::1"],
    "basic_constraints": ["CA:FALSE"],
    "basic_constraints_critical": True,
    "key_usage": ["Digital Signature", "Key Encipherment"],
    "key_usage_critical": True,
    "extended_key_usage": ["TLS Web Server Authentication"],
    "extended_key_usage_critical": False,
    "subject_alt_name_critical": False,
    "extensions_by_oid": {"2.5.29.15": {}, "2.5.29.17": {}, "2.5.29.19": {}, "2.5.29.37": {}},
}


def test_san_is_normalized_sorted_and_unique():
    assert pki_san(["DB1", "db1"], ["FD00::0001", "[::1]", "10.0.0.21"]) == ["DNS:db1", "IP:10.0.0.21", "IP:::1", "IP:fd00::1"]


def test_san_refuses_what_is_no_address():
    with pytest.raises(AnsibleFilterError):
        pki_san(["db1"], ["10.0.0.300"])


def test_the_request_the_role_makes_is_signed():
    assert pki_csr_problems(GOOD, NAMES, ADDRESSES) == []
    # Entries in another order or spelling are the same request.
    shuffled = dict(GOOD, subject_alt_name=list(reversed(GOOD["subject_alt_name"])) + ["DNS:DB1"])
    assert pki_csr_problems(shuffled, NAMES, ADDRESSES) == []


@pytest.mark.parametrize("change, fragment", [
    ({"subject_alt_name": GOOD["subject_alt_name"] + ["DNS:*.internal"]}, "more: ['DNS:*.internal']"),
    ({"subject_alt_name": GOOD["subject_alt_name"] + ["IP:10.9.9.9"]}, "more: ['IP:10.9.9.9']"),
    ({"subject_alt_name": GOOD["subject_alt_name"][1:]}, "missing: ['DNS:db1']"),
    ({"subject_alt_name": GOOD["subject_alt_name"] + ["URI:https://x"]}, "more: ['URI:https://x']"),
    ({"basic_constraints": ["CA:TRUE"]}, "CA:FALSE"),
    ({"basic_constraints_critical": False}, "CA:FALSE"),
    ({"key_usage": ["Digital Signature", "Key Encipherment", "Certificate Sign"]}, "key usages"),
    ({"extended_key_usage": ["TLS Web Server Authentication", "Code Signing"]}, "server authentication alone"),
    ({"extended_key_usage": ["TLS Web Client Authentication"]}, "server authentication alone"),
    ({"extensions_by_oid": dict(GOOD["extensions_by_oid"], **{"1.3.6.1.5.5.7.1.1": {}})}, "other extensions"),
    ({"subject_ordered": [["commonName", "other"]]}, "subject"),
    ({"subject_ordered": [["commonName", "db1"], ["organizationName", "x"]]}, "subject"),
    ({"signature_valid": False}, "signature"),
    ({"key_usage_critical": False}, "key usages"),
    ({"extended_key_usage_critical": True}, "server authentication alone"),
    ({"subject_alt_name_critical": True}, "subjectAltName is critical"),
    ({"public_key_type": "RSA"}, "EC key"),
])
def test_a_request_asking_for_more_or_other_is_refused(change, fragment):
    info = copy.deepcopy(GOOD)
    info.update(change)
    problems = pki_csr_problems(info, NAMES, ADDRESSES)
    assert problems and any(fragment in p for p in problems), problems


def test_needs_the_info_mapping():
    with pytest.raises(AnsibleFilterError):
        pki_csr_problems("-----BEGIN CERTIFICATE REQUEST-----", NAMES, ADDRESSES)


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"pki_san", "pki_csr_problems"}
