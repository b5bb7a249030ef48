"""The path attributes a CiliumBGPAdvertisement sets reach the router, and aggregation shortens
Cluster Services' prefixes while Local ones stay /32 (cilium#36777).

Communities are checked on the lab's own (eBGP) sessions. LOCAL_PREF is an iBGP attribute that
is never sent to an eBGP peer, so its check runs only where the nodes share the router's AS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube import objects
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.manifests import Communities, PathAttributes
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.scenario import SERVICE_LABEL, LbService, Pool, Scenario
from pytest_ciliumbgp.router import FrrRouter
from pytest_ciliumbgp.router.node_paths import NodePaths

STANDARD_COMMUNITY = "65000:100"
LARGE_COMMUNITY = "65000:100:1"
LOCAL_PREFERENCE = 150  # not FRR's default (100), so a dropped attribute shows
AGGREGATION_LENGTH = 24


def prefix_paths(router: FrrRouter, prefix: str) -> list[Mapping[str, Any]]:
    """The router's paths of ``prefix`` as ``show bgp ipv4 unicast <prefix> json`` has them
    (attached), for attributes the parsed model does not carry (large communities)."""
    document = router.vtysh_json(f"show bgp ipv4 unicast {prefix} json")
    report.attach_json(f"router: show bgp ipv4 unicast {prefix} json", document)
    return list(document.get("paths") or [])


def listed(path: Mapping[str, Any], key: str) -> list[str]:
    """FRR's ``community`` / ``largeCommunity`` of a path: ``{"string", "list"}``."""
    value = path.get(key) or {}
    return list(value.get("list") or str(value.get("string", "")).split())


def path_node(inventory: Inventory, path: Mapping[str, Any]) -> str:
    address = str((path.get("peer") or {}).get("peerId", "?"))
    node = inventory.node_by_address(address)
    return node.name if node else address


def advertised_service(scenario: Scenario, pool: Pool, inventory: Inventory,
                       attributes: PathAttributes) -> LbService:
    """A Cluster Service with one backend (so the no-endpoints option of the agent does not
    matter), advertised with ``attributes``."""
    service = scenario.service(pool, backend_nodes=[inventory.nodes[0].name], advertise=False)
    scenario.advertisement({"matchLabels": {SERVICE_LABEL: service.name}},
                           attributes=attributes)
    return service


def test_communities_reach_the_router(
    cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_router: FrrRouter, cbgp_inventory: Inventory,
    cbgp_paths: NodePaths,
) -> None:
    attributes = PathAttributes(Communities(standard=[STANDARD_COMMUNITY],
                                            large=[LARGE_COMMUNITY]))
    with report.step(f"Service advertised with communities {STANDARD_COMMUNITY} and large "
                     f"{LARGE_COMMUNITY}"):
        service = advertised_service(cbgp_scenario, cbgp_pool, cbgp_inventory, attributes)
    every_node = [node.name for node in cbgp_inventory.nodes]
    with report.step(f"Router holds {service.prefix} from every node"):
        cbgp_paths.converge(service.prefix, every_node, "every node under Cluster")
    paths = prefix_paths(cbgp_router, service.prefix)
    carried = {path_node(cbgp_inventory, path): (listed(path, "community"),
                                                 listed(path, "largeCommunity"))
               for path in paths}
    for node in every_node:
        if node not in carried:
            pytest.fail(f"{service.prefix}: expected a path from {node} (every node under "
                        f"Cluster), router has paths from {sorted(carried) or 'none'}",
                        pytrace=False)
        standard, large = carried[node]
        if STANDARD_COMMUNITY not in standard or LARGE_COMMUNITY not in large:
            pytest.fail(f"{service.prefix} from {node}: expected community {STANDARD_COMMUNITY}"
                        f" and large community {LARGE_COMMUNITY} (set by its advertisement), "
                        f"router has community {standard or 'none'} and large community "
                        f"{large or 'none'}", pytrace=False)


