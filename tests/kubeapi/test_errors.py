"""Bad requests get the Status a real apiserver answers."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.exceptions import ApiException

from .conftest import Api, pool, service
from .rawhttp import call


def status_of(error: ApiException) -> dict[str, object]:
    body: dict[str, object] = json.loads(error.body or "{}")
    return body


@pytest.mark.parametrize("token", [None, "wrong"], ids=["no-token", "wrong-token"])
def test_requests_without_the_token_are_unauthorized(api: Api, token: str | None) -> None:
    code, body = call(api, "GET", "/api/v1/namespaces", token=token)
    assert (code, body["kind"], body["reason"]) == (401, "Status", "Unauthorized")


def test_malformed_json_is_bad_request(api: Api) -> None:
    code, body = call(api, "POST", "/api/v1/namespaces/default/configmaps", b"{not json")
    assert (code, body["reason"]) == (400, "BadRequest")


def test_unknown_resource_is_not_found(api: Api) -> None:
    code, body = call(api, "GET", "/api/v1/namespaces/default/widgets")
    assert (code, body["reason"]) == (404, "NotFound")
    code, body = call(api, "GET", "/apis/nope.io/v1/things")
    assert code == 404


def test_wrong_content_type_is_unsupported_media_type(api: Api) -> None:
    code, body = call(api, "POST", "/api/v1/namespaces/default/configmaps", "a: b",
                      content_type="text/plain")
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")
    code, body = call(api, "PATCH", "/api/v1/namespaces/default", "{}",
                      content_type="application/json")
    assert code == 415


def test_strategic_merge_on_a_custom_resource_is_unsupported(api: Api) -> None:
    api.custom.create_cluster_custom_object("cilium.io", "v2", "ciliumloadbalancerippools",
                                            pool("p1"))
    code, body = call(api, "PATCH", "/apis/cilium.io/v2/ciliumloadbalancerippools/p1",
                      '{"spec": {"disabled": true}}',
                      content_type="application/strategic-merge-patch+json")
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")


def test_stale_put_conflicts(api: Api) -> None:
    created = api.core.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    api.core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
    created.data = {"a": "2"}
    with pytest.raises(ApiException) as caught:
        api.core.replace_namespaced_config_map("c", "default", created)
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "Conflict")


def test_create_twice_already_exists(api: Api) -> None:
    api.core.create_namespaced_service("default", service("web"))
    with pytest.raises(ApiException) as caught:
        api.core.create_namespaced_service("default", service("web"))
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "AlreadyExists")


def test_get_missing_is_not_found(api: Api) -> None:
    with pytest.raises(ApiException) as caught:
        api.core.read_namespaced_pod("missing", "default")
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"], status["message"]) == (
        404, "NotFound", 'pods "missing" not found')


def test_unsupported_method_is_not_allowed(api: Api) -> None:
    code, body = call(api, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                      "{}")
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, _ = call(api, "PUT", "/api/v1/namespaces/default/pods", "{}")
    assert code == 405


def test_invalid_service_lists_its_causes(api: Api) -> None:
    bad = service("Web_1", type="Balancer", externalTrafficPolicy="Local")
    bad["spec"]["ports"] = [{"port": 70000, "protocol": "ICMP"}]  # type: ignore[index]
    with pytest.raises(ApiException) as caught:
        api.core.create_namespaced_service("default", bad)
    status = status_of(caught.value)
    fields = {c["field"] for c in status["details"]["causes"]}  # type: ignore[index]
    assert caught.value.status == 422
    assert status["reason"] == "Invalid"
    assert {"metadata.name", "spec.type"} <= fields


def test_service_port_and_policy_validation(api: Api) -> None:
    bad = service("web", type="ClusterIP", externalTrafficPolicy="Local")
    bad["spec"]["ports"] = [{"port": 0}]  # type: ignore[index]
    with pytest.raises(ApiException) as caught:
        api.core.create_namespaced_service("default", bad)
    fields = {c["field"] for c in status_of(caught.value)["details"]["causes"]}  # type: ignore[index]
    assert fields == {"spec.ports[0].port", "spec.externalTrafficPolicy"}


def test_pod_needs_containers_with_names_and_images(api: Api) -> None:
    with pytest.raises(ApiException) as caught:
        api.core.create_namespaced_pod("default", {"metadata": {"name": "p"},
                                                   "spec": {"containers": [{"name": "c"}]}})
    assert caught.value.status == 422
    assert "spec.containers[0].image" in status_of(caught.value)["message"]  # type: ignore[operator]


def test_create_in_a_missing_namespace_is_not_found(api: Api) -> None:
    with pytest.raises(ApiException) as caught:
        api.core.create_namespaced_config_map("nowhere", {"metadata": {"name": "c"}})
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'namespaces "nowhere" not found'


def test_invalid_custom_object_names_the_field(api: Api) -> None:
    bad = pool("p1")
    bad["spec"] = {"blocks": "172.16.1.0/24"}
    with pytest.raises(ApiException) as caught:
        api.custom.create_cluster_custom_object("cilium.io", "v2", "ciliumloadbalancerippools",
                                                bad)
    assert caught.value.status == 422
    assert "spec.blocks" in status_of(caught.value)["message"]  # type: ignore[operator]


def test_dry_run_is_refused_not_performed(api: Api) -> None:
    code, _ = call(api, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All",
                   '{"metadata": {"name": "c"}}')
    assert code == 400
    assert api.store.find("configmaps", "c", "default") is None
