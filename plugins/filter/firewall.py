# -*- coding: utf-8 -*-
# Copyright (c) web2py.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall's rules for one host, worked out from the inventory's groups.

``firewall_rules`` takes the services of the groups the host is in (each with its ports and who
may reach them: anyone, the balancers in front of it, the hosts running web2py) and returns one
rule per TCP/UDP port with the IPv4 and IPv6 sources allowed, or ``any`` for anyone. A port two
services share gets the union of their sources. A service whose sources are hosts but none of
them exists yet gets a rule with no source (nothing is let in): the firewall fails closed.
"""

from __future__ import annotations

import ipaddress
import typing as t

from ansible.errors import AnsibleFilterError

FROM = ("public", "frontend", "web2py", "web2py+replicas")


def _source(value: str, variable: str) -> t.Tuple[int, str]:
    try:
        network = ipaddress.ip_network(value, strict=True) if "/" in value else ipaddress.ip_address(value)
    except ValueError as error:
        raise AnsibleFilterError("%s: %r is not an IP address or network (%s)" % (variable, value, error))
    return network.version, str(network)


class _Rule:
    def __init__(self, name: str, proto: str, port: int) -> None:
        self.names = [name]
        self.proto = proto
        self.port = port
        self.any = False
        self.v4: t.List[str] = []
        self.v6: t.List[str] = []

    def allow(self, sources: t.Optional[t.Sequence[t.Tuple[int, str]]]) -> None:
        if sources is None:
            self.any = True
            return
        for version, value in sources:
            bucket = self.v4 if version == 4 else self.v6
            if value not in bucket:
                bucket.append(value)

    def result(self) -> t.Dict[str, t.Any]:
        return {"name": ", ".join(self.names), "proto": self.proto, "port": self.port, "any": self.any,
                "v4": [] if self.any else self.v4, "v6": [] if self.any else self.v6}


def _hosts_sources(hosts: t.Iterable[str], addresses: t.Mapping[str, t.Sequence[str]]) -> t.List[t.Tuple[int, str]]:
    out = []
    for host in hosts:
        found = [a for a in addresses.get(host) or [] if a]
        if not found:
            raise AnsibleFilterError(
                "firewall: no address for %s (its facts were not gathered, and it sets no firewall_addresses): "
                "the hosts allowed in must be known" % host)
        out.extend(_source(a, "firewall_addresses of %s" % host) for a in found)
    return out


def firewall_rules(services: t.Sequence[t.Mapping[str, t.Any]], groups: t.Mapping[str, t.Sequence[str]],
                   addresses: t.Mapping[str, t.Sequence[str]], backend_groups: t.Sequence[str],
                   web2py_groups: t.Sequence[str], ssh_port: int, ssh_sources: t.Sequence[str],
                   public_sources: t.Sequence[str], extra_rules: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
    """The host's rules: SSH first, then each service's ports, then firewall_extra_rules.

    services: [{group, ports: [int], from}] for the groups the host is in; groups: the
    inventory's groups; addresses: host -> its addresses; backend_groups: the groups the
    balancers send requests to; web2py_groups: the groups whose hosts run web2py.
    """
    rules: t.Dict[t.Tuple[str, int], _Rule] = {}

    def rule(name: str, proto: str, port: t.Any, sources: t.Optional[t.List[t.Tuple[int, str]]]) -> None:
        try:
            number = int(port)
        except (TypeError, ValueError):
            number = 0
        if isinstance(port, bool) or not 1 <= number <= 65535:
            raise AnsibleFilterError("firewall: the port of %s must be 1-65535, not %r" % (name, port))
        key = (proto, number)
        if key not in rules:
            rules[key] = _Rule(name, proto, number)
        elif name not in rules[key].names:
            rules[key].names.append(name)
        rules[key].allow(sources)

    def cidrs(values: t.Sequence[str], variable: str) -> t.Optional[t.List[t.Tuple[int, str]]]:
        return [_source(v, variable) for v in values] if values else None

    rule("ssh", "tcp", ssh_port, cidrs(ssh_sources, "firewall_ssh_sources"))
    public = cidrs(public_sources, "firewall_public_sources")
    web2py_hosts = sorted({h for g in web2py_groups for h in groups.get(g) or []})
    for service in services:
        kind = service.get("from")
        if kind not in FROM:
            raise AnsibleFilterError("firewall: unknown source kind %r for group %s" % (kind, service.get("group")))
        if kind == "public" or (kind == "frontend" and service["group"] not in backend_groups):
            sources = public
        elif kind == "frontend":
            sources = _hosts_sources(groups.get("haproxy") or [], addresses)
        else:
            hosts = list(web2py_hosts)
            if kind == "web2py+replicas":
                hosts += [h for h in groups.get("postgres_replicas") or [] if h not in hosts]
            sources = _hosts_sources(hosts, addresses)
        for port in service["ports"]:
            rule(service["group"], "tcp", port, sources)
    for index, extra in enumerate(extra_rules):
        name = extra.get("name") or "firewall_extra_rules[%d]" % index
        proto = extra.get("proto", "tcp")
        if proto not in ("tcp", "udp"):
            raise AnsibleFilterError("firewall_extra_rules[%d].proto must be tcp or udp, not %r" % (index, proto))
        rule(name, proto, extra.get("port"), cidrs(extra.get("sources") or [], "firewall_extra_rules[%d].sources" % index))
    return [r.result() for r in rules.values()]


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return {"firewall_rules": firewall_rules}
