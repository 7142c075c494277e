"""Unit tests of the firewall's rules worked out from the inventory's groups
(web2py.deploy.firewall_rules), and of its table of the roles' default ports."""
from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.web2py.deploy.plugins.filter.firewall import firewall_rules

ROLES = pathlib.Path(__file__).resolve().parents[4] / "roles"
WEB2PY_GROUPS = ["web2py_nginx_uwsgi", "web2py_apache_wsgi", "web2py_apache_proxy", "web2py_lighttpd_fcgi",
                 "web2py_standalone", "web2py_scheduler"]
GROUPS = {
    "all": ["lb", "app1", "app2", "db", "replica", "worker"],
    "haproxy": ["lb"],
    "web2py_nginx_uwsgi": ["app1", "app2"],
    "postgres": ["db"],
    "postgres_replicas": ["replica"],
    "redis": ["db"],
    "web2py_scheduler": ["worker"],
}
ADDRESSES = {"lb": ["10.0.0.2", "fd00::2"], "app1": ["10.0.0.3"], "app2": ["10.0.0.4", "fd00::4"],
             "db": ["10.0.0.5"], "replica": ["10.0.0.6"], "worker": ["10.0.0.7"]}


def rules(services, backend_groups=("web2py_nginx_uwsgi",), ssh_sources=(), public=(), extra=(), addresses=None, groups=None):
    return firewall_rules(list(services), groups or GROUPS, ADDRESSES if addresses is None else addresses,
                          list(backend_groups), WEB2PY_GROUPS, 22, list(ssh_sources), list(public), list(extra))


def by_port(result):
    return {(r["proto"], r["port"]): r for r in result}


def test_ssh_from_anywhere_by_default_and_first():
    result = rules([])
    assert result == [{"name": "ssh", "proto": "tcp", "port": 22, "any": True, "v4": [], "v6": []}]


def test_ssh_sources_split_by_family():
    result = rules([], ssh_sources=["192.0.2.0/24", "2001:db8::/32"])
    assert result[0] == {"name": "ssh", "proto": "tcp", "port": 22, "any": False, "v4": ["192.0.2.0/24"], "v6": ["2001:db8::/32"]}


def test_database_from_the_web2py_hosts_and_replicas_only():
    result = by_port(rules([{"group": "postgres", "ports": [5432], "from": "web2py+replicas"},
                            {"group": "redis", "ports": [6379], "from": "web2py"}]))
    assert result[("tcp", 5432)]["v4"] == ["10.0.0.3", "10.0.0.4", "10.0.0.7", "10.0.0.6"]
    assert result[("tcp", 5432)]["v6"] == ["fd00::4"]
    assert result[("tcp", 6379)]["v4"] == ["10.0.0.3", "10.0.0.4", "10.0.0.7"]
    assert not result[("tcp", 6379)]["any"]
    assert "10.0.0.2" not in result[("tcp", 5432)]["v4"]  # the balancer is not let in


def test_app_host_behind_a_balancer_takes_the_balancers_only():
    result = by_port(rules([{"group": "web2py_nginx_uwsgi", "ports": [80, 443], "from": "frontend"}]))
    assert result[("tcp", 80)]["v4"] == ["10.0.0.2"] and result[("tcp", 80)]["v6"] == ["fd00::2"]
    assert not result[("tcp", 443)]["any"]


def test_front_end_without_a_balancer_is_public():
    result = by_port(rules([{"group": "web2py_apache_wsgi", "ports": [80], "from": "frontend"}]))
    assert result[("tcp", 80)]["any"]
    limited = by_port(rules([{"group": "web2py_apache_wsgi", "ports": [80], "from": "frontend"}], public=["198.51.100.0/24"]))
    assert limited[("tcp", 80)]["v4"] == ["198.51.100.0/24"] and not limited[("tcp", 80)]["any"]


def test_no_source_host_lets_nobody_in():
    groups = dict(GROUPS, web2py_nginx_uwsgi=[], web2py_scheduler=[])
    result = by_port(rules([{"group": "redis", "ports": [6379], "from": "web2py"}], groups=groups))
    assert result[("tcp", 6379)] == {"name": "redis", "proto": "tcp", "port": 6379, "any": False, "v4": [], "v6": []}


def test_a_source_host_without_an_address_fails_naming_it():
    addresses = dict(ADDRESSES, worker=[""])
    with pytest.raises(AnsibleFilterError, match="no address for worker"):
        rules([{"group": "redis", "ports": [6379], "from": "web2py"}], addresses=addresses)


def test_shared_port_unions_sources_and_any_wins():
    result = rules([{"group": "postgres", "ports": [5432], "from": "web2py"}],
                   extra=[{"name": "ops", "port": 5432, "sources": ["192.0.2.9"]}, {"name": "all", "port": 5432}])
    rule = by_port(result)[("tcp", 5432)]
    assert rule["any"] and rule["name"] == "postgres, ops, all"


def test_extra_rules_udp_and_checks():
    result = by_port(rules([], extra=[{"name": "dns", "port": 53, "proto": "udp", "sources": ["10.0.0.0/8"]}]))
    assert result[("udp", 53)]["v4"] == ["10.0.0.0/8"]
    with pytest.raises(AnsibleFilterError, match="tcp or udp"):
        rules([], extra=[{"name": "x", "port": 53, "proto": "sctp"}])
    with pytest.raises(AnsibleFilterError, match="1-65535"):
        rules([], extra=[{"name": "x", "port": 70000}])
    with pytest.raises(AnsibleFilterError, match="1-65535"):
        rules([], extra=[{"name": "x", "port": True}])
    with pytest.raises(AnsibleFilterError, match="not an IP address or network"):
        rules([], extra=[{"name": "x", "port": 1, "sources": ["10.0.0.1/8"]}])  # host bits set
    with pytest.raises(AnsibleFilterError, match="not an IP address or network"):
        rules([], ssh_sources=["10.0.0.1\n"])


def test_unknown_source_kind_fails():
    with pytest.raises(AnsibleFilterError, match="unknown source kind"):
        rules([{"group": "redis", "ports": [6379], "from": "everyone"}])


def test_default_ports_are_the_roles_own():
    """vars/main.yml's __firewall_default_ports repeats the roles' defaults (the firewall's play
    does not load those roles): each must equal the default of the role that owns it."""
    ports = yaml.safe_load((ROLES / "firewall" / "vars" / "main.yml").read_text())["__firewall_default_ports"]
    owners = {"haproxy": "haproxy", "nginx_uwsgi": "nginx_uwsgi", "apache_wsgi": "apache_wsgi", "apache_proxy": "apache_proxy",
              "lighttpd_fcgi": "lighttpd_fcgi", "web2py_server": "web2py_server", "postgres": "postgres", "redis": "redis",
              "memcached": "memcached", "shared_storage": "shared_storage"}
    for name, value in ports.items():
        role = next(r for prefix, r in owners.items() if name.startswith(prefix + "_"))
        defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
        assert defaults[name] == value, (name, role)
    services = yaml.safe_load((ROLES / "firewall" / "vars" / "main.yml").read_text())["__firewall_services"]
    assert {p for s in services for p in s["ports"]} <= set(ports)
