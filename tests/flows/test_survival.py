"""Joining what the client saw with where the router sent each connection (no lab)."""

from __future__ import annotations

from pytest_ciliumbgp.flows.connections import HeldConnection
from pytest_ciliumbgp.flows.next_hop_trails import Trails
from pytest_ciliumbgp.flows.scapy_probe import Flow
from pytest_ciliumbgp.flows.survival import Tally, join, render

CLIENT, LB = "10.10.1.100", "172.16.1.1"
CTR, W1, W0 = "192.168.10.100", "192.168.10.101", "192.168.20.100"
NAMES = {CTR: "k8s-ctr", W1: "k8s-w1", W0: "k8s-w0"}
STEPS = ("before", "added", "removed")


def flow(port: int) -> Flow:
    return Flow(CLIENT, port, LB, 80)


def held(index: int, port: int, error: str = "") -> HeldConnection:
    return HeldConnection(index, port, answers=9, pods=("web-1",), error=error,
                          detail="[Errno 104] Connection reset by peer" if error else "",
                          step="added" if error else "")


TRAILS = Trails({
    flow(40001): [("before", CTR), ("added", CTR), ("removed", CTR)],  # kept, survived
    flow(40002): [("before", W0), ("added", W1)],  # moved, broke
    flow(40003): [("before", CTR), ("added", CTR)],  # kept, broke: against the budget
    flow(40004): [("before", W0), ("added", W0), ("added", CTR)],  # moved, survived
})
HELD = [held(0, 40001), held(1, 40002, "reset"), held(2, 40003, "timeout"), held(3, 40004),
        held(4, 40005)]  # the last one never seen on the router


def test_each_connection_gets_its_nodes_per_step() -> None:
    survivals = join(HELD, TRAILS, CLIENT, LB, 80, NAMES)
    assert [s.flow for s in survivals] == [flow(p) for p in range(40001, 40006)]
    assert survivals[1].nodes == {"before": ("k8s-w0",), "added": ("k8s-w1",)}
    assert survivals[3].nodes == {"before": ("k8s-w0",), "added": ("k8s-w0", "k8s-ctr")}
    assert [(s.seen, s.changed) for s in survivals] == [
        (True, False), (True, True), (True, False), (True, True), (False, False)]


def test_only_a_broken_connection_that_kept_its_node_counts_against_the_budget() -> None:
    survivals = join(HELD, TRAILS, CLIENT, LB, 80, NAMES)
    assert [s.held.connection for s in survivals if s.counts_against_budget] == [2]
    assert Tally.of(survivals) == Tally(connections=5, kept=2, kept_broke=1, changed=2,
                                        changed_broke=1, not_seen=1)
    assert Tally.of(survivals).render() == (
        "5 connections: 2 kept their next hop (1 broke), 2 changed it (1 broke), "
        "1 not seen on the router\n")


def test_the_table_has_a_row_per_connection_and_a_column_per_step() -> None:
    table = render(join(HELD, TRAILS, CLIENT, LB, 80, NAMES), STEPS).splitlines()
    assert table[0].split() == ["conn", "local", "port", *STEPS, "next", "hop", "outcome"]
    assert table[2].split()[:6] == ["1", "40002", "k8s-w0", "k8s-w1", "-", "changed"]
    assert table[2].endswith("broke: reset in step 'added' after 9 answers "
                             "([Errno 104] Connection reset by peer)")
    assert table[4].split()[3:6] == ["k8s-w0", ">", "k8s-ctr"]
    assert table[5].split()[:6] == ["4", "40005", "-", "-", "-", "not"]
    assert table[1].endswith("survived (9 answers)")
