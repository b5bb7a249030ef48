"""The LB IP is withdrawn when what justified its advertisement goes, and comes back with it.

Under ``externalTrafficPolicy: Local`` a node advertises the /32 only while it runs a ready,
non-terminating backend of the Service: when its last one is deleted, made unready or moved to
another node, that node's path leaves the router's BGP table and FIB (the whole /32 when it was
the Service's only backend), and it returns with a new backend — also one recreated under another
name (cilium#38924, cilium#36055). The /32 goes from every node when the Service is deleted,
stops being a LoadBalancer, or its advertisement is deleted. An ``externalTrafficPolicy:
Cluster`` Service with no backend follows the agent option
``enable-no-service-endpoints-routable`` (cilium#40438).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.flows.http import set_health
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube import objects, waits
from pytest_ciliumbgp.kube.agent_config import AGENT_CONFIG, NO_ENDPOINTS_ROUTABLE, agent_option
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.scenario import SERVICE_LABEL, Backend, LbService, Pool, Scenario
from pytest_ciliumbgp.labs import Lab
from pytest_ciliumbgp.router.node_paths import NodePaths

# How long an advertisement that must not go is watched (the lab converges in < 1 s).
WATCH_S = 3.0

LOCAL_WHY = "nodes with a ready local backend"
# "one": the only backend is on the node that loses it, so the whole /32 goes; "two": a second
# node keeps its backend and its path throughout.
PLACEMENTS = ("one", "two")
POLICIES = ("Cluster", "Local")


@dataclass(frozen=True)
class Roles:
    """Nodes by the part they play, taken by position in the inventory (any inventory of three
    or more nodes works)."""

    changed: str  # loses its backend
    kept: str  # keeps its backend with placement "two"
    elsewhere: str  # where a moved backend goes

    @classmethod
    def of(cls, inventory: Inventory) -> Roles:
        names = [node.name for node in inventory.nodes]
        if len(names) < 3:
            pytest.skip(f"inventory {inventory.name} has {len(names)} nodes; this check needs 3")
        return cls(changed=names[1], kept=names[2], elsewhere=names[0])

    def placed(self, placement: str) -> list[str]:
        return [self.changed, self.kept] if placement == "two" else [self.changed]


def local_service(scenario: Scenario, pool: Pool, placed: list[str],
                  paths: NodePaths) -> tuple[LbService, Backend]:
    """A Local Service with one backend per node of ``placed``, once the router holds it from
    exactly those nodes; returns it and the backend on ``placed[0]``."""
    with report.step(f"Service etp=Local with backends on {placed}"):
        service = scenario.service(pool, policy="Local", backend_nodes=placed)
    with report.step(f"Router holds {service.prefix} from {placed}"):
        paths.converge(service.prefix, placed, LOCAL_WHY)
    return service, service.backends[0]


def delete_backend(cluster: Cluster, backend: Backend, namespace: str) -> None:
    objects.delete(cluster, ObjectRef("Pod", backend.name, namespace))


@pytest.mark.parametrize("placement", PLACEMENTS, ids=lambda p: f"backends={p}")
def test_node_path_goes_with_its_deleted_backend_and_returns_with_a_recreated_one(
    placement: str, cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster,
    cbgp_inventory: Inventory, cbgp_paths: NodePaths,
) -> None:
    nodes = Roles.of(cbgp_inventory)
    placed = nodes.placed(placement)
    service, backend = local_service(cbgp_scenario, cbgp_pool, placed, cbgp_paths)
    with report.step(f"Delete Pod {backend.name}, the last backend on {nodes.changed}"):
        since = time.monotonic()
        delete_backend(cbgp_kube, backend, service.namespace)
        cbgp_paths.converge(service.prefix, set(placed) - {nodes.changed},
                            f"{nodes.changed} has no local backend left", since=since)
    with report.step(f"Create a new backend Pod on {nodes.changed}"):
        since = time.monotonic()
        cbgp_scenario.backends(service.app_labels, [nodes.changed])
        cbgp_paths.converge(service.prefix, placed,
                            f"{nodes.changed} runs a new backend again", since=since)


@pytest.mark.parametrize("placement", PLACEMENTS, ids=lambda p: f"backends={p}")
def test_node_path_goes_while_its_backend_is_unready(
    placement: str, cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_lab: Lab,
    cbgp_inventory: Inventory, cbgp_paths: NodePaths,
) -> None:
    nodes = Roles.of(cbgp_inventory)
    placed = nodes.placed(placement)
    service, backend = local_service(cbgp_scenario, cbgp_pool, placed, cbgp_paths)
    # The router routes to every node's PodCIDR, so it can reach the pod's health endpoint.
    router_host = cbgp_lab.transport(cbgp_inventory.router.name)
    with report.step(f"POST /health 500 to {backend.name} on {nodes.changed}"):
        since = time.monotonic()
        set_health(router_host, backend.ip, 500)
        cbgp_paths.converge(service.prefix, set(placed) - {nodes.changed},
                            f"the only backend on {nodes.changed} fails its readiness probe",
                            since=since)
    with report.step(f"POST /health 200 to {backend.name} on {nodes.changed}"):
        since = time.monotonic()
        set_health(router_host, backend.ip, 200)
        cbgp_paths.converge(service.prefix, placed,
                            f"the backend on {nodes.changed} is ready again", since=since)


@pytest.mark.parametrize("placement", PLACEMENTS, ids=lambda p: f"backends={p}")
def test_node_path_moves_with_its_backend(
    placement: str, cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster,
    cbgp_inventory: Inventory, cbgp_paths: NodePaths,
) -> None:
    nodes = Roles.of(cbgp_inventory)
    placed = nodes.placed(placement)
    service, backend = local_service(cbgp_scenario, cbgp_pool, placed, cbgp_paths)
    moved = (set(placed) - {nodes.changed}) | {nodes.elsewhere}
    with report.step(f"Move the backend from {nodes.changed} to {nodes.elsewhere}"):
        since = time.monotonic()
        delete_backend(cbgp_kube, backend, service.namespace)
        cbgp_scenario.backends(service.app_labels, [nodes.elsewhere], wait=False)
        cbgp_paths.converge(service.prefix, moved,
                            f"the backend moved from {nodes.changed} to {nodes.elsewhere}",
                            since=since)


def stop_serving(change: str, cluster: Cluster, service: LbService, advertisement: str) -> None:
    if change == "service-deleted":
        objects.delete(cluster, service.ref)
    elif change == "type-clusterip":
        # The API refuses externalTrafficPolicy on a ClusterIP Service: it goes too.
        objects.patch(cluster, service.ref,
                      {"spec": {"type": "ClusterIP", "externalTrafficPolicy": None}})
    else:
        objects.delete(cluster, ObjectRef("CiliumBGPAdvertisement", advertisement))


STOP_SERVING = {
    "service-deleted": "the Service is deleted",
    "type-clusterip": "the Service is now of type ClusterIP",
    "advertisement-deleted": "no CiliumBGPAdvertisement selects the Service any more",
}


@pytest.mark.parametrize("change", list(STOP_SERVING), ids=lambda c: f"change={c}")
@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"etp={p}")
def test_lb_ip_is_withdrawn_everywhere_when_no_longer_served(
    policy: str, change: str, cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster,
    cbgp_inventory: Inventory, cbgp_paths: NodePaths,
) -> None:
    nodes = Roles.of(cbgp_inventory)
    placed = nodes.placed("two")
    with report.step(f"Service etp={policy} with backends on {placed}, and its advertisement"):
        service = cbgp_scenario.service(cbgp_pool, policy=policy, backend_nodes=placed,
                                        advertise=False)
        advertisement = cbgp_scenario.advertisement(
            {"matchLabels": {SERVICE_LABEL: service.name}})
    advertisers = ([node.name for node in cbgp_inventory.nodes] if policy == "Cluster"
                   else placed)
    why = "every node under Cluster" if policy == "Cluster" else LOCAL_WHY
    with report.step(f"Router holds {service.prefix} from {advertisers}"):
        cbgp_paths.converge(service.prefix, advertisers, why)
    with report.step(f"Withdrawn when {STOP_SERVING[change]}"):
        since = time.monotonic()
        stop_serving(change, cbgp_kube, service, advertisement)
        cbgp_paths.converge(service.prefix, (), STOP_SERVING[change], since=since)


def test_cluster_lb_ip_without_backends_follows_no_service_endpoints_routable(
    cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster, cbgp_inventory: Inventory,
    cbgp_paths: NodePaths,
) -> None:
    setting = agent_option(cbgp_kube, NO_ENDPOINTS_ROUTABLE)
    if setting is None:
        pytest.skip(f"{'/'.join(AGENT_CONFIG)} has no {NO_ENDPOINTS_ROUTABLE} (the option "
                    f"came after Cilium 1.18.0, cilium#40717): which way a Service without "
                    f"backends goes is not configured")
    routable = setting.strip().lower() != "false"
    nodes = Roles.of(cbgp_inventory)
    everyone = [node.name for node in cbgp_inventory.nodes]
    with report.step(f"Service etp=Cluster with its one backend on {nodes.changed}"):
        service = cbgp_scenario.service(cbgp_pool, policy="Cluster",
                                        backend_nodes=[nodes.changed])
    with report.step(f"Router holds {service.prefix} from every node"):
        cbgp_paths.converge(service.prefix, everyone, "every node under Cluster")
    backend = service.backends[0]
    option = f"{NO_ENDPOINTS_ROUTABLE}={setting}"
    with report.step(f"Delete Pod {backend.name}, the Service's only backend ({option})"):
        since = time.monotonic()
        delete_backend(cbgp_kube, backend, service.namespace)
        if routable:
            waits.wait_for_gone(cbgp_kube, ObjectRef("Pod", backend.name, service.namespace),
                                timeout=cbgp_paths.budget)
            cbgp_paths.stays(service.prefix, everyone,
                             f"a Service without backends stays routable with {option}",
                             WATCH_S)
        else:
            cbgp_paths.converge(service.prefix, (),
                                f"a Service without backends is withdrawn with {option}",
                                since=since)
    with report.step(f"Create a new backend Pod on {nodes.changed}"):
        since = time.monotonic()
        cbgp_scenario.backends(service.app_labels, [nodes.changed])
        cbgp_paths.converge(service.prefix, everyone, "every node under Cluster", since=since)
