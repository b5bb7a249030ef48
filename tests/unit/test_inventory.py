"""The inventory model: the shipped lab loads as DESIGN.md describes it, other topologies load,
and every malformed document is refused in one line that names the file and the field."""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ciliumbgp.inventory import (
    TRANSPORTS,
    Inventory,
    InventoryError,
    Reach,
    load_inventory,
    parse_inventory,
)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "lab" / "netns" / "inventory.yaml"
DATA = ROOT / "tests" / "data" / "inventories"


@pytest.fixture(scope="module")
def reference() -> Inventory:
    return load_inventory(REFERENCE)


def test_reference_lab_nodes_match_design(reference: Inventory) -> None:
    nodes = {
        node.name: (str(node.address), node.asn, str(node.pod_cidr)) for node in reference.nodes
    }
    assert nodes == {
        "k8s-ctr": ("192.168.10.100", 65001, "172.20.0.0/24"),
        "k8s-w1": ("192.168.10.101", 65001, "172.20.1.0/24"),
        "k8s-w0": ("192.168.20.100", 65001, "172.20.2.0/24"),
    }
    gateways = {node.name: str(node.gateway) for node in reference.nodes}
    assert gateways == {
        "k8s-ctr": "192.168.10.200",
        "k8s-w1": "192.168.10.200",
        "k8s-w0": "192.168.20.200",
    }


def test_reference_lab_router_has_three_interfaces(reference: Inventory) -> None:
    router = reference.router
    assert (router.name, router.asn) == ("router", 65000)
    assert [(i.name, i.network, str(i.address)) for i in router.interfaces] == [
        ("eth1", "lan1", "192.168.10.200/24"),
        ("eth2", "lan2", "192.168.20.200/24"),
        ("loop1", "client-lan", "10.10.1.200/24"),
    ]


def test_reference_lab_client_sits_behind_the_router(reference: Inventory) -> None:
    (client,) = reference.clients
    assert client.name == "client"
    assert client.address in ipaddress.IPv4Network("10.10.1.0/24")
    assert str(client.address) == "10.10.1.100"
    assert str(client.gateway) == "10.10.1.200"


def test_reference_lab_pool_networks_and_reach(reference: Inventory) -> None:
    assert reference.name == "netns"
    assert reference.source == REFERENCE
    assert reference.lb_pool == ipaddress.IPv4Network("172.16.1.0/24")
    assert {k: str(v) for k, v in reference.networks.items()} == {
        "lan1": "192.168.10.0/24",
        "lan2": "192.168.20.0/24",
        "client-lan": "10.10.1.0/24",
    }
    assert all(host.reach == Reach("netns", {}) for host in reference.hosts)


def test_nodes_can_be_collected_in_sets(reference: Inventory) -> None:
    advertising_nodes = {reference.nodes[0], reference.nodes[2]}
    assert reference.nodes[2] in advertising_nodes


def test_lookups_by_name_and_address(reference: Inventory) -> None:
    assert [h.name for h in reference.hosts] == ["router", "k8s-ctr", "k8s-w1", "k8s-w0", "client"]
    assert reference.host("k8s-w0") is reference.nodes[2]
    node = reference.node_by_address("192.168.10.101")
    assert node is not None
    assert node.name == "k8s-w1"
    assert reference.node_by_address("192.168.10.200") is None, "the router is not a node"
    with pytest.raises(KeyError, match=r"no host 'k8s-w9' in inventory 'netns' \(hosts: router, "):
        reference.host("k8s-w9")


def test_five_node_inventory_loads() -> None:
    inventory = load_inventory(DATA / "five-nodes.yaml")
    assert [(n.name, str(n.address), n.asn) for n in inventory.nodes] == [
        ("node-a", "192.168.31.10", 64601),
        ("node-b", "192.168.31.11", 64602),
        ("node-c", "192.168.32.10", 64603),
        ("node-d", "192.168.33.10", 64604),
        ("node-e", "192.168.33.11", 4200000005),
    ]
    assert len(inventory.router.interfaces) == 4
    assert inventory.lb_pool == ipaddress.IPv4Network("172.16.5.0/24")
    assert all(host.reach.via == "netns" for host in inventory.hosts), "netns is the default"


