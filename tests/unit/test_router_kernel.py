"""``ip -j route`` parsing against routes captured from the FRR 8.4 lab (tests/data/kernel)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp.router import KernelNextHop, KernelRoute, RouterError, parse_kernel_routes

KERNEL_DATA = Path(__file__).parents[1] / "data" / "kernel"


def captured(name: str) -> Any:
    return json.loads((KERNEL_DATA / name).read_text())


def test_multipath_route_lists_every_next_hop() -> None:
    (route,) = parse_kernel_routes(captured("route_172-16-1-1_ecmp3.json"))
    assert route == KernelRoute(
        "172.16.1.1/32",
        (
            KernelNextHop("192.168.10.101", "br0", 1),
            KernelNextHop("192.168.10.102", "br0", 1),
            KernelNextHop("192.168.10.103", "br0", 1),
        ),
    )


def test_multipath_route_after_peer_down() -> None:
    (route,) = parse_kernel_routes(captured("route_172-16-1-1_ecmp2_peer_down.json"))
    assert route.gateways == {"192.168.10.101", "192.168.10.102"}


def test_single_next_hop_route_is_read_inline() -> None:
    (route,) = parse_kernel_routes(captured("route_172-16-1-2_single.json"))
    assert route == KernelRoute("172.16.1.2/32", (KernelNextHop("192.168.10.101", "br0", 1),))


def test_absent_route_is_an_empty_list() -> None:
    assert parse_kernel_routes(captured("route_172-16-1-9_absent.json")) == []


def test_whole_table_keeps_lengths_and_connected_routes() -> None:
    routes = {route.dst: route for route in parse_kernel_routes(captured("route_all.json"))}
    assert set(routes) == {"172.16.1.1/32", "172.16.1.2/32", "172.16.1.3/32", "192.168.10.0/24"}
    assert routes["192.168.10.0/24"].next_hops == (KernelNextHop("", "br0", 1),)
    assert routes["192.168.10.0/24"].gateways == frozenset()
    assert routes["172.16.1.3/32"].gateways == {"192.168.10.102", "192.168.10.103"}


def test_weights_and_default_and_blackhole() -> None:
    # Synthetic: weighted multipath, a default route, a blackhole without next hops.
    doc = [
        {"dst": "172.16.1.1", "nexthops": [
            {"gateway": "192.168.10.101", "dev": "eth1", "weight": 3},
            {"gateway": "192.168.20.100", "dev": "eth2", "weight": 1}]},
        {"dst": "default", "gateway": "10.0.2.2", "dev": "eth0"},
        {"type": "blackhole", "dst": "172.16.1.0/24"},
    ]
    multipath, default, blackhole = parse_kernel_routes(doc)
    assert [hop.weight for hop in multipath.next_hops] == [3, 1]
    assert (default.dst, default.gateways) == ("default", frozenset({"10.0.2.2"}))
    assert blackhole.next_hops == ()


@pytest.mark.parametrize("doc", [{}, "172.16.1.1", [{"gateway": "192.168.10.101"}]])
def test_output_that_is_not_a_route_list_is_refused(doc: Any) -> None:
    with pytest.raises(RouterError, match=r"^ip -j route: "):
        parse_kernel_routes(doc)
