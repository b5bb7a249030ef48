"""Graceful Pod deletion in the store, as the lab's node agent and controllers see it: a delete
starts the grace period, a delete with grace 0 ends it."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.graceful import grace_period
from pytest_ciliumbgp.emulator.kubeapi.objectmeta import parse_time
from pytest_ciliumbgp.emulator.kubeapi.resources import resolve
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.kubeapi.watch import WatchEvent

from .conftest import assert_terminating, pod, workload


@pytest.fixture
def store() -> Store:
    return Store()


def recorded(store: Store) -> list[tuple[str, str]]:
    events: list[tuple[str, str]] = []

    def record(event: WatchEvent) -> None:
        if event.resource.kind == "Pod":
            events.append((event.type, event.name))
    store.subscribe(record)
    return events


@pytest.mark.parametrize(("spec", "requested", "grace"), [
    ({"terminationGracePeriodSeconds": 5}, None, 5),
    ({"terminationGracePeriodSeconds": 5}, 12, 12),
    ({}, None, 30),
], ids=["grace=spec", "grace=options", "grace=default"])
def test_delete_starts_the_grace_period(store: Store, spec: dict[str, Any],
                                        requested: int | None, grace: int) -> None:
    created = store.create("pods", pod("web-0", **spec), "default")
    events = recorded(store)
    terminating, removed = store.delete("pods", "web-0", "default",
                                        grace_period_seconds=requested)
    assert removed is False
    assert_terminating(terminating, grace)
    assert terminating["metadata"]["generation"] == created["metadata"]["generation"]
    assert store.get("pods", "web-0", "default") == terminating
    assert events == [("MODIFIED", "web-0")]


def test_default_grace_is_30_seconds_when_the_spec_has_none() -> None:
    # Admission always defaults the field, so only the rule itself can see it missing.
    unset = {"metadata": {"name": "p"}, "spec": {"nodeName": "k8s-w1"}}
    assert grace_period(resolve("pods"), unset, None) == 30


@pytest.mark.parametrize(("manifest", "requested"), [
    (pod("web-0"), 0),
    (pod("web-0", node=None), None),
    (pod("web-0", node=None), 30),
], ids=["grace=0", "unscheduled", "unscheduled-grace=30"])
def test_delete_removes_at_once(store: Store, manifest: dict[str, Any],
                                requested: int | None) -> None:
    store.create("pods", manifest, "default")
    events = recorded(store)
    _, removed = store.delete("pods", "web-0", "default", grace_period_seconds=requested)
    assert removed is True
    assert store.find("pods", "web-0", "default") is None
    assert events == [("DELETED", "web-0")]


def test_finished_pod_goes_at_once(store: Store) -> None:
    store.create("pods", pod("job-0"), "default")
    store.patch("pods", "job-0", {"status": {"phase": "Succeeded"}}, "default", status=True)
    assert store.delete("pods", "job-0", "default")[1] is True


def test_only_a_shorter_grace_period_changes_a_terminating_pod(store: Store) -> None:
    store.create("pods", pod("web-0"), "default")
    first, _ = store.delete("pods", "web-0", "default")
    started = parse_time(first["metadata"]["deletionTimestamp"])
    for longer_or_none in (30, 45, None):
        again, removed = store.delete("pods", "web-0", "default",
                                      grace_period_seconds=longer_or_none)
        assert (again, removed) == (first, False), f"grace {longer_or_none} changed the pod"
    shortened, removed = store.delete("pods", "web-0", "default", grace_period_seconds=10)
    assert removed is False
    assert_terminating(shortened, 10)
    moved = started - parse_time(shortened["metadata"]["deletionTimestamp"])
    assert moved.total_seconds() == 20
    _, removed = store.delete("pods", "web-0", "default", grace_period_seconds=0)
    assert removed is True
    assert store.find("pods", "web-0", "default") is None


def test_terminating_pod_stays_through_status_writes(store: Store) -> None:
    store.create("pods", pod("web-0"), "default")
    store.delete("pods", "web-0", "default")
    store.patch("pods", "web-0", {"status": {"phase": "Running"}}, "default", status=True)
    store.patch("pods", "web-0", {"metadata": {"labels": {"stopping": "yes"}}}, "default")
    assert store.get("pods", "web-0", "default")["metadata"]["deletionGracePeriodSeconds"] == 30


def test_finalizers_outlast_the_grace_period(store: Store) -> None:
    store.create("pods", {**pod("web-0"), "metadata": {
        "name": "web-0", "finalizers": ["example.com/hold"]}}, "default")
    assert_terminating(store.delete("pods", "web-0", "default")[0], 30)
    held, removed = store.delete("pods", "web-0", "default", grace_period_seconds=0)
    assert (removed, held["metadata"]["deletionGracePeriodSeconds"]) == (False, 0)
    store.patch("pods", "web-0", {"metadata": {"finalizers": None}}, "default")
    assert store.find("pods", "web-0", "default") is None


def owned_by(owner: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    reference = {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                 "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                 "controller": True}
    return {**manifest, "metadata": {**manifest["metadata"], "ownerReferences": [reference]}}


def test_pods_of_a_deleted_deployment_terminate_gracefully(store: Store) -> None:
    deployment = store.create("deployments", workload("Deployment", "web"), "default")
    replicas = store.create("replicasets", owned_by(deployment, workload("ReplicaSet", "web")),
                            "default")
    store.create("pods", owned_by(replicas, pod("web-0", terminationGracePeriodSeconds=8)),
                 "default")
    store.create("pods", owned_by(replicas, pod("web-1", node=None)), "default")
    store.delete("deployments", "web", "default", grace_period_seconds=0)
    assert store.find("replicasets", "web", "default") is None
    assert store.find("pods", "web-1", "default") is None, "an unscheduled Pod should go at once"
    assert_terminating(store.get("pods", "web-0", "default"), 8)
    store.delete("pods", "web-0", "default", grace_period_seconds=0)
    assert store.list("pods", "default") == []


def test_namespace_goes_once_its_pods_have_stopped(store: Store) -> None:
    store.create("namespaces", {"metadata": {"name": "team"}})
    store.create("pods", pod("web-0"), "team")
    store.create("configmaps", {"metadata": {"name": "c"}}, "team")
    _, removed = store.delete("namespaces", "team")
    assert removed is False
    assert store.get("namespaces", "team")["status"]["phase"] == "Terminating"
    assert store.find("configmaps", "c", "team") is None
    assert_terminating(store.get("pods", "web-0", "team"), 30)
    store.delete("pods", "web-0", "team", grace_period_seconds=0)
    assert store.find("namespaces", "team") is None


def test_delete_all_passes_the_grace_period_on(store: Store) -> None:
    for name in ("web-0", "web-1"):
        store.create("pods", pod(name), "default")
    rt = resolve("pods")
    terminating = store.delete_all(rt, store.list(rt, "default"), grace_period_seconds=4)
    assert [p["metadata"]["deletionGracePeriodSeconds"] for p in terminating] == [4, 4]
    store.delete_all(rt, store.list(rt, "default"), grace_period_seconds=0)
    assert store.list(rt, "default") == []