def test_every_transport_can_be_named_in_reach() -> None:
    inventory = load_inventory(DATA / "remote-reach.yaml")
    assert sorted(host.reach.via for host in inventory.hosts) == sorted(TRANSPORTS)
    assert dict(inventory.router.reach.settings) == {
        "target": "vagrant@192.0.2.10",
        "port": 2222,
        "identity_file": "/keys/router_ed25519",
        "options": ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"],
        "sudo": True,
    }


def test_parse_without_a_file_names_only_the_field() -> None:
    document = yaml.safe_load(REFERENCE.read_text())
    del document["lb_pool"]
    with pytest.raises(InventoryError) as caught:
        parse_inventory(document)
    assert str(caught.value) == "lb_pool: missing"


_DELETE = object()


def _edit(path: str, value: Any = _DELETE) -> Callable[[dict[str, Any]], None]:
    """An edit of the reference document at a dotted path such as ``nodes[1].asn``."""

    def apply(document: dict[str, Any]) -> None:
        keys: list[str | int] = []
        for part in path.split("."):
            name, _, index = part.partition("[")
            keys.append(name)
            if index:
                keys.append(int(index.rstrip("]")))
        parent: Any = document
        for key in keys[:-1]:
            parent = parent[key]
        if value is _DELETE:
            del parent[keys[-1]]
        else:
            parent[keys[-1]] = value

    return apply


def _refusal(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> tuple[Path, str]:
    """Write the reference document with ``edit`` applied; return the file and its refusal."""
    document = copy.deepcopy(yaml.safe_load(REFERENCE.read_text()))
    edit(document)
    path = tmp_path / "inventory.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    return path, str(caught.value)


# (id, edit of the reference document, the message after "<file>: ")
MALFORMED_DOCUMENTS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("missing-node-asn", _edit("nodes[1].asn"), "nodes[1].asn: missing"),
    ("missing-router-asn", _edit("router.asn"), "router.asn: missing"),
    (
        "asn-not-a-number",
        _edit("nodes[0].asn", "65001a"),
        "nodes[0].asn: expected an integer 1..4294967295, got '65001a'",
    ),
    (
        "asn-too-large",
        _edit("nodes[2].asn", 2**32),
        "nodes[2].asn: expected an integer 1..4294967295, got 4294967296",
    ),
    (
        "asn-boolean",
        _edit("router.asn", True),
        "router.asn: expected an integer 1..4294967295, got True",
    ),
    (
        "bad-address",
        _edit("nodes[2].interfaces[0].address", "192.168.20.300/24"),
        "nodes[2].interfaces[0].address: expected an IPv4 address/prefix, got '192.168.20.300/24'",
    ),
    (
        "address-outside-network",
        _edit("nodes[0].interfaces[0].address", "192.168.30.100/24"),
        "nodes[0].interfaces[0].address: 192.168.30.100/24 is not inside lan1 (192.168.10.0/24)",
    ),
    (
        "unknown-network",
        _edit("router.interfaces[1].network", "lan3"),
        "router.interfaces[1].network: unknown network 'lan3' (known: lan1, lan2, client-lan)",
    ),
    (
        "unknown-transport",
        _edit("nodes[1].reach", {"via": "telnet"}),
        "nodes[1].reach.via: expected one of local, netns, ssh, docker, vagrant, got 'telnet'",
    ),
    (
        "missing-ssh-target",
        _edit("router.reach", {"via": "ssh", "port": 22}),
        "router.reach.target: missing (needed for transport 'ssh')",
    ),
    (
        "missing-docker-container",
        _edit("clients[0].reach", {"via": "docker"}),
        "clients[0].reach.container: missing (needed for transport 'docker')",
    ),
    (
        "setting-of-another-transport",
        _edit("router.reach", {"via": "docker", "container": "frr", "port": 22}),
        "router.reach.port: not a setting of transport 'docker'",
    ),
    ("missing-pool", _edit("lb_pool"), "lb_pool: missing"),
    (
        "pool-with-host-bits",
        _edit("lb_pool", "172.16.1.1/24"),
        "lb_pool: expected an IPv4 network like 10.0.0.0/24, got '172.16.1.1/24'",
    ),
    (
        "bad-pod-cidr",
        _edit("nodes[1].pod_cidr", "172.20.1.0/33"),
        "nodes[1].pod_cidr: expected an IPv4 network like 10.0.0.0/24, got '172.20.1.0/33'",
    ),
    (
        "bad-network",
        _edit("networks.lan2", "192.168.20.0/33"),
        "networks.lan2: expected an IPv4 network like 10.0.0.0/24, got '192.168.20.0/33'",
    ),
    (
        "bad-gateway",
        _edit("nodes[0].gateway", "router"),
        "nodes[0].gateway: expected an IPv4 address, got 'router'",
    ),
    ("missing-host-name", _edit("nodes[2].name"), "nodes[2].name: missing"),
    ("missing-interfaces", _edit("clients[0].interfaces"), "clients[0].interfaces: missing"),
    (
        "no-interfaces",
        _edit("nodes[0].interfaces", []),
        "nodes[0].interfaces: at least one interface is needed",
    ),
    ("no-nodes", _edit("nodes", []), "nodes: at least one node is needed"),
    ("nodes-not-a-list", _edit("nodes", {"w1": {}}), "nodes: expected a list, got {'w1': {}}"),
    ("node-not-a-mapping", _edit("nodes[1]", "w1"), "nodes[1]: expected a mapping, got 'w1'"),
    ("missing-name", _edit("name"), "name: missing"),
]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [pytest.param(edit, expected, id=case_id) for case_id, edit, expected in MALFORMED_DOCUMENTS],
)
def test_malformed_document_is_refused_in_one_line(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    path, message = _refusal(tmp_path, edit)
    assert message == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("name: netns\nnodes: [unclosed\n", "line 3 not valid YAML", id="bad-yaml"),
        pytest.param("name: netns\n  router: {}\n", "line 2 not valid YAML", id="bad-indent"),
        pytest.param(
            "- router\n- k8s-ctr\n",
            "top level: expected a mapping, got ['router', 'k8s-ctr']",
            id="a-list",
        ),
        pytest.param("text\n", "top level: expected a mapping, got 'text'", id="a-string"),
        pytest.param("", "top level: expected a mapping, got None", id="empty-file"),
    ],
)
def test_unusable_text_is_refused_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_missing_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value) == f"{path}: cannot read inventory: No such file or directory"


