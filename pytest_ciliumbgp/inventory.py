"""The lab inventory: which hosts a lab has, how they are wired and how each is reached.

An inventory is data (one YAML file per lab under ``lab/``); nothing in the suite hard-codes a
node, an address or an ASN. Loading validates the whole file and reports the first problem as
one line that names the file and the field, e.g.
``lab/netns/inventory.yaml: nodes[1].asn: expected an integer 1..4294967295, got 'x'``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TRANSPORTS = ("local", "netns", "ssh", "docker", "vagrant")
_REACH_FIELDS = {
    "local": set(),
    "netns": {"namespace"},
    "ssh": {
        "target", "user", "port", "identity_file", "config_file", "options", "sudo", "python",
    },
    "docker": {"container", "sudo", "python"},
    "vagrant": {"machine", "cwd", "sudo", "python"},
}
_REQUIRED_REACH_FIELDS = {"ssh": {"target"}, "docker": {"container"}, "vagrant": {"machine"}}
#: What ``ssh -o`` takes: a keyword, then ``=`` or blanks, then a value.
_SSH_OPTION = re.compile(r"[A-Za-z][A-Za-z0-9]*(\s*=\s*|\s+)\S.*")


class InventoryError(ValueError):
    """An inventory file that cannot be used; the message is one line naming file and field."""


@dataclass(frozen=True)
class Reach:
    """How a host is reached: ``via`` names the transport, the rest are its settings."""

    via: str
    # Not hashed (a dict cannot be), so that hosts can be kept in sets and used as keys.
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Interface:
    name: str
    network: str
    address: ipaddress.IPv4Interface

    @property
    def ip(self) -> ipaddress.IPv4Address:
        return self.address.ip


@dataclass(frozen=True)
class Host:
    name: str
    reach: Reach
    interfaces: tuple[Interface, ...]
    gateway: ipaddress.IPv4Address | None = None

    @property
    def address(self) -> ipaddress.IPv4Address:
        """The host's primary address: that of its first interface."""
        return self.interfaces[0].ip


@dataclass(frozen=True)
class Router(Host):
    asn: int = 0


@dataclass(frozen=True)
class Node(Host):
    asn: int = 0
    pod_cidr: ipaddress.IPv4Network | None = None
    control_plane: bool = False


