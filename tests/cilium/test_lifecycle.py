"""Which Services are handled, release, re-allocation when pools change, idempotent writes,
the running operator (in-process and behind the API server) and the LB-IPAM faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.cilium.lbipam import LbIpam
from pytest_ciliumbgp.emulator.faults import (
    ALLOCATE_FROM_CONFLICTING_POOL,
    IGNORE_BGP_CONTROL_PLANE_CLASS,
    Faults,
)
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from tests.apiserver import Api

from .conftest import POOLS, add_pool, add_service, counters, ingress, reason

# Dropping the policy too: the API refuses externalTrafficPolicy on a ClusterIP Service.
TO_CLUSTER_IP = {"spec": {"type": "ClusterIP", "externalTrafficPolicy": None}}


def eventually(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout} s")
        time.sleep(0.02)


@pytest.mark.parametrize(("load_balancer_class", "handled"), [
    (None, True), ("io.cilium/bgp-control-plane", True), ("io.cilium/l2-announcer", True),
    ("example.com/other", False),
], ids=["no-class", "bgp-control-plane", "l2-announcer", "other"])
def test_load_balancer_classes(store: Store, ipam: LbIpam, load_balancer_class: str | None,
                               handled: bool) -> None:
    add_pool(store, "pool")
    spec: dict[str, Any] = (
        {"loadBalancerClass": load_balancer_class} if load_balancer_class else {})
    add_service(store, "web", **spec)
    ipam.reconcile()
    assert (ingress(store, "web") == ["172.16.1.0"]) is handled
    assert reason(store, "web") == ("satisfied" if handled else None)


def test_cluster_ip_service_is_left_alone(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_service(store, "web", type="ClusterIP")
    ipam.reconcile()
    assert reason(store, "web") is None
    assert counters(store, "pool") == (256, 256, 0)


def test_release_on_delete(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_service(store, "web")
    ipam.reconcile()
    store.delete("services", "web", "default")
    ipam.reconcile()
    assert counters(store, "pool") == (256, 256, 0)
    add_service(store, "next")
    ipam.reconcile()
    assert ingress(store, "next") == ["172.16.1.0"]


def test_release_on_type_change(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_service(store, "web")
    ipam.reconcile()
    store.patch("services", "web", TO_CLUSTER_IP, "default")
    ipam.reconcile()
    assert ingress(store, "web") == []
    assert reason(store, "web") is None
    assert counters(store, "pool") == (256, 256, 0)


def test_reallocation_when_the_pool_is_deleted(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "a-pool", {"cidr": "10.0.1.0/24"})
    add_pool(store, "b-pool", {"cidr": "10.0.2.0/24"})
    add_service(store, "web")
    ipam.reconcile()
    assert ingress(store, "web") == ["10.0.1.0"]
    store.delete(POOLS, "a-pool")
    ipam.reconcile()
    assert ingress(store, "web") == ["10.0.2.0"]
    store.delete(POOLS, "b-pool")
    ipam.reconcile()
    assert ingress(store, "web") == []
    assert reason(store, "web") == "no_pool"


def test_reallocation_when_the_selector_stops_matching(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "a-pool", {"cidr": "10.0.1.0/24"})
    add_pool(store, "b-pool", {"cidr": "10.0.2.0/24"})
    add_service(store, "web")
    ipam.reconcile()
    store.patch(POOLS, "a-pool", {"spec": {"serviceSelector": {"matchLabels": {"x": "y"}}}})
    ipam.reconcile()
    assert ingress(store, "web") == ["10.0.2.0"]
    assert counters(store, "a-pool") == (256, 256, 0)


def test_existing_address_is_kept_when_a_lower_one_frees(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    for name in ("one", "two"):
        add_service(store, name)
        ipam.reconcile()
    store.delete("services", "one", "default")
    ipam.reconcile()
    assert ingress(store, "two") == ["172.16.1.1"]


def test_second_pass_writes_nothing(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_pool(store, "overlap")
    add_service(store, "web")
    add_service(store, "refused", annotations={"lbipam.cilium.io/ips": "192.0.2.1"})
    ipam.reconcile()
    before = store.resource_version
    ipam.reconcile()
    assert store.resource_version == before


def test_running_operator_follows_changes(store: Store) -> None:
    ipam = LbIpam(store)
    ipam.start()
    try:
        add_pool(store, "pool")
        add_service(store, "web")
        eventually(lambda: ingress(store, "web") == ["172.16.1.0"], "web gets 172.16.1.0")
        store.patch("services", "web", TO_CLUSTER_IP, "default")
        eventually(lambda: ingress(store, "web") == [], "web loses its address")
        settled = store.resource_version
        time.sleep(0.2)
        assert store.resource_version == settled, "the operator keeps writing after settling"
    finally:
        ipam.stop()


def test_through_the_api_server(api: Api) -> None:
    ipam = LbIpam(api.store)
    ipam.start()
    try:
        api.custom.create_cluster_custom_object(
            "cilium.io", "v2", "ciliumloadbalancerippools",
            {"apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool",
             "metadata": {"name": "pool"}, "spec": {"blocks": [{"cidr": "172.16.1.0/24"}],
                                                    "allowFirstLastIPs": "No"}})
        api.core.create_namespaced_service("default", {
            "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": "io.cilium/bgp-control-plane",
                     "selector": {"app": "web"}, "ports": [{"port": 80}]}})

        def assigned() -> bool:
            status = api.core.read_namespaced_service_status("web", "default").status
            return bool(status.load_balancer.ingress) and bool(status.conditions)
        eventually(assigned, "web gets an address")
        status = api.core.read_namespaced_service_status("web", "default").status
        assert [entry.ip for entry in status.load_balancer.ingress] == ["172.16.1.1"]
        assert [(c.type, c.status, c.reason) for c in status.conditions] == [
            ("cilium.io/IPAMRequestSatisfied", "True", "satisfied")]
        pool = api.custom.get_cluster_custom_object("cilium.io", "v2",
                                                    "ciliumloadbalancerippools", "pool")
        found = {c["type"]: c["message"] for c in pool["status"]["conditions"]}
        assert (found["cilium.io/IPsTotal"], found["cilium.io/IPsUsed"]) == ("254", "1")
    finally:
        ipam.stop()


def test_fault_allocates_from_a_conflicting_pool(store: Store) -> None:
    add_pool(store, "first", {"cidr": "10.0.0.0/24"},
             serviceSelector={"matchLabels": {"pool": "first"}})
    add_pool(store, "second", {"cidr": "10.0.0.0/24"})
    add_service(store, "web")
    faithful = LbIpam(store)
    faithful.reconcile()
    assert reason(store, "web") == "no_pool"
    LbIpam(store, faults=Faults({ALLOCATE_FROM_CONFLICTING_POOL: None})).reconcile()
    assert ingress(store, "web") == ["10.0.0.0"]


def test_fault_ignores_the_bgp_control_plane_class(store: Store) -> None:
    add_pool(store, "pool")
    add_service(store, "web", loadBalancerClass="io.cilium/bgp-control-plane")
    add_service(store, "plain")
    LbIpam(store, faults=Faults({IGNORE_BGP_CONTROL_PLANE_CLASS: None})).reconcile()
    assert ingress(store, "web") == []
    assert reason(store, "web") is None
    assert ingress(store, "plain") == ["172.16.1.0"]
