"""Every PATCH content type, through the official client and as raw requests."""

from __future__ import annotations

from .conftest import Api, pool
from .rawhttp import call


def pod(name: str) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "web", "image": "whoami:1", "ports": [{"containerPort": 80}],
                 "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "busybox:1"}]}}


def test_json_patch(api: Api) -> None:
    api.core.create_namespaced_config_map("default", {"metadata": {"name": "c"},
                                                      "data": {"a": "1"}})
    patched = api.core.patch_namespaced_config_map(
        "c", "default", [{"op": "add", "path": "/data/b", "value": "2"},
                         {"op": "remove", "path": "/data/a"}])
    assert patched.data == {"b": "2"}
    code, body = call(api, "PATCH", "/api/v1/namespaces/default/configmaps/c",
                      '[{"op": "test", "path": "/data/b", "value": "3"}]',
                      content_type="application/json-patch+json")
    assert (code, body["reason"]) == (422, "Invalid")


def test_merge_patch_deletes_with_null(api: Api) -> None:
    api.custom.create_cluster_custom_object("cilium.io", "v2", "ciliumloadbalancerippools",
                                            {**pool("p1"), "metadata": {
                                                "name": "p1", "labels": {"a": "1", "b": "2"}}})
    patched = api.custom.patch_cluster_custom_object(
        "cilium.io", "v2", "ciliumloadbalancerippools", "p1",
        {"metadata": {"labels": {"a": None}}, "spec": {"blocks": [{"cidr": "10.0.0.0/24"}]}})
    assert patched["metadata"]["labels"] == {"b": "2"}
    assert patched["spec"]["blocks"] == [{"cidr": "10.0.0.0/24"}]


def test_strategic_merge_merges_lists_by_key(api: Api) -> None:
    api.core.create_namespaced_pod("default", pod("p"))
    api.core.patch_namespaced_pod_status("default" and "p", "default", {"status": {
        "conditions": [{"type": "Ready", "status": "False"},
                       {"type": "PodScheduled", "status": "True"}]}})
    patched = api.core.patch_namespaced_pod_status("p", "default", {"status": {
        "conditions": [{"type": "Ready", "status": "True"}]}})
    assert {c.type: c.status for c in patched.status.conditions} == {
        "Ready": "True", "PodScheduled": "True"}
    updated = api.core.patch_namespaced_pod("p", "default", {"spec": {"containers": [
        {"name": "web", "image": "whoami:2"}]}})
    images = {c.name: c.image for c in updated.spec.containers}
    assert images == {"web": "whoami:2", "side": "busybox:1"}
    assert updated.spec.containers[0].env[0].name == "A"


def test_strategic_merge_ports_and_directives(api: Api) -> None:
    api.core.create_namespaced_service("default", {
        "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80},
                                                       {"name": "https", "port": 443}]}})
    patched = api.core.patch_namespaced_service("web", "default", {"spec": {"ports": [
        {"port": 443, "targetPort": 8443, "name": "https"}, {"port": 80, "$patch": "delete"}]}})
    assert [(p.port, p.target_port) for p in patched.spec.ports] == [(443, 8443)]
    replaced = api.core.patch_namespaced_service(
        "web", "default", {"metadata": {"labels": {"$patch": "replace", "c": "3"}}})
    assert replaced.metadata.labels == {"c": "3"}


def test_server_side_apply_creates_then_merges(api: Api) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: applied}\ndata: {a: '1'}\n"
    code, body = call(api, "PATCH", "/api/v1/namespaces/default/configmaps/applied?"
                      "fieldManager=suite&force=true", manifest,
                      content_type="application/apply-patch+yaml")
    assert (code, body["data"]) == (201, {"a": "1"})
    code, body = call(api, "PATCH", "/api/v1/namespaces/default/configmaps/applied?"
                      "fieldManager=suite", manifest.replace("a: '1'", "b: '2'"),
                      content_type="application/apply-patch+yaml")
    assert (code, body["data"]) == (200, {"a": "1", "b": "2"})
    assert body["metadata"]["managedFields"][0]["manager"] == "suite"
    code, body = call(api, "PATCH", "/api/v1/namespaces/default/configmaps/applied", manifest,
                      content_type="application/apply-patch+yaml")
    assert code == 400


def test_server_side_apply_on_a_custom_resource(api: Api) -> None:
    # The create answers 201, which this client method does not decode (as against a real one).
    api.custom.patch_cluster_custom_object(
        "cilium.io", "v2", "ciliumloadbalancerippools", "p1", pool("p1"),
        field_manager="suite", _content_type="application/apply-patch+yaml")
    applied = api.custom.patch_cluster_custom_object(
        "cilium.io", "v2", "ciliumloadbalancerippools", "p1",
        {**pool("p1"), "spec": {"disabled": True}},
        field_manager="suite", _content_type="application/apply-patch+yaml")
    assert applied["spec"] == {"blocks": [{"cidr": "172.16.1.0/24"}], "disabled": True}
