"""Services that share one LB IP (``lbipam.cilium.io/sharing-key``) keep it advertised while any
of them remains.

Two Services with the same sharing key, the same externalTrafficPolicy and selector, on
different ports, request the same address from the test's pool: both get it and the router holds
the /32. Deleting one must leave the /32 exactly as it was (cilium#35018); deleting the second
withdraws it.
"""

from __future__ import annotations

import time

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube import manifests, objects, waits
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.scenario import SERVICE_LABEL, LbService, Pool, Scenario
from pytest_ciliumbgp.router.node_paths import NodePaths

# How long the shared /32 is watched after its first Service goes (the lab converges in < 1 s).
WATCH_S = 3.0
# The address both Services request: an offset into the test's own pool slice.
SHARED_OFFSET = 5
PORTS = (80, 8080)


def sharing_service(scenario: Scenario, pool: Pool, first: LbService, port: int,
                    key: str) -> LbService:
    """A second Service on ``first``'s address, port and backends (Cilium shares an address
    only between Services with the same policy and, under Local, the same selector)."""
    name = scenario.unique("svc")
    scenario.create(manifests.service(
        name, first.app_labels, namespace=first.namespace, ports=[port],
        external_traffic_policy=first.policy, requested_ips=[first.address], sharing_key=key,
        labels={**pool.service_labels, SERVICE_LABEL: name}))
    scenario.advertisement({"matchLabels": {SERVICE_LABEL: name}})
    service = LbService(name, first.namespace, first.policy, pool,
                        backends=first.backends, app_labels=first.app_labels)
    service.address = waits.wait_for_lb_ip(scenario.cluster, service.namespace, name,
                                           timeout=scenario.timeout)
    return service


@pytest.mark.parametrize("policy", ["Cluster", "Local"], ids=lambda p: f"etp={p}")
def test_shared_vip_stays_advertised_until_its_last_service_goes(
    policy: str, cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster,
    cbgp_inventory: Inventory, cbgp_paths: NodePaths,
) -> None:
    names = [node.name for node in cbgp_inventory.nodes]
    backends = names[-2:]
    advertisers = names if policy == "Cluster" else backends
    why = "every node under Cluster" if policy == "Cluster" else "nodes with a ready local backend"
    shared = cbgp_pool.slice.address(SHARED_OFFSET)
    key = cbgp_scenario.unique("share")
    with report.step(f"Services etp={policy} on ports {list(PORTS)} share {shared} "
                     f"(sharing key {key}), backends on {backends}"):
        first = cbgp_scenario.service(cbgp_pool, policy=policy, backend_nodes=backends,
                                      ports=PORTS[:1], requested_ips=[shared], sharing_key=key)
        second = sharing_service(cbgp_scenario, cbgp_pool, first, PORTS[1], key)
    got = {first.name: first.address, second.name: second.address}
    assert set(got.values()) == {shared}, (
        f"expected both Services on {shared} (requested, same sharing key {key}, ports "
        f"{list(PORTS)}), LB-IPAM gave {got}")
    prefix = first.prefix
    with report.step(f"Router holds {prefix} from {advertisers}"):
        cbgp_paths.converge(prefix, advertisers, why)
    with report.step(f"Delete {first.ref}: {prefix} stays, {second.ref} still uses it"):
        objects.delete(cbgp_kube, first.ref)
        waits.wait_for_gone(cbgp_kube, first.ref, timeout=cbgp_paths.budget)
        cbgp_paths.stays(prefix, advertisers, f"{why}; {second.ref} still uses {shared}",
                         WATCH_S)
    with report.step(f"Delete {second.ref}: {prefix} is withdrawn"):
        since = time.monotonic()
        objects.delete(cbgp_kube, second.ref)
        cbgp_paths.converge(prefix, (), f"no Service uses {shared} any more", since=since)
