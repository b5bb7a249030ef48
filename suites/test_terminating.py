"""A terminating backend no longer justifies its node's path.

Under ``externalTrafficPolicy: Local`` a node advertises the /32 only for backends that are
ready and not terminating (Cilium ≥ 1.18: endpoints in state active). A backend with a preStop
sleep stays Terminating for that long after deletion; its node's path must leave the router
while the Pod still terminates, not once it is gone (cilium#32487, #45276).
"""

from __future__ import annotations

import time

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube import objects, waits
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.scenario import Pool, Scenario
from pytest_ciliumbgp.router.node_paths import NodePaths

# Long enough that "withdrawn while terminating" and "withdrawn once gone" are seconds apart.
PRE_STOP_S = 6


def test_node_path_is_withdrawn_while_its_backend_terminates(
    cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster, cbgp_inventory: Inventory,
    cbgp_paths: NodePaths,
) -> None:
    names = [node.name for node in cbgp_inventory.nodes]
    if len(names) < 2:
        pytest.skip(f"inventory {cbgp_inventory.name} has {len(names)} node; this check needs 2")
    terminating_node, kept_node = names[1], names[-1]
    with report.step(f"Service etp=Local with backends on {[terminating_node, kept_node]}, "
                     f"the one on {terminating_node} with a {PRE_STOP_S} s preStop sleep"):
        service = cbgp_scenario.service(cbgp_pool, policy="Local", backend_nodes=[kept_node])
        backend, = cbgp_scenario.backends(service.app_labels, [terminating_node],
                                          pre_stop_sleep_seconds=PRE_STOP_S)
    placed = [terminating_node, kept_node]
    with report.step(f"Router holds {service.prefix} from {placed}"):
        cbgp_paths.converge(service.prefix, placed, "nodes with a ready local backend")
    pod = ObjectRef("Pod", backend.name, service.namespace)
    with report.step(f"Delete {pod}: {terminating_node}'s path goes while it terminates"):
        deleted_at = time.monotonic()
        objects.delete(cbgp_kube, pod)
        withdrawn_after = cbgp_paths.converge(
            service.prefix, [kept_node],
            f"the only backend on {terminating_node} is terminating", since=deleted_at)
        seen = objects.find(cbgp_kube, pod)
    pod_state = ("gone" if seen is None else
                 "Terminating" if seen["metadata"].get("deletionTimestamp") else "not deleted")
    assert pod_state == "Terminating", (
        f"{service.prefix}: expected {terminating_node}'s path withdrawn while {pod} is still "
        f"Terminating (preStop sleep {PRE_STOP_S} s), but the router withdrew it "
        f"{withdrawn_after:.1f} s after the deletion, when the Pod was {pod_state}")
    with report.step(f"{pod} terminates"):
        waits.wait_for_gone(cbgp_kube, pod, timeout=PRE_STOP_S + cbgp_paths.budget)
        terminating_for = time.monotonic() - deleted_at
    report.attach_text("terminating backend: timings",
                       f"{pod} deleted → {terminating_node}'s path withdrawn: "
                       f"{withdrawn_after:.1f} s\n"
                       f"{pod} deleted → gone (Terminating): {terminating_for:.1f} s\n"
                       f"preStop sleep: {PRE_STOP_S} s\n")
