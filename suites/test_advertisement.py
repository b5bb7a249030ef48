"""The LB IP is advertised to the router as a /32 from the right nodes.

Under ``externalTrafficPolicy: Cluster`` every node the cluster config selects advertises it,
whether or not it runs a backend (without any backend, only while the agent option
``enable-no-service-endpoints-routable`` is on, as it is by default); under ``Local`` exactly
the nodes with a ready local backend do. The router's ECMP set (BGP) and its kernel FIB must
both be that set of nodes, and each path must be a /32 of origin IGP with the nodes' AS as its
AS path.
"""

from __future__ import annotations

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube.agent_config import NO_ENDPOINTS_ROUTABLE, no_endpoints_routable
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.scenario import Pool, Scenario
from pytest_ciliumbgp.router import FrrRouter
from pytest_ciliumbgp.router.node_paths import NodePaths

# How long a prefix that must not be advertised is watched (the lab converges in < 1 s).
WATCH_S = 3.0

# Backend placements by position in the inventory's node list, so any inventory works.
PLACEMENTS = {"all": None, "two": slice(-2, None), "one": slice(1, 2), "none": slice(0, 0)}


def placed_nodes(inventory: Inventory, placement: str) -> list[str]:
    chosen = PLACEMENTS[placement]
    names = [node.name for node in inventory.nodes]
    return names if chosen is None else names[chosen]


def expected_advertisers(inventory: Inventory, policy: str, backends: list[str],
                         cluster: Cluster) -> tuple[set[str], str]:
    """The nodes that must advertise, and why."""
    if policy == "Local":
        return set(backends), "nodes with a ready local backend"
    if not backends and no_endpoints_routable(cluster) is False:
        return set(), (f"a Cluster Service without backends is withdrawn with "
                       f"{NO_ENDPOINTS_ROUTABLE}=false")
    return {node.name for node in inventory.nodes}, "every node under Cluster"


@pytest.mark.parametrize("placement", list(PLACEMENTS), ids=lambda p: f"backends={p}")
@pytest.mark.parametrize("policy", ["Cluster", "Local"], ids=lambda p: f"etp={p}")
def test_lb_ip_is_advertised_from_the_right_nodes(
    policy: str, placement: str, cbgp_scenario: Scenario, cbgp_pool: Pool,
    cbgp_router: FrrRouter, cbgp_inventory: Inventory, cbgp_paths: NodePaths, cbgp_kube: Cluster,
) -> None:
    backends = placed_nodes(cbgp_inventory, placement)
    with report.step(f"Service etp={policy} with backends on {backends or 'no node'}"):
        service = cbgp_scenario.service(cbgp_pool, policy=policy, backend_nodes=backends)
    assert service.address in cbgp_pool.slice, (
        f"Service {service.name} got {service.address}, outside its pool {cbgp_pool.slice.cidr}")
    nodes, why = expected_advertisers(cbgp_inventory, policy, backends, cbgp_kube)
    if not nodes:
        with report.step(f"Router never holds {service.prefix} ({WATCH_S:g} s)"):
            cbgp_paths.stays(service.prefix, [], why, WATCH_S)
        return
    with report.step(f"Router holds {service.prefix} from {sorted(nodes)}"):
        cbgp_paths.converge(service.prefix, nodes, why)
    held = cbgp_router.bgp_prefix(service.prefix)
    assert held is not None, (
        f"{service.prefix}: expected from {sorted(nodes)} ({why}), router no longer has it")
    for path in held.ecmp_paths:
        node = cbgp_inventory.node_by_address(path.next_hop)
        assert node is not None, f"{service.prefix}: path from {path.next_hop}, not a node"
        assert (path.prefix, path.origin.lower(), path.as_path) == (
            service.prefix, "igp", str(node.asn)), (
            f"{service.prefix} from {node.name}: expected a /32 of origin IGP with AS path "
            f"{node.asn}, router has {path.prefix} origin {path.origin} AS path {path.as_path!r}")
