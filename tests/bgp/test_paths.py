"""What one node's agent advertises: PodCIDR and Service addresses by traffic policy and
endpoints, selectors, attributes, aggregation, the no-endpoints option and the path faults."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.cilium.bgp_paths import (
    AgentOptions,
    Misbehaviour,
    ServiceState,
    desired_routes,
    endpoints_by_service,
    peers_of,
    selected_advertisements,
)

from .conftest import (
    SELECT_ALL,
    advertisement,
    endpoint_slice,
    lb_entry,
    node,
    node_config,
    peer_config,
    service,
)

LB = ipaddress.IPv4Network("172.16.1.10/32")


def routes_on(name: str, adverts: list[dict[str, Any]], services: list[dict[str, Any]],
              slices: list[dict[str, Any]], options: AgentOptions | None = None,
              fault: Misbehaviour | None = None) -> set[str]:
    endpoints = endpoints_by_service(slices)
    states = []
    for obj in services:
        state = ServiceState.from_object(obj)
        state.endpoints = endpoints.get(state.key, [])
        states.append(state)
    found = desired_routes(adverts, node(name), states, options or AgentOptions(),
                           fault or Misbehaviour())
    return {str(prefix) for prefix in found}


ADVERT = [advertisement("lb", lb_entry(SELECT_ALL))]
ON_W1 = [endpoint_slice("web", ("uid-1", "k8s-w1", True, False))]


def test_podcidr_is_advertised_with_the_nodes_cidr() -> None:
    adverts = [advertisement("pods", {"advertisementType": "PodCIDR"})]
    assert routes_on("k8s-ctr", adverts, [], []) == {"172.20.0.0/24"}


@pytest.mark.parametrize("name", ["k8s-ctr", "k8s-w1", "k8s-w0"])
def test_cluster_service_is_advertised_from_every_node_as_a_32(name: str) -> None:
    assert routes_on(name, ADVERT, [service("web")], ON_W1) == {"172.16.1.10/32"}


@pytest.mark.parametrize(("name", "expected"), [("k8s-w1", {"172.16.1.10/32"}),
                                                ("k8s-ctr", set()), ("k8s-w0", set())])
def test_local_service_only_from_nodes_with_a_ready_local_endpoint(name: str,
                                                                   expected: set[str]) -> None:
    assert routes_on(name, ADVERT, [service("web", policy="Local")], ON_W1) == expected


@pytest.mark.parametrize(("ready", "terminating"), [(False, False), (True, True), (False, True)])
def test_unready_or_terminating_local_endpoint_does_not_count(ready: bool,
                                                              terminating: bool) -> None:
    slices = [endpoint_slice("web", ("uid-1", "k8s-w1", ready, terminating))]
    assert routes_on("k8s-w1", ADVERT, [service("web", policy="Local")], slices) == set()


def test_nil_selector_selects_nothing() -> None:
    adverts = [advertisement("lb", lb_entry(None))]
    assert routes_on("k8s-w1", adverts, [service("web")], ON_W1) == set()


def test_selector_matches_labels_and_service_name_pseudo_label() -> None:
    by_label = [advertisement("lb", lb_entry({"matchLabels": {"app": "web"}}))]
    by_name = [advertisement("lb", lb_entry(
        {"matchLabels": {"io.kubernetes.service.name": "other"}}))]
    services = [service("web"), service("other", ip="172.16.1.11")]
    assert routes_on("k8s-ctr", by_label, services, []) == {"172.16.1.10/32"}
    assert routes_on("k8s-ctr", by_name, services, []) == {"172.16.1.11/32"}


def test_cluster_ip_and_external_ip_advertisements() -> None:
    adverts = [advertisement("lb", lb_entry(SELECT_ALL, ("ClusterIP", "ExternalIP")))]
    services = [service("web", externalIPs=["192.0.2.7"])]
    assert routes_on("k8s-ctr", adverts, services, []) == {"10.96.0.10/32", "192.0.2.7/32"}


def test_other_load_balancer_class_is_not_advertised() -> None:
    services = [service("web", loadBalancerClass="example.com/other")]
    assert routes_on("k8s-ctr", ADVERT, services, []) == set()


def test_service_without_ingress_ip_is_not_advertised() -> None:
    assert routes_on("k8s-ctr", ADVERT, [service("web", ip=None)], []) == set()


def test_aggregation_applies_to_cluster_only() -> None:
    adverts = [advertisement("lb", {**lb_entry(SELECT_ALL), "service": {
        "addresses": ["LoadBalancerIP"], "aggregationLengthIPv4": 24}})]
    assert routes_on("k8s-w1", adverts, [service("web")], ON_W1) == {"172.16.1.0/24"}
    assert routes_on("k8s-w1", adverts, [service("web", policy="Local")], ON_W1) == {
        "172.16.1.10/32"}


def test_no_endpoints_option_withdraws_cluster_service_without_usable_backend() -> None:
    off = AgentOptions(no_service_endpoints_routable=False)
    terminating = [endpoint_slice("web", ("uid-1", "k8s-w1", False, True))]
    assert routes_on("k8s-ctr", ADVERT, [service("web")], [], off) == set()
    assert routes_on("k8s-ctr", ADVERT, [service("web")], terminating, off) == set()
    assert routes_on("k8s-ctr", ADVERT, [service("web")], ON_W1, off) == {"172.16.1.10/32"}
    assert routes_on("k8s-ctr", ADVERT, [service("web")], []) == {"172.16.1.10/32"}


def test_attributes_reach_the_route() -> None:
    entry = lb_entry(SELECT_ALL, attributes={
        "communities": {"standard": ["65000:100"], "wellKnown": ["no-export"],
                        "large": ["65000:1:2"]},
        "localPreference": 200})
    states = [ServiceState.from_object(service("web"))]
    found = desired_routes([advertisement("lb", entry)], node("k8s-ctr"), states,
                           AgentOptions(), Misbehaviour())
    route = found[LB]
    assert route.communities == ("65000:100", "65535:65281")
    assert route.large_communities == ("65000:1:2",)
    assert route.local_preference == 200


@pytest.mark.parametrize(("fault", "name", "policy", "expected"), [
    (Misbehaviour(local_from_all_nodes=True), "k8s-ctr", "Local", {"172.16.1.10/32"}),
    (Misbehaviour(cluster_only_with_local_backend=True), "k8s-ctr", "Cluster", set()),
    (Misbehaviour(cluster_only_with_local_backend=True), "k8s-w1", "Cluster", {"172.16.1.10/32"}),
    (Misbehaviour(cluster_ip_for_lb_ip=True), "k8s-ctr", "Cluster", {"10.96.0.10/32"}),
    (Misbehaviour(prefix_length=24), "k8s-ctr", "Cluster", {"172.16.1.0/24"}),
], ids=["local-from-all", "cluster-needs-local/ctr", "cluster-needs-local/w1", "clusterip",
        "prefix-24"])
def test_path_faults(fault: Misbehaviour, name: str, policy: str, expected: set[str]) -> None:
    assert routes_on(name, ADVERT, [service("web", policy=policy)], ON_W1, fault=fault) == expected


def test_terminating_fault_counts_terminating_endpoints() -> None:
    slices = [endpoint_slice("web", ("uid-1", "k8s-w1", False, True))]
    fault = Misbehaviour(terminating_counts=True)
    assert routes_on("k8s-w1", ADVERT, [service("web", policy="Local")], slices,
                     fault=fault) == {"172.16.1.10/32"}


def test_peer_settings_come_from_the_peer_config() -> None:
    configs = {"cilium-peer": peer_config(
        timers={"connectRetryTimeSeconds": 5, "holdTimeSeconds": 9, "keepAliveTimeSeconds": 3},
        gracefulRestart={"enabled": True, "restartTimeSeconds": 15}, ebgpMultihop=2)}
    (settings, _), = peers_of(node_config("k8s-w0"), configs).values()
    assert (settings.address, settings.asn, settings.connect_retry_seconds,
            settings.hold_time_seconds, settings.keepalive_seconds, settings.graceful_restart,
            settings.restart_time_seconds, settings.ebgp_multihop) == (
        "192.168.10.200", 65000, 5, 9, 3, True, 15, 2)


def test_missing_peer_config_gives_defaults_and_selects_nothing() -> None:
    (settings, spec), = peers_of(node_config("k8s-w0", peer_config="absent"), {}).values()
    assert (settings.hold_time_seconds, settings.graceful_restart) == (90, False)
    assert selected_advertisements(spec, ADVERT) == []


def test_peer_config_selects_advertisements_by_label() -> None:
    chosen = advertisement("yes", lb_entry(SELECT_ALL))
    other = advertisement("no", lb_entry(SELECT_ALL), labels={"advertise": "other"})
    assert selected_advertisements(peer_config()["spec"], [chosen, other]) == [chosen]
    assert selected_advertisements(peer_config(families=[])["spec"], [chosen]) == []
