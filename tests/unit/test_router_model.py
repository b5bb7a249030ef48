"""The router model's derived properties: who is an ECMP member, which next hops a prefix has."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.router import (
    BgpPath,
    BgpPeer,
    BgpPrefix,
    KernelNextHop,
    KernelRoute,
    RibNextHop,
    RibRoute,
)


def path(next_hop: str, *, valid: bool = True, best: bool = False, multi: bool = False) -> BgpPath:
    return BgpPath(
        prefix="172.16.1.1/32", next_hop=next_hop, as_path="65001", origin="incomplete",
        valid=valid, bestpath=best, multipath=multi, peer_id=next_hop,
    )


@pytest.mark.parametrize(
    ("valid", "best", "multi", "member"),
    [
        (True, True, False, True),
        (True, False, True, True),
        (True, True, True, True),
        (True, False, False, False),
        (False, True, True, False),
    ],
    ids=["best", "multipath", "best+multipath", "valid-only", "invalid"],
)
def test_ecmp_member_is_a_valid_best_or_multipath(
    valid: bool, best: bool, multi: bool, member: bool
) -> None:
    assert path("192.168.10.101", valid=valid, best=best, multi=multi).is_ecmp_member is member


def test_prefix_ecmp_next_hops_leave_out_paths_not_installed() -> None:
    prefix = BgpPrefix(
        "172.16.1.1/32",
        (
            path("192.168.10.101", best=True),
            path("192.168.10.102", multi=True),
            path("192.168.10.103"),
        ),
    )
    assert prefix.ecmp_next_hops == frozenset({"192.168.10.101", "192.168.10.102"})
    assert [p.next_hop for p in prefix.ecmp_paths] == ["192.168.10.101", "192.168.10.102"]
    assert prefix.bestpath == path("192.168.10.101", best=True)


def test_prefix_without_paths_has_no_next_hops_and_no_bestpath() -> None:
    prefix = BgpPrefix("172.16.1.1/32", ())
    assert prefix.ecmp_next_hops == frozenset()
    assert prefix.bestpath is None


def test_peer_is_established_only_in_that_state() -> None:
    up = BgpPeer("192.168.10.101", 65001, "Established", 1, "00:01:00")
    down = BgpPeer("192.168.10.102", 65001, "Active", 0, None)
    assert up.established
    assert not down.established


def test_kernel_route_gateways_and_rib_fib_next_hops() -> None:
    route = KernelRoute(
        "172.16.1.1/32",
        (KernelNextHop("192.168.10.101", "eth1"), KernelNextHop("192.168.20.100", "eth2", 2)),
    )
    assert route.gateways == frozenset({"192.168.10.101", "192.168.20.100"})
    rib = RibRoute(
        "172.16.1.1/32", "bgp", True,
        (RibNextHop("192.168.10.101", "eth1", True, True),
         RibNextHop("192.168.20.100", "eth2", False, True)),
    )
    assert rib.fib_next_hops == frozenset({"192.168.10.101"})


def test_model_values_are_frozen() -> None:
    peer = BgpPeer("192.168.10.101", 65001, "Established", 1, None)
    with pytest.raises(AttributeError):
        peer.state = "Idle"  # type: ignore[misc]