@dataclass(frozen=True)
class Inventory:
    name: str
    source: Path | None
    networks: Mapping[str, ipaddress.IPv4Network]
    router: Router
    nodes: tuple[Node, ...]
    clients: tuple[Host, ...]
    lb_pool: ipaddress.IPv4Network

    @property
    def hosts(self) -> tuple[Host, ...]:
        return (self.router, *self.nodes, *self.clients)

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts)
        raise KeyError(f"no host {name!r} in inventory {self.name!r} (hosts: {known})")

    def node_by_address(self, address: str) -> Node | None:
        for node in self.nodes:
            if any(str(i.ip) == address for i in node.interfaces):
                return node
        return None


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file; raise :class:`InventoryError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise InventoryError(f"{path}: cannot read inventory: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise InventoryError(
            f"{path}: cannot read inventory: not UTF-8 text (byte {err.start})"
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InventoryError(f"{path}:{where} not valid YAML") from None
    return parse_inventory(document, source=path)


def parse_inventory(document: Any, *, source: Path | None = None) -> Inventory:
    """Validate an already-parsed inventory document."""
    return _Parser(source).inventory(document)


class _Parser:
    def __init__(self, source: Path | None) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> InventoryError:
        prefix = f"{self.source}: " if self.source else ""
        return InventoryError(f"{prefix}{where}: {problem}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping, got {_show(value)}")
        return value

    def required(self, doc: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in doc or doc[key] is None:
            raise self.fail(f"{where}.{key}" if where else key, "missing")
        return doc[key]

    def name(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty name, got {_show(value)}")
        return value

    def asn(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**32 - 1:
            raise self.fail(where, f"expected an integer 1..4294967295, got {_show(value)}")
        return value

    def network(self, value: Any, where: str) -> ipaddress.IPv4Network:
        try:
            return ipaddress.IPv4Network(str(value), strict=True)
        except ValueError:
            raise self.fail(
                where, f"expected an IPv4 network like 10.0.0.0/24, got {_show(value)}"
            ) from None

    def address(self, value: Any, where: str) -> ipaddress.IPv4Address:
        try:
            return ipaddress.IPv4Address(str(value))
        except ValueError:
            raise self.fail(where, f"expected an IPv4 address, got {_show(value)}") from None

    def inventory(self, document: Any) -> Inventory:
        doc = self.mapping(document, "top level")
        name = self.name(self.required(doc, "name", ""), "name")
        networks = {
            self.name(key, f"networks.{key}"): self.network(cidr, f"networks.{key}")
            for key, cidr in self.mapping(self.required(doc, "networks", ""), "networks").items()
        }
        router_doc = self.mapping(self.required(doc, "router", ""), "router")
        router = Router(
            **self.host_fields(router_doc, "router", networks),
            asn=self.asn(self.required(router_doc, "asn", "router"), "router.asn"),
        )
        nodes = tuple(
            self.node(item, f"nodes[{index}]", networks)
            for index, item in enumerate(self.sequence(self.required(doc, "nodes", ""), "nodes"))
        )
        if not nodes:
            raise self.fail("nodes", "at least one node is needed")
        clients = tuple(
            Host(**self.host_fields(self.mapping(item, f"clients[{i}]"), f"clients[{i}]", networks))
            for i, item in enumerate(self.sequence(doc.get("clients", []), "clients"))
        )
        lb_pool = self.network(self.required(doc, "lb_pool", ""), "lb_pool")
        inventory = Inventory(name, self.source, networks, router, nodes, clients, lb_pool)
        self.check_unique(inventory)
        return inventory

    def sequence(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {_show(value)}")
        return value

    def node(self, value: Any, where: str, networks: Mapping[str, Any]) -> Node:
        doc = self.mapping(value, where)
        pod_cidr = doc.get("pod_cidr")
        return Node(
            **self.host_fields(doc, where, networks),
            asn=self.asn(self.required(doc, "asn", where), f"{where}.asn"),
            pod_cidr=self.network(pod_cidr, f"{where}.pod_cidr") if pod_cidr else None,
            control_plane=self.flag(doc.get("control_plane", False), f"{where}.control_plane"),
        )

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {_show(value)}")
        return value

    def host_fields(
        self, doc: Mapping[str, Any], where: str, networks: Mapping[str, Any]
    ) -> dict[str, Any]:
        interfaces = tuple(
            self.interface(item, f"{where}.interfaces[{index}]", networks)
            for index, item in enumerate(
                self.sequence(self.required(doc, "interfaces", where), f"{where}.interfaces")
            )
        )
        if not interfaces:
            raise self.fail(f"{where}.interfaces", "at least one interface is needed")
        gateway = doc.get("gateway")
        return {
            "name": self.name(self.required(doc, "name", where), f"{where}.name"),
            "reach": self.reach(doc.get("reach", {"via": "netns"}), f"{where}.reach"),
            "interfaces": interfaces,
            "gateway": self.address(gateway, f"{where}.gateway") if gateway else None,
        }

    def interface(self, value: Any, where: str, networks: Mapping[str, Any]) -> Interface:
        doc = self.mapping(value, where)
        network = self.name(self.required(doc, "network", where), f"{where}.network")
        if network not in networks:
            known = ", ".join(networks) or "none"
            raise self.fail(f"{where}.network", f"unknown network {network!r} (known: {known})")
        raw = self.required(doc, "address", where)
        try:
            address = ipaddress.IPv4Interface(str(raw))
        except ValueError:
            raise self.fail(
                f"{where}.address", f"expected an IPv4 address/prefix, got {_show(raw)}"
            ) from None
        if address.ip not in networks[network]:
            raise self.fail(
                f"{where}.address", f"{address} is not inside {network} ({networks[network]})"
            )
        return Interface(
            self.name(self.required(doc, "name", where), f"{where}.name"), network, address
        )

    def reach(self, value: Any, where: str) -> Reach:
        doc = self.mapping(value, where)
        via = doc.get("via")
        if via not in TRANSPORTS:
            raise self.fail(
                f"{where}.via", f"expected one of {', '.join(TRANSPORTS)}, got {_show(via)}"
            )
        settings = {k: v for k, v in doc.items() if k != "via"}
        unknown = set(settings) - _REACH_FIELDS[via]
        if unknown:
            raise self.fail(f"{where}.{sorted(unknown)[0]}", f"not a setting of transport {via!r}")
        for key in _REQUIRED_REACH_FIELDS.get(via, set()):
            if not settings.get(key):
                raise self.fail(f"{where}.{key}", f"missing (needed for transport {via!r})")
        for key, value in settings.items():
            self.reach_setting(key, value, f"{where}.{key}")
        if "@" in str(settings.get("target", "")) and settings.get("user"):
            raise self.fail(
                f"{where}.user", f"target {settings['target']!r} already names the user"
            )
        return Reach(via, settings)

    def reach_setting(self, key: str, value: Any, where: str) -> None:
        if key == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise self.fail(where, f"expected a port 1..65535, got {_show(value)}")
        elif key == "sudo":
            if not isinstance(value, bool):
                raise self.fail(where, f"expected true or false, got {_show(value)}")
        elif key == "options":
            if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
                raise self.fail(where, f"expected a list of strings, got {_show(value)}")
            for index, option in enumerate(value):
                if not _SSH_OPTION.fullmatch(option):
                    raise self.fail(
                        f"{where}[{index}]",
                        f"expected an ssh option like ProxyJump=bastion, got {_show(option)}",
                    )
        elif not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {_show(value)}")
        elif value.startswith("-"):
            # ssh, docker and vagrant would read it as one of their options.
            raise self.fail(
                where, f"expected a name that does not start with '-', got {_show(value)}"
            )

    def check_unique(self, inventory: Inventory) -> None:
        places: list[tuple[str, Host]] = [("router", inventory.router)]
        places += [(f"nodes[{i}]", node) for i, node in enumerate(inventory.nodes)]
        places += [(f"clients[{i}]", client) for i, client in enumerate(inventory.clients)]
        names: dict[str, str] = {}
        addresses: dict[ipaddress.IPv4Address, tuple[str, str]] = {}
        for where, host in places:
            first = names.setdefault(host.name, where)
            if first != where:
                raise self.fail(
                    f"{where}.name", f"host name {host.name!r} is already used by {first}"
                )
            for index, interface in enumerate(host.interfaces):
                field_path = f"{where}.interfaces[{index}].address"
                owner = addresses.setdefault(interface.ip, (field_path, f"{where} ({host.name})"))
                if owner[0] != field_path:
                    raise self.fail(field_path, f"{interface.ip} is already used by {owner[1]}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