def test_local_preference_reaches_an_ibgp_router(
    cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_router: FrrRouter, cbgp_inventory: Inventory,
    cbgp_paths: NodePaths,
) -> None:
    router_asn = cbgp_inventory.router.asn
    ebgp = sorted(f"{node.name} (AS {node.asn})" for node in cbgp_inventory.nodes
                  if node.asn != router_asn)
    if ebgp:
        pytest.skip(f"LOCAL_PREF is not sent to eBGP peers, and {', '.join(ebgp)} peer "
                    f"the router (AS {router_asn}) over eBGP: the router would show its default")
    with report.step(f"Service advertised with localPreference {LOCAL_PREFERENCE}"):
        service = advertised_service(cbgp_scenario, cbgp_pool, cbgp_inventory,
                                     PathAttributes(local_preference=LOCAL_PREFERENCE))
    every_node = [node.name for node in cbgp_inventory.nodes]
    why = "every node under Cluster"
    with report.step(f"Router holds {service.prefix} from every node"):
        cbgp_paths.converge(service.prefix, every_node, why)
    held = cbgp_router.bgp_prefix(service.prefix)
    assert held is not None, (
        f"{service.prefix}: expected from {every_node} ({why}), router no longer has it")
    for path in held.ecmp_paths:
        node = cbgp_inventory.node_by_address(path.next_hop)
        assert path.local_pref == LOCAL_PREFERENCE, (
            f"{service.prefix} from {node.name if node else path.next_hop}: expected "
            f"LOCAL_PREF {LOCAL_PREFERENCE} (set by its advertisement, iBGP), router has "
            f"{path.local_pref}")


def kept_aggregation(cluster: Cluster, advertisement: str) -> bool:
    """Whether the API server kept ``aggregationLengthIPv4``: a CRD schema that lacks it
    (Cilium < 1.18) prunes it on write, which says more than reading the schema — the lab's
    schemas preserve unknown fields and list none."""
    stored = objects.get(cluster, ObjectRef("CiliumBGPAdvertisement", advertisement))
    entries = (stored.get("spec") or {}).get("advertisements") or []
    return all("aggregationLengthIPv4" in (entry.get("service") or {}) for entry in entries)


def test_aggregation_shortens_cluster_and_keeps_local_at_32(
    cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_router: FrrRouter, cbgp_inventory: Inventory,
    cbgp_kube: Cluster, cbgp_paths: NodePaths,
) -> None:
    names = [node.name for node in cbgp_inventory.nodes]
    local_backend = names[1:2]
    with report.step("A Cluster and a Local Service, advertised with aggregationLengthIPv4 "
                     f"{AGGREGATION_LENGTH}"):
        cluster = cbgp_scenario.service(cbgp_pool, backend_nodes=names[:1], advertise=False)
        local = cbgp_scenario.service(cbgp_pool, policy="Local", backend_nodes=local_backend,
                                      advertise=False)
        advertisement = cbgp_scenario.advertisement(
            {"matchExpressions": [{"key": SERVICE_LABEL, "operator": "In",
                                   "values": [cluster.name, local.name]}]},
            aggregation_length_ipv4=AGGREGATION_LENGTH)
    if not kept_aggregation(cbgp_kube, advertisement):
        pytest.skip("the cluster's CiliumBGPAdvertisement schema has no "
                    "service.aggregationLengthIPv4 (Cilium < 1.18)")
    aggregate = str(ipaddress.ip_network(f"{cluster.address}/{AGGREGATION_LENGTH}",
                                         strict=False))
    with report.step(f"Router holds {aggregate} from every node, {local.prefix} from "
                     f"{local_backend}"):
        cbgp_paths.converge(aggregate, names, f"the /{AGGREGATION_LENGTH} of Cluster Service "
                            f"{cluster.address}, every node")
        cbgp_paths.converge(local.prefix, local_backend,
                            "a Local Service stays /32 under aggregation, from its backend's node")
    report.attach_text("router: show ip bgp", cbgp_router.vtysh_text("show ip bgp"))
    unaggregated = cbgp_router.bgp_prefix(cluster.prefix)
    assert unaggregated is None, (
        f"{cluster.prefix}: expected no /32 (aggregated into {aggregate}), router has it from "
        f"{cbgp_paths.names(unaggregated.ecmp_next_hops)}")
