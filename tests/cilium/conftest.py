"""A Store with an LB-IPAM operator, reconciled synchronously, and helpers that create pools and
Services and read back what the operator wrote, as an operator reads it from the API."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ciliumbgp.emulator.cilium.lbipam import LbIpam
from pytest_ciliumbgp.emulator.kubeapi.store import Store

POOLS = "ciliumloadbalancerippools"


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def ipam(store: Store) -> LbIpam:
    return LbIpam(store)


def add_pool(store: Store, name: str, *blocks: dict[str, str], **spec: Any) -> dict[str, Any]:
    body = {"apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool",
            "metadata": {"name": name},
            "spec": {"blocks": list(blocks) or [{"cidr": "172.16.1.0/24"}], **spec}}
    return store.create(POOLS, body)


def add_service(store: Store, name: str, namespace: str = "default", *,
                annotations: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                ports: tuple[int, ...] = (80,), **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        metadata["annotations"] = annotations
    if labels:
        metadata["labels"] = labels
    body = {"apiVersion": "v1", "kind": "Service", "metadata": metadata,
            "spec": {"type": "LoadBalancer", "selector": {"app": name},
                     "ports": [{"name": f"p{p}", "port": p} for p in ports], **spec}}
    return store.create("services", body, namespace)


def ingress(store: Store, name: str, namespace: str = "default") -> list[str]:
    status = store.get("services", name, namespace).get("status") or {}
    return [entry["ip"] for entry in (status.get("loadBalancer") or {}).get("ingress") or []]


def request_condition(store: Store, name: str, namespace: str = "default",
                      ) -> dict[str, Any] | None:
    status = store.get("services", name, namespace).get("status") or {}
    return next((c for c in status.get("conditions") or []
                 if c["type"] == "cilium.io/IPAMRequestSatisfied"), None)


def reason(store: Store, name: str, namespace: str = "default") -> str | None:
    found = request_condition(store, name, namespace)
    return None if found is None else str(found["reason"])


def pool_conditions(store: Store, name: str) -> dict[str, dict[str, Any]]:
    status = store.get(POOLS, name).get("status") or {}
    return {c["type"]: c for c in status.get("conditions") or []}


def counters(store: Store, name: str) -> tuple[int, int, int]:
    """(IPsTotal, IPsAvailable, IPsUsed) as the pool's conditions report them."""
    found = pool_conditions(store, name)
    return tuple(int(found[f"cilium.io/IPs{kind}"]["message"])  # type: ignore[return-value]
                 for kind in ("Total", "Available", "Used"))
