"""A bare Store and helpers that make Nodes and Pods as the API holds them.

The Store deletes a Pod bound to a node gracefully: it gets ``deletionTimestamp`` and stays,
Terminating, until its kubelet deletes it with grace period 0."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.objectmeta import now
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.nodes import node_object
from pytest_ciliumbgp.inventory import Inventory, parse_inventory

PODS = "pods"
WHOAMI = "traefik/whoami:v1.10.3"


@pytest.fixture
def store() -> Store:
    return Store()


def eventually(check: Callable[[], bool], what: str, timeout: float = 5.0) -> float:
    """Wait for ``check``; returns the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{what}: not seen within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


def small_inventory(nodes: Mapping[str, tuple[str, str]]) -> Inventory:
    """Nodes by name → (address on 192.168.77.0/24, PodCIDR), a router that is never built."""
    return parse_inventory({
        "name": "workloads-test",
        "networks": {"lan": "192.168.77.0/24"},
        "router": {"name": "router", "asn": 65000, "interfaces": [
            {"name": "eth1", "network": "lan", "address": "192.168.77.254/24"}]},
        "nodes": [{"name": name, "asn": 65001, "pod_cidr": pod_cidr, "interfaces": [
            {"name": "eth1", "network": "lan", "address": f"{address}/24"}]}
            for name, (address, pod_cidr) in nodes.items()],
        "lb_pool": "172.16.99.0/24",
    })


THREE_NODES = small_inventory({"k8s-ctr": ("192.168.77.100", "172.20.0.0/24"),
                               "k8s-w1": ("192.168.77.101", "172.20.1.0/24"),
                               "k8s-w0": ("192.168.77.102", "172.20.2.0/24")})


def add_nodes(store: Store, inventory: Inventory = THREE_NODES) -> None:
    for node in inventory.nodes:
        store.create("nodes", node_object(node, now()))


def pod_body(name: str, *, labels: Mapping[str, str] | None = None, node: str | None = None,
             **spec: Any) -> dict[str, Any]:
    container = {"name": "whoami", "image": WHOAMI,
                 "ports": [{"name": "http", "containerPort": 80}]}
    body_spec: dict[str, Any] = {"containers": [container], **spec}
    if node is not None:
        body_spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": dict(labels or {})}, "spec": body_spec}


def add_pod(store: Store, name: str, namespace: str = "default", **fields: Any,
            ) -> dict[str, Any]:
    return store.create(PODS, pod_body(name, **fields), namespace)


def condition(obj: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), None)


def set_ready(store: Store, name: str, ready: bool = True, namespace: str = "default") -> None:
    """Write the Ready condition as a kubelet would (for controllers tested without one)."""
    value = "True" if ready else "False"
    store.patch(PODS, name, {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": value, "lastTransitionTime": now()}]}}, namespace,
        status=True)
