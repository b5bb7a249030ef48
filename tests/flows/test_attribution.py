"""Attributing captured packets to next hops, without a lab."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_ciliumbgp.flows.attribution import (
    EgressPacket,
    FlowTable,
    facing_interface,
    node_facing_interfaces,
    parse_capture,
    parse_neighbours,
)
from pytest_ciliumbgp.flows.scapy_probe import Flow, probe_request
from pytest_ciliumbgp.inventory import load_inventory

INVENTORY = Path(__file__).parents[2] / "lab" / "netns" / "inventory.yaml"
NEIGH = [
    {"dst": "192.168.20.100", "dev": "eth2", "lladdr": "7a:4e:84:1b:96:9a",
     "state": ["REACHABLE"]},
    {"dst": "192.168.10.101", "dev": "eth1", "lladdr": "26:0E:83:97:29:AF",
     "state": ["REACHABLE"]},
    {"dst": "192.168.10.100", "dev": "eth1", "lladdr": "d6:7c:ac:eb:66:0f",
     "state": ["STALE"]},
    {"dst": "192.168.10.7", "dev": "eth1", "state": ["FAILED"]},
]
ONE = Flow("10.10.1.100", 20001, "172.16.1.1", 80)
TWO = Flow("10.10.1.100", 20002, "172.16.1.1", 80)


def packet(flow: Flow, interface: str, mac: str) -> EgressPacket:
    return EgressPacket(flow, interface, mac)


def test_neighbours_are_keyed_by_interface_and_lowercase_mac() -> None:
    neighbours = parse_neighbours(NEIGH)
    assert neighbours[("eth1", "26:0e:83:97:29:af")].address == "192.168.10.101"
    assert len(neighbours) == 3  # the FAILED entry has no MAC


def test_capture_output_parses_into_packets() -> None:
    text = json.dumps([{"flow": ONE.as_list(), "iface": "eth2", "mac": "7A:4E:84:1B:96:9A"}])
    assert parse_capture(text) == [packet(ONE, "eth2", "7a:4e:84:1b:96:9a")]


def test_packets_are_attributed_to_next_hops() -> None:
    table = FlowTable.attribute(
        [packet(ONE, "eth2", "7a:4e:84:1b:96:9a"), packet(ONE, "eth2", "7a:4e:84:1b:96:9a"),
         packet(TWO, "eth1", "d6:7c:ac:eb:66:0f")], parse_neighbours(NEIGH))
    assert table.next_hop(ONE) == "192.168.20.100"
    assert table.flows_per_next_hop() == {"192.168.20.100": 1, "192.168.10.100": 1}
    assert table.packets_per_next_hop()["192.168.20.100"] == 2
    assert not table.split_flows()


def test_a_flow_over_two_next_hops_is_split() -> None:
    table = FlowTable.attribute(
        [packet(ONE, "eth2", "7a:4e:84:1b:96:9a"), packet(ONE, "eth1", "d6:7c:ac:eb:66:0f")],
        parse_neighbours(NEIGH))
    assert table.split_flows() == {ONE: {"192.168.20.100": 1, "192.168.10.100": 1}}


def test_unknown_mac_is_named_by_interface_and_mac() -> None:
    table = FlowTable.attribute([packet(ONE, "eth1", "00:00:00:00:00:01")],
                                parse_neighbours(NEIGH))
    assert table.next_hop(ONE) == "?eth1/00:00:00:00:00:01"


def test_unseen_flows_are_listed() -> None:
    table = FlowTable.of_routes({ONE: "192.168.10.101"})
    assert table.unseen([ONE, TWO]) == [TWO]


def test_render_names_nodes() -> None:
    table = FlowTable.of_routes({ONE: "192.168.10.101"})
    assert table.render({"192.168.10.101": "k8s-w1"}) == (
        "10.10.1.100:20001 -> 172.16.1.1:80 -> 192.168.10.101 (k8s-w1) x1\n")


def test_router_interfaces_from_the_inventory() -> None:
    inventory = load_inventory(INVENTORY)
    assert node_facing_interfaces(inventory) == ["eth1", "eth2"]
    assert facing_interface(inventory, inventory.clients[0]).name == "loop1"


def test_probe_request_round_trips_flows() -> None:
    request = json.loads(probe_request([ONE], 3))
    assert [Flow.from_list(values) for values in request["flows"]] == [ONE]
    assert request["packets_per_flow"] == 3
