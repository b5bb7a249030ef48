"""FRR JSON parsers against output captured from FRR 8.4 (tests/data/frr/README.md), plus small
synthetic documents, labelled as such, for shapes that lab did not produce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp.router import (
    BgpPath,
    RibNextHop,
    RouterError,
    parse_bgp_prefix,
    parse_bgp_summary,
    parse_bgp_table,
    parse_rib_route,
)

FRR_DATA = Path(__file__).parents[1] / "data" / "frr"
NODES = frozenset({"192.168.10.101", "192.168.10.102", "192.168.10.103"})


def captured(name: str) -> Any:
    return json.loads((FRR_DATA / name).read_text())


# -- show bgp summary json


def test_summary_all_peers_established() -> None:
    peers = parse_bgp_summary(captured("bgp_summary_established.json"))
    assert set(peers) == NODES
    assert all(peer.established for peer in peers.values())
    first = peers["192.168.10.101"]
    assert (first.remote_as, first.prefixes_received, first.uptime) == (65001, 2, "00:00:14")


def test_summary_peer_down_is_active_and_has_no_uptime() -> None:
    peers = parse_bgp_summary(captured("bgp_summary_peer_down.json"))
    down = peers["192.168.10.103"]
    assert (down.state, down.established, down.uptime, down.prefixes_received) == (
        "Active", False, None, 0,
    )
    assert peers["192.168.10.101"].established


def test_summary_peer_never_established_is_connect() -> None:
    peer = parse_bgp_summary(captured("bgp_summary_never_established.json"))["192.168.10.104"]
    assert (peer.state, peer.uptime) == ("Connect", None)


@pytest.mark.parametrize(
    "doc",
    [{}, {"ipv4Unicast": {}}, {"ipv6Unicast": {"peers": {"fd00::1": {"state": "Established"}}}}],
    ids=["no-bgp-instance", "no-peers-key", "ipv6-only"],
)
def test_summary_without_ipv4_unicast_has_no_peers(doc: dict[str, Any]) -> None:
    # Synthetic: bgpd without IPv4 neighbors leaves out "ipv4Unicast".
    assert parse_bgp_summary(doc) == {}


def test_summary_peer_without_state_names_the_command() -> None:
    # Synthetic: a peer entry missing the key we must have.
    with pytest.raises(RouterError, match=r"^show bgp summary json: .*'state'"):
        parse_bgp_summary({"ipv4Unicast": {"peers": {"192.168.10.101": {"remoteAs": 65001}}}})


@pytest.mark.parametrize("doc", [[], "Established", None])
def test_summary_that_is_not_an_object_is_refused(doc: Any) -> None:
    with pytest.raises(RouterError, match="show bgp summary json: expected a JSON object"):
        parse_bgp_summary(doc)


# -- show ip bgp json


def test_table_lists_each_prefix_with_its_ecmp_next_hops() -> None:
    table = parse_bgp_table(captured("ip_bgp.json"))
    assert {prefix: entry.ecmp_next_hops for prefix, entry in table.items()} == {
        "172.16.1.1/32": NODES,
        "172.16.1.2/32": frozenset({"192.168.10.101"}),
        "172.16.1.3/32": frozenset({"192.168.10.102", "192.168.10.103"}),
    }


def test_table_best_path_lacks_multipath_flag_in_frr_8_4() -> None:
    paths = parse_bgp_table(captured("ip_bgp.json"))["172.16.1.1/32"].paths
    assert [(p.peer_id, p.bestpath, p.multipath) for p in paths] == [
        ("192.168.10.103", False, True),
        ("192.168.10.102", False, True),
        ("192.168.10.101", True, False),
    ]
    assert paths[2] == BgpPath(
        prefix="172.16.1.1/32", next_hop="192.168.10.101", as_path="65001", origin="incomplete",
        valid=True, bestpath=True, multipath=False, peer_id="192.168.10.101",
        communities=(), local_pref=None,
    )


def test_table_after_peer_down_drops_its_next_hop() -> None:
    table = parse_bgp_table(captured("ip_bgp_peer_down.json"))
    assert table["172.16.1.1/32"].ecmp_next_hops == {"192.168.10.101", "192.168.10.102"}


def test_table_local_pref_winner_is_the_only_next_hop() -> None:
    entry = parse_bgp_table(captured("ip_bgp_local_pref.json"))["172.16.1.1/32"]
    assert entry.ecmp_next_hops == {"192.168.10.102"}
    assert [(p.next_hop, p.local_pref, p.is_ecmp_member) for p in entry.paths] == [
        ("192.168.10.102", 200, True),
        ("192.168.10.101", None, False),
    ]


def test_empty_table_has_no_prefixes() -> None:
    assert parse_bgp_table(captured("ip_bgp_empty.json")) == {}


def test_table_frr10_style_best_path_also_multipath() -> None:
    # Synthetic, FRR 10 style: the best path carries "multipath": true as well.
    doc = {"routes": {"172.16.1.1/32": [
        {"valid": True, "bestpath": True, "multipath": True, "peerId": "192.168.10.101",
         "path": "65001", "origin": "IGP", "nexthops": [{"ip": "192.168.10.101", "used": True}]},
        {"valid": True, "multipath": True, "peerId": "192.168.10.102",
         "path": "65001", "origin": "IGP", "nexthops": [{"ip": "192.168.10.102", "used": True}]},
    ]}}
    entry = parse_bgp_table(doc)["172.16.1.1/32"]
    assert entry.ecmp_next_hops == {"192.168.10.101", "192.168.10.102"}
    assert entry.bestpath is not None
    assert entry.bestpath.next_hop == "192.168.10.101"


def test_table_next_hop_prefers_the_used_one() -> None:
    # Synthetic: an IPv6-style path with a global and a link-local next hop, only one "used".
    doc = {"routes": {"172.16.1.1/32": [
        {"valid": True, "bestpath": True, "peerId": "fd00::1", "path": "65001", "origin": "IGP",
         "nexthops": [{"ip": "fd00::1", "scope": "global"},
                      {"ip": "fe80::1", "scope": "link-local", "used": True}]},
    ]}}
    assert parse_bgp_table(doc)["172.16.1.1/32"].paths[0].next_hop == "fe80::1"


# -- show bgp ipv4 unicast <prefix> json


def test_prefix_with_three_paths_every_one_ecmp() -> None:
    entry = parse_bgp_prefix(captured("bgp_prefix_172-16-1-1_ecmp3.json"))
    assert entry is not None
    assert entry.prefix == "172.16.1.1/32"
    assert entry.ecmp_next_hops == NODES
    assert {p.peer_id for p in entry.paths} == NODES
    assert entry.bestpath is not None
    assert entry.bestpath.next_hop == "192.168.10.101"


def test_prefix_view_marks_the_best_path_multipath_too_in_frr_8_4() -> None:
    entry = parse_bgp_prefix(captured("bgp_prefix_172-16-1-1_ecmp3.json"))
    assert entry is not None
    assert all(p.multipath for p in entry.paths)
    assert [p.bestpath for p in entry.paths] == [False, False, True]


def test_prefix_after_peer_down_has_two_paths() -> None:
    entry = parse_bgp_prefix(captured("bgp_prefix_172-16-1-1_ecmp2_peer_down.json"))
    assert entry is not None
    assert entry.ecmp_next_hops == {"192.168.10.101", "192.168.10.102"}


def test_prefix_from_one_node() -> None:
    entry = parse_bgp_prefix(captured("bgp_prefix_172-16-1-2_single.json"))
    assert entry is not None
    (only,) = entry.paths
    assert (only.next_hop, only.as_path, only.bestpath, only.multipath) == (
        "192.168.10.101", "65001", True, False,
    )


def test_prefix_community_is_read_from_its_path_only() -> None:
    entry = parse_bgp_prefix(captured("bgp_prefix_172-16-1-3_community.json"))
    assert entry is not None
    assert {p.peer_id: p.communities for p in entry.paths} == {
        "192.168.10.103": (),
        "192.168.10.102": ("65000:100",),
    }


def test_prefix_local_pref_is_read_from_loc_prf() -> None:
    entry = parse_bgp_prefix(captured("bgp_prefix_172-16-1-1_local_pref.json"))
    assert entry is not None
    assert [(p.next_hop, p.local_pref, p.is_ecmp_member) for p in entry.paths] == [
        ("192.168.10.102", 200, True),
        ("192.168.10.101", None, False),
    ]


def test_withdrawn_prefix_is_none() -> None:
    assert parse_bgp_prefix(captured("bgp_prefix_172-16-1-9_withdrawn.json")) is None


def test_prefix_with_empty_path_list_is_none() -> None:
    # Synthetic: a prefix whose last path is being removed.
    assert parse_bgp_prefix({"prefix": "172.16.1.1/32", "paths": []}) is None


def test_prefix_path_of_wrong_shape_names_the_prefix() -> None:
    # Synthetic: garbage where a path object should be.
    with pytest.raises(RouterError, match=r"^show bgp ipv4 unicast 172\.16\.1\.1/32 json: "):
        parse_bgp_prefix({"prefix": "172.16.1.1/32", "paths": ["nonsense"]})


# -- show ip route <prefix> json


def test_rib_multipath_route_installed_with_three_fib_next_hops() -> None:
    route = parse_rib_route(captured("ip_route_172-16-1-1_ecmp3.json"), "172.16.1.1/32")
    assert route is not None
    assert (route.prefix, route.protocol, route.installed) == ("172.16.1.1/32", "bgp", True)
    assert route.fib_next_hops == NODES
    assert route.next_hops[0] == RibNextHop("192.168.10.101", "br0", fib=True, active=True)


def test_rib_after_peer_down_has_two_next_hops() -> None:
    route = parse_rib_route(captured("ip_route_172-16-1-1_ecmp2_peer_down.json"), "172.16.1.1")
    assert route is not None
    assert route.fib_next_hops == {"192.168.10.101", "192.168.10.102"}


def test_rib_single_path_route() -> None:
    route = parse_rib_route(captured("ip_route_172-16-1-2_single.json"), "172.16.1.2/32")
    assert route is not None
    assert route.fib_next_hops == {"192.168.10.101"}


def test_rib_connected_route_has_an_interface_and_no_ip() -> None:
    route = parse_rib_route(captured("ip_route_192-168-10-0-24_connected.json"), "192.168.10.0/24")
    assert route is not None
    assert route.protocol == "connected"
    assert route.next_hops == (RibNextHop(None, "br0", fib=True, active=True),)


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("ip_route_172-16-1-9_absent.json", "172.16.1.9/32"),
        ("ip_route_172-16-1-5_no_match.json", "172.16.1.5"),
    ],
    ids=["exact-prefix-absent", "address-no-match"],
)
def test_rib_without_route_is_none(name: str, prefix: str) -> None:
    assert parse_rib_route(captured(name), prefix) is None


def test_rib_prefers_the_selected_entry() -> None:
    # Synthetic: a static route that lost to BGP on distance sits next to the selected one.
    doc = {"172.16.1.1/32": [
        {"prefix": "172.16.1.1/32", "protocol": "static", "installed": False,
         "nexthops": [{"ip": "10.10.1.1", "interfaceName": "loop1", "active": True}]},
        {"prefix": "172.16.1.1/32", "protocol": "bgp", "selected": True, "installed": True,
         "nexthops": [{"ip": "192.168.10.101", "interfaceName": "eth1", "fib": True,
                       "active": True}]},
    ]}
    route = parse_rib_route(doc, "172.16.1.1/32")
    assert route is not None
    assert (route.protocol, route.fib_next_hops) == ("bgp", frozenset({"192.168.10.101"}))


def test_rib_entry_without_protocol_names_the_command() -> None:
    # Synthetic: an entry missing its protocol.
    with pytest.raises(RouterError, match=r"^show ip route 172\.16\.1\.1/32 json: .*'protocol'"):
        parse_rib_route({"172.16.1.1/32": [{"installed": True}]}, "172.16.1.1/32")
