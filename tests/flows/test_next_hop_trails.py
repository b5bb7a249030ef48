"""Each connection's next hops, step by step, from packets captured on the router (no router)."""

from __future__ import annotations

import json
import sys
from ipaddress import IPv4Network

from pytest_ciliumbgp.flows.attribution import parse_neighbours
from pytest_ciliumbgp.flows.next_hop_trails import (
    StepCapture,
    StepPacket,
    Trails,
    parse_step_capture,
)
from pytest_ciliumbgp.flows.scapy_probe import Flow
from pytest_ciliumbgp.probes import egress_capture
from pytest_ciliumbgp.transport import NetnsTransport

CTR, W1 = "192.168.10.100", "192.168.10.101"
CTR_MAC, W1_MAC = "d6:7c:ac:eb:66:0f", "26:0e:83:97:29:af"
NEIGHBOURS = parse_neighbours([{"dst": CTR, "dev": "eth1", "lladdr": CTR_MAC},
                               {"dst": W1, "dev": "eth1", "lladdr": W1_MAC}])
FLOW = Flow("10.10.1.100", 40001, "172.16.1.1", 80)
OTHER = Flow("10.10.1.100", 40002, "172.16.1.1", 80)
BEFORE, ADDED = "backends on k8s-ctr", "backend added on k8s-w1"


def sent(mac: str, seq: int, length: int, when: float, *, step: str = BEFORE,
         flow: Flow = FLOW, syn: bool = False) -> StepPacket:
    return StepPacket(flow, "eth1", mac, step, when, seq, length, syn)


def test_capture_output_parses_into_packets() -> None:
    text = json.dumps([{"flow": FLOW.as_list(), "iface": "eth1", "mac": CTR_MAC.upper(),
                        "step": BEFORE, "time": 1.5, "seq": 7, "length": 60, "syn": False}])
    assert parse_step_capture(text) == [sent(CTR_MAC, 7, 60, 1.5)]


def test_a_connection_that_stays_has_one_next_hop_per_step() -> None:
    trails = Trails.attribute([
        sent(CTR_MAC, 100, 0, 0.1, syn=True),
        sent(CTR_MAC, 101, 60, 0.2),
        sent(CTR_MAC, 161, 0, 0.3),  # the ACK of the answer
        sent(CTR_MAC, 161, 60, 1.2, step=ADDED),
    ], NEIGHBOURS)
    assert trails.by_step(FLOW) == {BEFORE: [CTR], ADDED: [CTR]}


def test_a_moved_connection_shows_both_next_hops_in_order() -> None:
    trails = Trails.attribute([
        sent(CTR_MAC, 101, 60, 0.2),
        sent(W1_MAC, 161, 60, 1.2, step=ADDED),
        sent(CTR_MAC, 221, 60, 1.4, step=ADDED),
    ], NEIGHBOURS)
    assert trails.by_step(FLOW) == {BEFORE: [CTR], ADDED: [W1, CTR]}


def test_a_bare_ack_to_another_node_is_a_move() -> None:
    # An ACK alone reaching a node without the connection's conntrack entry resets it.
    trails = Trails.attribute([sent(CTR_MAC, 101, 60, 0.2), sent(W1_MAC, 161, 0, 1.2,
                                                                  step=ADDED)], NEIGHBOURS)
    assert trails.by_step(FLOW)[ADDED] == [W1]


def test_retransmissions_do_not_move_a_connection() -> None:
    trails = Trails.attribute([
        sent(CTR_MAC, 100, 0, 0.0, syn=True),
        sent(W1_MAC, 100, 0, 0.9, syn=True),  # the SYN again
        sent(CTR_MAC, 101, 60, 1.0),
        sent(W1_MAC, 101, 60, 1.3),  # the same data again
        sent(W1_MAC, 131, 30, 1.5),  # its second half again
    ], NEIGHBOURS)
    assert trails.by_step(FLOW) == {BEFORE: [CTR]}


def test_new_data_after_a_retransmission_counts() -> None:
    trails = Trails.attribute([sent(CTR_MAC, 101, 60, 1.0), sent(W1_MAC, 101, 60, 1.3),
                               sent(W1_MAC, 161, 60, 1.6)], NEIGHBOURS)
    assert trails.by_step(FLOW) == {BEFORE: [CTR, W1]}


def test_sequence_numbers_wrap() -> None:
    top = (1 << 32) - 30
    trails = Trails.attribute([sent(CTR_MAC, top, 60, 1.0), sent(W1_MAC, top, 60, 1.1),
                               sent(W1_MAC, 30, 60, 1.2)], NEIGHBOURS)
    assert trails.hops[FLOW] == [(BEFORE, CTR), (BEFORE, W1)]


def test_packets_are_taken_in_capture_time_order() -> None:
    # Two sniffed interfaces hand their packets over out of order.
    trails = Trails.attribute([sent(W1_MAC, 161, 60, 2.0, step=ADDED),
                               sent(CTR_MAC, 101, 60, 1.0)], NEIGHBOURS)
    assert trails.hops[FLOW] == [(BEFORE, CTR), (ADDED, W1)]


def test_flows_are_kept_apart_and_unknown_macs_named() -> None:
    trails = Trails.attribute([sent(CTR_MAC, 101, 60, 1.0),
                               sent("02:00:00:00:00:01", 5, 60, 1.1, flow=OTHER)], NEIGHBOURS)
    assert trails.by_step(FLOW) == {BEFORE: [CTR]}
    assert trails.by_step(OTHER) == {BEFORE: ["?eth1/02:00:00:00:00:01"]}
    assert trails.by_step(Flow("10.10.1.100", 1, "172.16.1.1", 80)) == {}


def test_destinations_may_be_a_pool_slice() -> None:
    assert egress_capture.networks(["172.16.1.0/28", "172.16.1.17"]) == [
        IPv4Network("172.16.1.0/28"), IPv4Network("172.16.1.17/32")]


def test_the_capture_runs_in_the_router_namespace_with_its_arguments() -> None:
    capture = StepCapture(NetnsTransport("lab-router"), ["172.16.1.0/28"], ["eth1", "eth2"],
                          step="backends on k8s-ctr", max_seconds=60)
    argv = capture.program.argv
    assert argv[:5] == ["ip", "netns", "exec", "lab-router", sys.executable]
    assert argv[5] == egress_capture.__file__
    assert argv[6:] == ["--step", "backends on k8s-ctr", "--max-seconds", "60",
                        "--dst", "172.16.1.0/28", "--iface", "eth1", "--iface", "eth2"]
