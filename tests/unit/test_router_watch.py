"""What the router did with a node's path while its agent restarted, read from FRR's JSON: the
session's graceful restart, stale paths, and a timeline that says when a path went and came."""

from __future__ import annotations

from pytest_ciliumbgp.disruption.router_watch import (
    Sample,
    Timeline,
    parse_paths,
    parse_session,
)

W1, W0 = "192.168.10.101", "192.168.20.100"


def neighbor(state: str, graceful: str) -> dict[str, object]:
    # the keys FRR 8.4 gives in ``show bgp neighbors <ip> json`` (trimmed)
    return {W1: {"remoteAs": 65001, "bgpState": state,
                 "neighborCapabilities": {"4byteAs": "advertisedAndReceived",
                                          "gracefulRestart": graceful}}}


def test_a_session_negotiated_graceful_restart_when_both_sides_advertised_it() -> None:
    found = parse_session(neighbor("Established", "advertisedAndReceived"), W1)
    assert found is not None
    assert (found.established, found.graceful_restart) == (True, True)


def test_a_capability_only_the_router_advertised_is_not_negotiated() -> None:
    found = parse_session(neighbor("Active", "advertised"), W1)
    assert found is not None
    assert (found.established, found.graceful_restart) == (False, False)


def test_an_unknown_neighbor_has_no_session() -> None:
    assert parse_session({}, W1) is None
    assert parse_session(neighbor("Established", "advertisedAndReceived"), W0) is None


def test_paths_by_next_hop_with_their_stale_mark() -> None:
    doc = {"prefix": "172.16.1.1/32", "paths": [
        {"valid": True, "stale": True, "nexthops": [{"ip": W1, "afi": "ipv4", "used": True}],
         "peer": {"peerId": W1}},
        {"valid": True, "nexthops": [{"ip": W0}], "peer": {"peerId": W0}},
        {"valid": True, "peer": {"peerId": "192.168.10.100"}},
    ]}
    assert parse_paths(doc) == {W1: True, W0: False, "192.168.10.100": False}
    assert parse_paths({}) == {}


def timeline(*samples: tuple[float, dict[str, bool], set[str]]) -> Timeline:
    return Timeline("172.16.1.1/32", tuple(Sample(at, paths, frozenset(fib))
                                           for at, paths, fib in samples))


KEPT = timeline((0.0, {W1: False, W0: False}, {W1, W0}),
                (1.0, {W1: True, W0: False}, {W1, W0}),
                (2.0, {W1: False, W0: False}, {W1, W0}))
DROPPED = timeline((0.0, {W1: False, W0: False}, {W1, W0}),
                   (1.0, {W0: False}, {W0}),
                   (2.0, {W0: False}, {W0}),
                   (3.0, {W1: False, W0: False}, {W1, W0}))


def test_a_path_kept_stale_never_went() -> None:
    assert KEPT.first_without(W1) is None
    assert KEPT.missing_span(W1) is None
    assert KEPT.ever_stale(W1)
    assert not KEPT.ever_stale(W0)


def test_a_dropped_path_went_and_came_back() -> None:
    gone = DROPPED.first_without(W1)
    assert gone is not None
    assert gone.at_s == 1.0
    assert DROPPED.missing_span(W1) == (1.0, 3.0)
    assert not DROPPED.ever_stale(W1)


def test_a_path_only_the_fib_lost_counts_as_gone() -> None:
    fib_only = timeline((0.0, {W1: True}, {W1}), (0.5, {W1: True}, set()))
    gone = fib_only.first_without(W1)
    assert gone is not None
    assert gone.at_s == 0.5
    assert fib_only.missing_span(W1) is None  # BGP kept it


def test_a_path_that_never_came_back_is_missing_to_the_end() -> None:
    never = timeline((0.0, {W1: False}, {W1}), (1.0, {}, set()), (4.0, {}, set()))
    assert never.missing_span(W1) == (1.0, 4.0)


def test_samples_the_router_did_not_answer_decide_nothing() -> None:
    silent = Timeline("172.16.1.1/32", (Sample(0.0, {}, frozenset(), "vtysh: timeout"),
                                        Sample(0.2, {W1: False}, frozenset({W1}))))
    assert silent.first_without(W1) is None
    assert silent.as_document({W1: "k8s-w1"}) == [
        {"at_s": 0.0, "bgp": {}, "fib": [], "error": "vtysh: timeout"},
        {"at_s": 0.2, "bgp": {"k8s-w1": "valid"}, "fib": ["k8s-w1"]}]
