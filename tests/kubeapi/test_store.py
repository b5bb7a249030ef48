"""The store used in-process, the way the lab's controllers use it."""

from __future__ import annotations

import threading

import pytest

from pytest_ciliumbgp.emulator.kubeapi.errors import ApiError
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.kubeapi.watch import WatchEvent


def lb_service(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"type": "LoadBalancer",
                                                 "ports": [{"port": 80}]}}


def test_controller_writes_status_from_its_watch() -> None:
    store = Store()
    done = threading.Event()

    def controller() -> None:
        with store.watch("services") as events:
            for event in events:
                if event.type == "ADDED":
                    store.patch("services", event.name, {"status": {"loadBalancer": {
                        "ingress": [{"ip": "172.16.1.1"}]}}}, event.namespace, status=True)
                    done.set()
                    return

    thread = threading.Thread(target=controller)
    thread.start()
    store.create("services", lb_service("web"), "default")
    assert done.wait(5)
    thread.join()
    ingress = store.get("services", "web", "default")["status"]["loadBalancer"]["ingress"]
    assert ingress == [{"ip": "172.16.1.1"}]


def test_callbacks_see_events_in_order_even_when_they_write() -> None:
    store = Store()
    seen: list[tuple[str, str]] = []

    def reacting(event: WatchEvent) -> None:
        seen.append((event.type, event.name))
        if event.type == "ADDED" and event.resource.kind == "ConfigMap" and event.name == "a":
            store.create("configmaps", {"metadata": {"name": "b"}}, "default")

    store.subscribe(reacting)
    store.create("configmaps", {"metadata": {"name": "a"}}, "default")
    assert seen == [("ADDED", "a"), ("ADDED", "b")]


def test_unchanged_writes_publish_nothing() -> None:
    store = Store()
    created = store.create("configmaps", {"metadata": {"name": "a"}, "data": {"k": "v"}},
                           "default")
    again = store.patch("configmaps", "a", {"data": {"k": "v"}}, "default")
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_errors_are_api_errors() -> None:
    store = Store()
    with pytest.raises(ApiError) as caught:
        store.get("ippool", "missing")
    assert caught.value.code == 404


def test_owned_objects_are_collected_with_their_owner() -> None:
    store = Store()
    owner = store.create("deployments", {"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "w", "image": "whoami"}]}}}}, "default")
    store.create("pods", {"metadata": {"name": "web-1", "ownerReferences": [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
        "uid": owner["metadata"]["uid"]}]},
        "spec": {"containers": [{"name": "w", "image": "whoami"}]}}, "default")
    store.delete("deployments", "web", "default")
    assert store.find("pods", "web-1", "default") is None
