"""The EndpointSlice controller over a bare Store: slice identity, endpoint content and
conditions, named target ports, writes only on change, and clean-up."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.objectmeta import now
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.workloads.endpointslices import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
    EndpointSlices,
)

SLICES = "endpointslices"


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def controller(store: Store) -> EndpointSlices:
    return EndpointSlices(store)


def add_service(store: Store, name: str = "web", *, selector: bool = True,
                ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": ports or [{"name": "http", "port": 80, "targetPort": 8080}]}
    if selector:
        spec["selector"] = {"app": name}
    return store.create("services", {"metadata": {"name": name, "namespace": "default"},
                                     "spec": spec})


def add_pod(store: Store, name: str, *, app: str = "web", ip: str | None = "172.20.0.10",
            node: str = "k8s-w1", ready: bool = True,
            ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "whoami", "image": "traefik/whoami:v1.10"}
    if ports:
        container["ports"] = ports
    store.create("pods", {"metadata": {"name": name, "namespace": "default",
                                       "labels": {"app": app}, "finalizers": ["lab/test"]},
                          "spec": {"nodeName": node, "containers": [container]}})
    status: dict[str, Any] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now()}]}
    if ip:
        status.update(podIP=ip, podIPs=[{"ip": ip}], hostIP="192.168.10.101")
    return store.patch("pods", name, {"status": status}, "default", status=True)


def slices_of(store: Store, service: str = "web") -> list[dict[str, Any]]:
    return store.list(SLICES, "default", label_selector=f"{SERVICE_NAME_LABEL}={service}")


def only_slice(store: Store, service: str = "web") -> dict[str, Any]:
    found = slices_of(store, service)
    assert len(found) == 1, f"{service}: expected one EndpointSlice, found {len(found)}"
    return found[0]


def endpoints_by_pod(endpoint_slice: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["targetRef"]["name"]: e for e in endpoint_slice.get("endpoints") or []}


def test_slice_for_a_service(store: Store, controller: EndpointSlices) -> None:
    service = add_service(store)
    pod = add_pod(store, "web-1")
    controller.reconcile()
    made = only_slice(store)
    assert re.fullmatch(r"web-[a-z0-9]{5}", made["metadata"]["name"])
    assert made["metadata"]["labels"] == {SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: MANAGED_BY}
    assert made["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "web",
         "uid": service["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert made["addressType"] == "IPv4"
    assert made["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert made["endpoints"] == [{
        "addresses": ["172.20.0.10"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": "k8s-w1",
        "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default",
                      "uid": pod["metadata"]["uid"]},
    }]


def test_only_selected_pods_with_an_address(store: Store, controller: EndpointSlices) -> None:
    add_service(store)
    add_pod(store, "web-1", ip="172.20.0.10")
    add_pod(store, "web-2", ip=None)
    add_pod(store, "other", app="other", ip="172.20.0.11")
    store.create("namespaces", {"metadata": {"name": "elsewhere"}})
    store.create("pods", {"metadata": {"name": "web-3", "namespace": "elsewhere",
                                       "labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "c", "image": "i:1"}]}})
    controller.reconcile()
    assert set(endpoints_by_pod(only_slice(store))) == {"web-1"}


def test_conditions(store: Store, controller: EndpointSlices) -> None:
    add_service(store)
    add_pod(store, "ready", ip="172.20.0.10")
    add_pod(store, "unready", ip="172.20.0.11", ready=False)
    add_pod(store, "terminating", ip="172.20.0.12")
    store.delete("pods", "terminating", "default")  # the finalizer keeps it, terminating
    controller.reconcile()
    conditions = {name: e["conditions"] for name, e in endpoints_by_pod(only_slice(store)).items()}
    assert conditions == {
        "ready": {"ready": True, "serving": True, "terminating": False},
        "unready": {"ready": False, "serving": False, "terminating": False},
        "terminating": {"ready": False, "serving": True, "terminating": True},
    }


def test_named_target_port(store: Store, controller: EndpointSlices) -> None:
    add_service(store, ports=[{"name": "http", "port": 80, "targetPort": "web"},
                              {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
                              {"name": "gone", "port": 81, "targetPort": "nowhere"}])
    add_pod(store, "web-1", ports=[{"name": "web", "containerPort": 8080},
                                   {"name": "dns", "containerPort": 5353, "protocol": "UDP"}])
    controller.reconcile()
    assert only_slice(store)["ports"] == [
        {"name": "http", "port": 8080, "protocol": "TCP"},
        {"name": "dns", "port": 5353, "protocol": "UDP"},
    ]


def test_writes_only_on_change(store: Store, controller: EndpointSlices) -> None:
    add_service(store)
    add_pod(store, "web-1")
    controller.reconcile()
    first = only_slice(store)
    controller.reconcile()
    assert only_slice(store)["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    add_pod(store, "web-2", ip="172.20.0.11")
    controller.reconcile()
    second = only_slice(store)
    assert second["metadata"]["name"] == first["metadata"]["name"], "the slice keeps its name"
    assert set(endpoints_by_pod(second)) == {"web-1", "web-2"}
    writes = []
    unsubscribe = store.subscribe(lambda event: writes.append(event) if
                                  event.resource.plural == SLICES else None)
    controller.reconcile()
    unsubscribe()
    assert writes == []


def test_slice_of_a_deleted_service_goes(store: Store, controller: EndpointSlices) -> None:
    add_service(store)
    add_pod(store, "web-1")
    controller.reconcile()
    store.delete("services", "web", "default")
    assert slices_of(store) == [], "the store collects the slice by its ownerReference"
    controller.reconcile()
    assert slices_of(store) == []


def test_slice_goes_when_the_selector_does(store: Store, controller: EndpointSlices) -> None:
    add_service(store)
    controller.reconcile()
    assert only_slice(store)["endpoints"] == []
    store.patch("services", "web", {"spec": {"selector": None}}, "default")
    controller.reconcile()
    assert slices_of(store) == []


def test_selectorless_services_are_left_alone(store: Store,
                                              controller: EndpointSlices) -> None:
    add_service(store, selector=False)
    by_hand = {"metadata": {"name": "web-by-hand", "namespace": "default",
                            "labels": {SERVICE_NAME_LABEL: "web"}},
               "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
               "endpoints": [{"addresses": ["10.1.2.3"]}]}
    store.create(SLICES, by_hand)
    controller.reconcile()
    assert [s["metadata"]["name"] for s in slices_of(store)] == ["web-by-hand"]


def test_a_deleted_slice_is_made_again(store: Store, controller: EndpointSlices) -> None:
    add_service(store)
    add_pod(store, "web-1")
    controller.reconcile()
    store.delete(SLICES, only_slice(store)["metadata"]["name"], "default")
    controller.reconcile()
    assert set(endpoints_by_pod(only_slice(store))) == {"web-1"}


def test_running_controller_follows_pods(store: Store, controller: EndpointSlices) -> None:
    add_service(store)
    controller.start()
    try:
        add_pod(store, "web-1")
        deadline = time.monotonic() + 5
        while not any(endpoints_by_pod(s) for s in slices_of(store)):
            assert time.monotonic() < deadline, "web-1 not in an EndpointSlice within 5 s"
            time.sleep(0.02)
        assert set(endpoints_by_pod(only_slice(store))) == {"web-1"}
    finally:
        controller.stop()
