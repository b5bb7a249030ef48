"""DaemonSets and ReplicaSets through the official client and kubectl: discovery, CRUD, the
status and scale subresources, validation as kube-apiserver words it, and kubectl's columns."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from .conftest import Api, workload
from .kubectl import kubectl, needs_kubectl
from .rawhttp import call

CILIUM_IMAGE = "quay.io/cilium/cilium:v1.17.1"


def cilium_daemonset() -> dict[str, Any]:
    manifest = workload("DaemonSet", "cilium", CILIUM_IMAGE)
    manifest["metadata"] = {"name": "cilium", "labels": {"k8s-app": "cilium"}}
    return manifest


def test_discovery_serves_daemonsets_and_replicasets(api: Api) -> None:
    apps = {r.name: r for r in api.apps.get_api_resources().resources}
    assert (apps["daemonsets"].short_names, apps["daemonsets"].namespaced) == (["ds"], True)
    assert apps["replicasets"].short_names == ["rs"]
    assert {"daemonsets/status", "replicasets/status", "replicasets/scale"} <= set(apps)
    assert "daemonsets/scale" not in apps
    assert call(api, "GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/x/scale")[0] == 404


def test_daemonset_crud_and_status(api: Api) -> None:
    created = api.apps.create_namespaced_daemon_set("kube-system", cilium_daemonset())
    assert created.spec.update_strategy.type == "RollingUpdate"
    assert (created.status.desired_number_scheduled, created.status.number_ready) == (0, 0)
    assert created.metadata.generation == 1
    rollout = {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
               "updatedNumberScheduled": 3, "numberAvailable": 2, "numberMisscheduled": 0}
    api.apps.patch_namespaced_daemon_set_status("cilium", "kube-system", {"status": rollout})
    ignored = api.apps.patch_namespaced_daemon_set("cilium", "kube-system",
                                                   {"status": {"numberReady": 0}})
    assert ignored.status.number_ready == 2
    seen = api.apps.read_namespaced_daemon_set("cilium", "kube-system")
    seen.spec.template.spec.containers[0].image = "quay.io/cilium/cilium:v1.17.2"
    replaced = api.apps.replace_namespaced_daemon_set("cilium", "kube-system", seen)
    assert (replaced.metadata.generation, replaced.status.desired_number_scheduled) == (2, 3)
    listed = api.apps.list_daemon_set_for_all_namespaces(label_selector="k8s-app=cilium")
    assert [d.metadata.name for d in listed.items] == ["cilium"]
    api.apps.delete_namespaced_daemon_set("cilium", "kube-system")
    assert api.apps.list_namespaced_daemon_set("kube-system").items == []


def test_replicaset_scale_and_status(api: Api) -> None:
    created = api.apps.create_namespaced_replica_set("default", workload("ReplicaSet", "web"))
    assert (created.spec.replicas, created.status.replicas) == (1, 0)
    api.apps.patch_namespaced_replica_set_scale("web", "default", {"spec": {"replicas": 3}})
    scale = api.apps.read_namespaced_replica_set_scale("web", "default")
    assert (scale.spec.replicas, scale.status.selector) == (3, "app=web")
    api.apps.patch_namespaced_replica_set_status("web", "default",
                                                 {"status": {"replicas": 3, "readyReplicas": 1}})
    assert api.apps.read_namespaced_replica_set_status("web", "default").status.ready_replicas == 1


@pytest.mark.parametrize(("kind", "change", "field", "message"), [
    ("DaemonSet", {"selector": None}, "spec.selector", "Required value"),
    ("DaemonSet", {"selector": {"matchLabels": {"app": "other"}}},
     "spec.template.metadata.labels", "`selector` does not match template `labels`"),
    ("ReplicaSet", {"selector": {}}, "spec.selector", "Required value"),
    ("ReplicaSet", {"replicas": -1}, "spec.replicas", "must be greater than or equal to 0"),
    ("DaemonSet", {"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
     "spec.selector.matchExpressions[0].values", "must be specified"),
], ids=["ds-no-selector", "ds-mismatch", "rs-empty-selector", "rs-negative", "ds-no-values"])
def test_invalid_workloads_are_refused(api: Api, kind: str, change: dict[str, object],
                                       field: str, message: str) -> None:
    manifest = workload(kind, "web")
    manifest["spec"] = {k: v for k, v in {**manifest["spec"], **change}.items() if v is not None}
    code, answer = call(api, "POST", f"/apis/apps/v1/namespaces/default/{kind.lower()}s",
                        json.dumps(manifest))
    assert (code, answer["reason"]) == (422, "Invalid"), answer
    causes = {c["field"]: c["message"] for c in answer["details"]["causes"]}
    assert message in causes.get(field, ""), f"{field}: expected {message!r}, causes {causes}"


def test_template_must_restart_always_and_selector_is_immutable(api: Api) -> None:
    manifest = workload("DaemonSet", "web")
    manifest["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    with pytest.raises(ApiException) as caught:
        api.apps.create_namespaced_daemon_set("default", manifest)
    message = json.loads(str(caught.value.body))["message"]
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Never"' in message
    api.apps.create_namespaced_replica_set("default", workload("ReplicaSet", "web"))
    with pytest.raises(ApiException) as caught:
        api.apps.patch_namespaced_replica_set("web", "default", {"spec": {"selector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "app", "operator": "Exists"}]}}})
    causes = json.loads(str(caught.value.body))["details"]["causes"]
    assert [(c["field"], c["message"].endswith("field is immutable")) for c in causes] == [
        ("spec.selector", True)], causes


@needs_kubectl
def test_kubectl_get_daemonsets_and_replicasets(api: Api) -> None:
    api.store.create("daemonsets", cilium_daemonset(), "kube-system")
    api.store.patch("daemonsets", "cilium", {"status": {"desiredNumberScheduled": 3,
                                                        "numberReady": 2}},
                    "kube-system", status=True)
    header, row = kubectl(api, "get", "ds", "-n", "kube-system").splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                              "NODE", "SELECTOR", "AGE"]
    assert row.split()[:7] == ["cilium", "3", "0", "2", "0", "0", "<none>"]
    image = kubectl(api, "get", "daemonset", "cilium", "-n", "kube-system", "-o",
                    "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == CILIUM_IMAGE
    wide = kubectl(api, "get", "ds", "-n", "kube-system", "-o", "wide").splitlines()
    assert wide[1].split()[-3:] == ["cilium", CILIUM_IMAGE, "app=cilium"]
    api.store.create("replicasets", workload("ReplicaSet", "web", replicas=2), "default")
    header, row = kubectl(api, "get", "rs").splitlines()
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert row.split()[:4] == ["web", "2", "0", "0"]
