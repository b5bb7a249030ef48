"""Where the scheduler puts pods: the fewest pods first, nodeSelector, required pod
anti-affinity on hostnames, unready and cordoned nodes, and the Unschedulable message."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.workloads.scheduler import Scheduler

from .conftest import PODS, add_nodes, add_pod, condition

ONE_PER_NODE = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}


@pytest.fixture
def scheduler(store: Store) -> Scheduler:
    add_nodes(store)
    return Scheduler(store)


def node_of(store: Store, name: str, namespace: str = "default") -> str | None:
    found: str | None = store.get(PODS, name, namespace)["spec"].get("nodeName")
    return found


def scheduled(store: Store, name: str) -> dict[str, Any]:
    found = condition(store.get(PODS, name, "default"), "PodScheduled")
    assert found is not None, f"pod {name}: no PodScheduled condition"
    return found


def test_binds_to_node_with_fewest_pods_ties_by_name(store: Store, scheduler: Scheduler,
                                                      ) -> None:
    add_pod(store, "a", node="k8s-ctr")
    add_pod(store, "b", node="k8s-w0")
    add_pod(store, "c", node="k8s-w0")
    add_pod(store, "new")
    scheduler.reconcile()
    assert node_of(store, "new") == "k8s-w1"
    add_pod(store, "next")
    scheduler.reconcile()
    assert node_of(store, "next") == "k8s-ctr", "k8s-ctr and k8s-w1 hold one pod: first by name"
    found = scheduled(store, "new")
    assert found["status"] == "True"


def test_spreads_pods_scheduled_in_one_pass(store: Store, scheduler: Scheduler) -> None:
    for index in range(3):
        add_pod(store, f"p{index}")
    scheduler.reconcile()
    assert {node_of(store, f"p{i}") for i in range(3)} == {"k8s-ctr", "k8s-w0", "k8s-w1"}


def test_node_selector(store: Store, scheduler: Scheduler) -> None:
    add_pod(store, "pinned", nodeSelector={"kubernetes.io/hostname": "k8s-w0"})
    scheduler.reconcile()
    assert node_of(store, "pinned") == "k8s-w0"
    add_pod(store, "nowhere", nodeSelector={"disk": "ssd"})
    scheduler.reconcile()
    assert node_of(store, "nowhere") is None
    assert scheduled(store, "nowhere")["message"] == (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")


def test_required_anti_affinity_one_pod_per_node(store: Store, scheduler: Scheduler) -> None:
    for index in range(4):
        add_pod(store, f"web-{index}", labels={"app": "web"}, affinity=ONE_PER_NODE)
    add_pod(store, "other", labels={"app": "other"}, affinity=ONE_PER_NODE)
    scheduler.reconcile()
    placed = [node_of(store, f"web-{i}") for i in range(4)]
    assert sorted(n for n in placed if n) == ["k8s-ctr", "k8s-w0", "k8s-w1"]
    assert placed[3] is None, "the fourth replica has no node left"
    assert node_of(store, "other") is not None, "another app's pods do not repel it"
    found = scheduled(store, "web-3")
    assert (found["status"], found["reason"], found["message"]) == (
        "False", "Unschedulable",
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")


def test_anti_affinity_is_per_namespace_and_ignores_terminating(store: Store,
                                                                 scheduler: Scheduler) -> None:
    store.create("namespaces", {"metadata": {"name": "elsewhere"}})
    for node in ("k8s-ctr", "k8s-w0"):
        add_pod(store, f"old-{node}", labels={"app": "web"}, node=node)
    add_pod(store, "foreign", "elsewhere", labels={"app": "web"}, node="k8s-w1")
    store.delete(PODS, "old-k8s-w0", "default")
    assert store.get(PODS, "old-k8s-w0", "default")["metadata"].get("deletionTimestamp")
    add_pod(store, "web", labels={"app": "web"}, affinity=ONE_PER_NODE)
    add_pod(store, "web-2", labels={"app": "web"}, affinity=ONE_PER_NODE)
    scheduler.reconcile()
    assert {node_of(store, "web"), node_of(store, "web-2")} == {"k8s-w0", "k8s-w1"}


def test_unready_and_cordoned_nodes(store: Store, scheduler: Scheduler) -> None:
    store.patch("nodes", "k8s-w0", {"spec": {"unschedulable": True}})
    store.patch("nodes", "k8s-w1", {"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}}, status=True)
    store.patch("nodes", "k8s-ctr", {"spec": {"taints": [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}})
    add_pod(store, "waiting")
    scheduler.reconcile()
    assert node_of(store, "waiting") is None
    assert scheduled(store, "waiting")["message"] == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 1 node(s) had untolerated taint "
        "{node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable.")
    add_pod(store, "tolerant", tolerations=[
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
         "effect": "NoSchedule"}])
    scheduler.reconcile()
    assert node_of(store, "tolerant") == "k8s-ctr"


def test_unschedulable_pod_is_placed_when_a_node_frees_up(store: Store,
                                                          scheduler: Scheduler) -> None:
    store.patch("nodes", "k8s-w0", {"spec": {"unschedulable": True}})
    for node in ("k8s-ctr", "k8s-w1"):
        add_pod(store, f"web-{node}", labels={"app": "web"}, node=node)
    add_pod(store, "web", labels={"app": "web"}, affinity=ONE_PER_NODE)
    scheduler.reconcile()
    first = scheduled(store, "web")
    scheduler.reconcile()
    assert scheduled(store, "web") == first, "an unchanged verdict is not rewritten"
    store.patch("nodes", "k8s-w0", {"spec": {"unschedulable": False}})
    scheduler.reconcile()
    assert node_of(store, "web") == "k8s-w0"
    assert scheduled(store, "web")["status"] == "True"
