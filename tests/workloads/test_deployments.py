"""The Deployment controller over a bare Store: pod names, labels and owners, scaling both
ways, replacement of deleted pods, rollout of a changed template, and the status it writes."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.workloads.deployments import (
    TEMPLATE_HASH_LABEL,
    Deployments,
    template_hash,
)
from pytest_ciliumbgp.kube.manifests.workloads import backend_deployment

from .conftest import PODS, condition, set_ready

SAFE = "[bcdfghjklmnpqrstvwxz2456789]"


@pytest.fixture
def controller(store: Store) -> Deployments:
    return Deployments(store)


def deploy(store: Store, replicas: int, name: str = "webpod") -> dict[str, Any]:
    return store.create("deployments", backend_deployment(name, {"app": name},
                                                          replicas=replicas), "default")


def live_pods(store: Store) -> list[dict[str, Any]]:
    return [p for p in store.list(PODS, "default") if not p["metadata"].get("deletionTimestamp")]


def names(store: Store) -> set[str]:
    return {p["metadata"]["name"] for p in live_pods(store)}


def bind_all(store: Store, node: str = "k8s-w1") -> None:
    for pod in live_pods(store):
        if not pod["spec"].get("nodeName"):
            store.patch(PODS, pod["metadata"]["name"], {"spec": {"nodeName": node}}, "default")


def ready_all(store: Store) -> None:
    for pod in live_pods(store):
        set_ready(store, pod["metadata"]["name"])


def test_creates_named_labelled_owned_pods(store: Store, controller: Deployments) -> None:
    deployment = deploy(store, 3)
    controller.reconcile()
    pods = live_pods(store)
    revision = template_hash(deployment["spec"]["template"])
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(f"webpod-{SAFE}{{10}}-{SAFE}{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["name"].startswith(f"webpod-{revision}-")
        assert pod["metadata"]["labels"] == {"app": "webpod", TEMPLATE_HASH_LABEL: revision}
        assert pod["metadata"]["ownerReferences"] == [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "webpod",
             "uid": deployment["metadata"]["uid"], "controller": True,
             "blockOwnerDeletion": True}]
        assert pod["spec"]["containers"][0]["image"] == "traefik/whoami:v1.10.3"
    controller.reconcile()
    assert len(live_pods(store)) == 3, "a second pass creates nothing more"


def test_template_hash_is_stable_and_ten_characters() -> None:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}
    assert template_hash(template) == template_hash(dict(reversed(list(template.items()))))
    assert len(template_hash(template)) == 10
    assert template_hash(template) != template_hash({**template, "spec": {"x": 1}})


def test_scale_up_and_down_newest_first(store: Store, controller: Deployments) -> None:
    deploy(store, 2)
    controller.reconcile()
    first = names(store)
    bind_all(store)
    time.sleep(1.05)  # creationTimestamp counts seconds: the next pods must be newer
    store.patch("deployments", "webpod", {"spec": {"replicas": 4}}, "default")
    controller.reconcile()
    assert len(names(store)) == 4
    assert first <= names(store)
    bind_all(store)
    ready_all(store)
    store.patch("deployments", "webpod", {"spec": {"replicas": 2}}, "default")
    controller.reconcile()
    pods = store.list(PODS, "default")
    terminating = {p["metadata"]["name"] for p in pods if p["metadata"].get("deletionTimestamp")}
    assert len(pods) == 4, "bound pods are deleted gracefully"
    assert len(terminating) == 2
    assert names(store) == first, "the newest pods go first"
    controller.reconcile()
    assert names(store) == first, "terminating pods are not replaced on scale down"


def test_scale_down_removes_unready_before_ready(store: Store, controller: Deployments) -> None:
    deploy(store, 3)
    controller.reconcile()
    bind_all(store)
    unready = sorted(names(store))[0]
    for name in names(store):
        set_ready(store, name, name != unready)
    store.patch("deployments", "webpod", {"spec": {"replicas": 2}}, "default")
    controller.reconcile()
    assert unready not in names(store)


def test_replaces_deleted_pods(store: Store, controller: Deployments) -> None:
    deploy(store, 2)
    controller.reconcile()
    bind_all(store)
    victim = sorted(names(store))[0]
    store.delete(PODS, victim, "default")
    controller.reconcile()
    assert len(names(store)) == 2
    assert victim not in names(store)
    assert store.get(PODS, victim, "default")["metadata"]["deletionTimestamp"], \
        "the terminating pod stays until its kubelet removes it"


def test_status(store: Store, controller: Deployments) -> None:
    deploy(store, 2)
    controller.reconcile()
    controller.reconcile()
    status = store.get("deployments", "webpod", "default")["status"]
    assert status["observedGeneration"] == 1
    assert (status["replicas"], status["updatedReplicas"], status["unavailableReplicas"]) == (
        2, 2, 2)
    assert "readyReplicas" not in status
    assert "availableReplicas" not in status
    deployment = store.get("deployments", "webpod", "default")
    available = condition(deployment, "Available")
    assert available is not None
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    bind_all(store)
    ready_all(store)
    controller.reconcile()
    deployment = store.get("deployments", "webpod", "default")
    status = deployment["status"]
    assert (status["readyReplicas"], status["availableReplicas"]) == (2, 2)
    assert "unavailableReplicas" not in status
    available, progressing = condition(deployment, "Available"), condition(deployment,
                                                                           "Progressing")
    assert available is not None
    assert progressing is not None
    assert (available["status"], available["message"]) == (
        "True", "Deployment has minimum availability.")
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert re.fullmatch(r'ReplicaSet "webpod-\w{10}" has successfully progressed\.',
                        progressing["message"])
    store.patch("deployments", "webpod", {"spec": {"replicas": 3}}, "default")
    controller.reconcile()
    controller.reconcile()
    status = store.get("deployments", "webpod", "default")["status"]
    assert (status["observedGeneration"], status["replicas"], status["readyReplicas"]) == (
        2, 3, 2)


def test_rollout_replaces_old_pods_once_new_ones_are_ready(store: Store,
                                                           controller: Deployments) -> None:
    deploy(store, 2)
    controller.reconcile()
    bind_all(store)
    ready_all(store)
    old = names(store)
    store.patch("deployments", "webpod", {"spec": {"template": {"spec": {"containers": [
        {"name": "whoami", "image": "traefik/whoami:v1.11.0"}]}}}}, "default")
    controller.reconcile()
    assert old < names(store), "new pods first, old ones kept"
    assert len(names(store)) == 4
    bind_all(store)
    for name in names(store) - old:
        set_ready(store, name)
    controller.reconcile()
    assert not names(store) & old, "old pods go once the new ones are ready"
    images = {p["spec"]["containers"][0]["image"] for p in live_pods(store)}
    assert images == {"traefik/whoami:v1.11.0"}


def test_deleting_the_deployment_deletes_its_pods(store: Store, controller: Deployments) -> None:
    deploy(store, 2)
    controller.reconcile()
    store.delete("deployments", "webpod", "default")
    assert store.list(PODS, "default") == []
