"""The LB IP is advertised to the router as a /32 from the right nodes.

Under ``externalTrafficPolicy: Cluster`` every node the cluster config selects advertises it,
whether or not it runs a backend; under ``Local`` exactly the nodes with a ready local backend
do. The router's ECMP set (BGP) and its kernel FIB must both be that set of nodes, and each path
must be a /32 of origin IGP with the nodes' AS as its AS path.
"""

from __future__ import annotations

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube.errors import WaitTimeout
from pytest_ciliumbgp.kube.scenario import Pool, Scenario
from pytest_ciliumbgp.router import FrrRouter
from pytest_ciliumbgp.router.convergence import Converged, stays_absent, wait_for_next_hops

CONVERGENCE_S = 15.0
# How long a prefix that must not be advertised is watched (the lab converges in < 1 s).
ABSENCE_S = 3.0

# Backend placements by position in the inventory's node list, so any inventory works.
PLACEMENTS = {"all": None, "two": slice(-2, None), "one": slice(1, 2), "none": slice(0, 0)}


def placed_nodes(inventory: Inventory, placement: str) -> list[str]:
    chosen = PLACEMENTS[placement]
    names = [node.name for node in inventory.nodes]
    return names if chosen is None else names[chosen]


def expected_advertisers(inventory: Inventory, policy: str, backends: list[str]) -> set[str]:
    return {node.name for node in inventory.nodes} if policy == "Cluster" else set(backends)


def addresses_of(inventory: Inventory, names: set[str]) -> frozenset[str]:
    return frozenset(str(node.address) for node in inventory.nodes if node.name in names)


def names_of(inventory: Inventory, addresses: frozenset[str]) -> list[str]:
    found = []
    for address in sorted(addresses):
        node = inventory.node_by_address(address)
        found.append(node.name if node else address)
    return found


def converge(router: FrrRouter, inventory: Inventory, prefix: str, nodes: set[str],
             why: str) -> Converged:
    """The router's state once it holds ``prefix`` from exactly ``nodes``; fails with expected
    vs seen (node names) and attaches the router's view. No node: the prefix must stay away
    for ``ABSENCE_S``."""
    if not nodes:
        appeared = stays_absent(router, prefix, ABSENCE_S)
        if appeared is not None:
            pytest.fail(f"{prefix} next hops: expected none ({why}), router got "
                        f"{names_of(inventory, appeared.bgp_next_hops) or 'none'} in BGP and "
                        f"{names_of(inventory, appeared.fib_next_hops) or 'none'} in its FIB "
                        f"after {appeared.seconds:.1f} s", pytrace=False)
        return Converged(prefix, None, None, ABSENCE_S)
    try:
        converged = wait_for_next_hops(router, prefix, addresses_of(inventory, nodes),
                                       CONVERGENCE_S)
    except WaitTimeout as timeout:
        seen = timeout.last_state
        report.attach_text("router: show ip bgp", router.vtysh_text("show ip bgp"))
        bgp = names_of(inventory, seen.bgp_next_hops) if isinstance(seen, Converged) else "?"
        fib = names_of(inventory, seen.fib_next_hops) if isinstance(seen, Converged) else "?"
        pytest.fail(f"{prefix} next hops: expected {sorted(nodes) or 'none'} ({why}) within "
                    f"{CONVERGENCE_S:g} s, router has {bgp or 'none'} in BGP and "
                    f"{fib or 'none'} in its FIB", pytrace=False)
    report.attach_text("convergence", f"{prefix}: {converged.seconds:.1f} s")
    report.attach_json(f"router: show bgp ipv4 unicast {prefix} json",
                       router.vtysh_json(f"show bgp ipv4 unicast {prefix} json"))
    return converged


@pytest.mark.parametrize("placement", list(PLACEMENTS), ids=lambda p: f"backends={p}")
@pytest.mark.parametrize("policy", ["Cluster", "Local"], ids=lambda p: f"etp={p}")
def test_lb_ip_is_advertised_from_the_right_nodes(
    policy: str, placement: str, cbgp_scenario: Scenario, cbgp_pool: Pool,
    cbgp_router: FrrRouter, cbgp_inventory: Inventory,
) -> None:
    backends = placed_nodes(cbgp_inventory, placement)
    with report.step(f"Service etp={policy} with backends on {backends or 'no node'}"):
        service = cbgp_scenario.service(cbgp_pool, policy=policy, backend_nodes=backends)
    assert service.address in cbgp_pool.slice, (
        f"Service {service.name} got {service.address}, outside its pool {cbgp_pool.slice.cidr}")
    nodes = expected_advertisers(cbgp_inventory, policy, backends)
    why = "every node under Cluster" if policy == "Cluster" else "nodes with a ready local backend"
    with report.step(f"Router holds {service.prefix} from {sorted(nodes) or 'no node'}"):
        converged = converge(cbgp_router, cbgp_inventory, service.prefix, nodes, why)
    for path in converged.bgp.ecmp_paths if converged.bgp else ():
        node = cbgp_inventory.node_by_address(path.next_hop)
        assert node is not None, f"{service.prefix}: path from {path.next_hop}, not a node"
        assert (path.prefix, path.origin.lower(), path.as_path) == (
            service.prefix, "igp", str(node.asn)), (
            f"{service.prefix} from {node.name}: expected a /32 of origin IGP with AS path "
            f"{node.asn}, router has {path.prefix} origin {path.origin} AS path {path.as_path!r}")
