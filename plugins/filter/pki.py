# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the private CA of web2py.deploy.pki signs.

A server's certificate signing request is made on the server, from its key, and signed on the
controller; the CA copies the request's extensions into the certificate. Whoever is root on the
server could ask for other names, a CA certificate or other key usages: ``pki_csr_problems``
compares the request (as ``community.crypto.openssl_csr_info`` reads it) with exactly what the
inventory asks for, and the role signs only a request without problems.
"""

from __future__ import annotations

import ipaddress
import typing as t

from ansible.errors import AnsibleFilterError


# The extensions a server's request carries, and nothing else: subjectAltName, basicConstraints,
# keyUsage, extendedKeyUsage.
_EXTENSIONS = {"2.5.29.17", "2.5.29.19", "2.5.29.15", "2.5.29.37"}


def _entry(kind: str, value: str) -> str:
    if kind == "IP":
        return "IP:" + ipaddress.ip_address(value.strip("[]")).compressed
    return "DNS:" + value.lower()


def pki_san(names: t.Sequence[str], addresses: t.Sequence[str]) -> list[str]:
    """The subjectAltName entries of a server's certificate, normalized as
    openssl_csr_info reports them (names in lower case, addresses compressed), sorted."""
    if not isinstance(names, (list, tuple)) or not isinstance(addresses, (list, tuple)):
        raise AnsibleFilterError("pki_san: expects two lists (names, addresses)")
    try:
        entries = {_entry("DNS", str(n)) for n in names} | {_entry("IP", str(a)) for a in addresses}
    except ValueError as error:
        raise AnsibleFilterError("pki_san: %s" % error) from error
    return sorted(entries)


def _normalized(entries: t.Sequence[str]) -> list[str]:
    out = set()
    for entry in entries:
        kind, _sep, value = str(entry).partition(":")
        if kind not in ("DNS", "IP"):
            out.add(str(entry))
            continue
        try:
            out.add(_entry(kind, value))
        except ValueError:
            out.add(str(entry))
    return sorted(out)


def pki_csr_problems(info: t.Mapping[str, t.Any], names: t.Sequence[str], addresses: t.Sequence[str]) -> list[str]:
    """Every way the request differs from a server certificate for these names and addresses
    (empty: sign it)."""
    if not isinstance(info, t.Mapping):
        raise AnsibleFilterError("pki_csr_problems: expects openssl_csr_info's result")
    problems = []
    if info.get("signature_valid") is not True:
        problems.append("its signature does not verify")
    if info.get("public_key_type") != "ECC":
        problems.append("its key is %s, not the EC key the role makes" % info.get("public_key_type"))
    expected_subject = [["commonName", str(names[0])]] if names else []
    if [list(pair) for pair in info.get("subject_ordered") or []] != expected_subject:
        problems.append("its subject is %s, not CN=%s" % (info.get("subject_ordered"), names[0] if names else "?"))
    wanted = pki_san(names, addresses)
    asked = _normalized(info.get("subject_alt_name") or [])
    if asked != wanted:
        extra = sorted(set(asked) - set(wanted))
        missing = sorted(set(wanted) - set(asked))
        problems.append("its names differ from the inventory's (more: %s; missing: %s)" % (extra or "none", missing or "none"))
    if list(info.get("basic_constraints") or []) != ["CA:FALSE"] or info.get("basic_constraints_critical") is not True:
        problems.append("it does not say CA:FALSE (critical)")
    if sorted(info.get("key_usage") or []) != ["Digital Signature", "Key Encipherment"] or info.get("key_usage_critical") is not True:
        problems.append("its key usages are %s (critical: %s)" % (info.get("key_usage"), info.get("key_usage_critical")))
    if list(info.get("extended_key_usage") or []) != ["TLS Web Server Authentication"] or info.get("extended_key_usage_critical"):
        problems.append("its extended key usages are %s, not server authentication alone (not critical)" % (info.get("extended_key_usage"),))
    if info.get("subject_alt_name_critical"):
        problems.append("its subjectAltName is critical")
    others = sorted(set((info.get("extensions_by_oid") or {}).keys()) - _EXTENSIONS)
    if others:
        problems.append("it carries other extensions (%s)" % ", ".join(others))
    return problems


class FilterModule:
    """web2py.deploy.pki filters."""

    def filters(self) -> dict[str, t.Callable]:
        return {"pki_san": pki_san, "pki_csr_problems": pki_csr_problems}