def test_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as caught:
        load_inventory(tmp_path)
    assert str(caught.value) == f"{tmp_path}: cannot read inventory: Is a directory"


def test_binary_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert str(caught.value).startswith(f"{path}: cannot read inventory: ")


@pytest.mark.parametrize(
    ("reach", "expected"),
    [
        pytest.param(
            {"via": "ssh", "target": "core@h", "options": "StrictHostKeyChecking=no"},
            "router.reach.options: expected a list of strings, got 'StrictHostKeyChecking=no'",
            id="options-not-a-list",
        ),
        pytest.param(
            {"via": "ssh", "target": "core@h", "port": "ssh"},
            "router.reach.port: expected a port 1..65535, got 'ssh'",
            id="port-not-a-number",
        ),
        pytest.param(
            {"via": "docker", "container": "frr", "sudo": "no"},
            "router.reach.sudo: expected true or false, got 'no'",
            id="sudo-not-a-boolean",
        ),
        pytest.param(
            {"via": "ssh", "target": "-oProxyCommand=sh"},
            "router.reach.target: expected a name that does not start with '-', "
            "got '-oProxyCommand=sh'",
            id="target-like-an-option",
        ),
    ],
)
def test_reach_settings_are_checked(tmp_path: Path, reach: dict[str, Any], expected: str) -> None:
    path, message = _refusal(tmp_path, _edit("router.reach", reach))
    assert message == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            _edit("nodes[1].name", "k8s-ctr"),
            "nodes[1].name: host name 'k8s-ctr' is already used by nodes[0]",
            id="duplicate-host",
        ),
        pytest.param(
            _edit("clients[0].name", "router"),
            "clients[0].name: host name 'router' is already used by router",
            id="client-named-like-the-router",
        ),
        pytest.param(
            _edit("nodes[1].interfaces[0].address", "192.168.10.100/24"),
            "nodes[1].interfaces[0].address: 192.168.10.100 is already used by nodes[0] (k8s-ctr)",
            id="duplicate-address",
        ),
    ],
)
def test_duplicates_name_the_field(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    path, message = _refusal(tmp_path, edit)
    assert message == f"{path}: {expected}"
