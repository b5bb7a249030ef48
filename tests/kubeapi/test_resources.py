"""CRUD through the official client on every kind, with the metadata a real server keeps."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from .conftest import Api, pool, service
from .rawhttp import call


def test_discovery_lists_kinds_short_names_and_subresources(api: Api) -> None:
    core = {r.name: r for r in api.core.get_api_resources().resources}
    assert core["services"].short_names == ["svc"]
    assert "pods/status" in core
    apps = {r.name: r for r in api.apps.get_api_resources().resources}
    assert apps["deployments/scale"].kind == "Scale"
    groups = {g.name: g for g in api.apis.get_api_versions().groups}
    assert [v.version for v in groups["cilium.io"].versions] == ["v2", "v2alpha1"]
    code, cilium = call(api, "GET", "/apis/cilium.io/v2alpha1/")
    pools = next(r for r in cilium["resources"] if r["name"] == "ciliumloadbalancerippools")
    assert (code, pools["shortNames"], pools["namespaced"]) == (
        200, ["ippools", "ippool", "lbippool", "lbippools"], False)
    version = api.version.get_code()
    assert (version.major, version.minor, version.platform) == ("1", "32", "linux/amd64")
    assert call(api, "GET", "/openapi/v2")[0] == 404


def test_crds_announce_the_cilium_kinds(api: Api) -> None:
    crds = api.apiextensions.list_custom_resource_definition()
    names = {crd.metadata.name: crd for crd in crds.items}
    ippools = names["ciliumloadbalancerippools.cilium.io"]
    assert [(v.name, v.storage) for v in ippools.spec.versions] == [("v2", True),
                                                                   ("v2alpha1", False)]
    assert ippools.spec.scope == "Cluster"
    assert len(names) == 6


def test_metadata_is_stamped_and_resource_versions_increase(api: Api) -> None:
    first = api.core.create_namespaced_config_map(
        "default", {"metadata": {"generateName": "cm-", "labels": {"a": "b"}}})
    second = api.core.create_namespaced_config_map("default", {"metadata": {"name": "two"}})
    assert first.metadata.name.startswith("cm-")
    assert len(first.metadata.name) == 8
    assert first.metadata.uid
    assert first.metadata.creation_timestamp
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    listed = api.core.list_namespaced_config_map("default")
    assert int(listed.metadata.resource_version) >= int(second.metadata.resource_version)
    assert {c.metadata.name for c in listed.items} == {first.metadata.name, "two"}


def test_generation_moves_with_spec_only(api: Api) -> None:
    created = api.custom.create_cluster_custom_object(
        "cilium.io", "v2", "ciliumloadbalancerippools", pool("p1"))
    assert created["metadata"]["generation"] == 1
    labelled = api.custom.patch_cluster_custom_object(
        "cilium.io", "v2", "ciliumloadbalancerippools", "p1", {"metadata": {"labels": {"x": "y"}}})
    assert labelled["metadata"]["generation"] == 1
    disabled = api.custom.patch_cluster_custom_object(
        "cilium.io", "v2", "ciliumloadbalancerippools", "p1", {"spec": {"disabled": True}})
    assert disabled["metadata"]["generation"] == 2


def test_cilium_objects_are_served_in_both_versions(api: Api) -> None:
    cluster_config = {
        "apiVersion": "cilium.io/v2alpha1", "kind": "CiliumBGPClusterConfig",
        "metadata": {"name": "bgp"},
        "spec": {"bgpInstances": [{"name": "i", "localASN": 65001, "peers": [{
            "name": "router", "peerASN": 65000, "peerAddress": "192.168.10.200",
            "peerConfigRef": {"name": "peer", "group": "cilium.io",
                              "kind": "CiliumBGPPeerConfig"}}]}]},
    }
    api.custom.create_cluster_custom_object("cilium.io", "v2alpha1", "ciliumbgpclusterconfigs",
                                            cluster_config)
    as_v2 = api.custom.get_cluster_custom_object("cilium.io", "v2", "ciliumbgpclusterconfigs",
                                                 "bgp")
    assert as_v2["apiVersion"] == "cilium.io/v2"
    assert as_v2["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"] == {"name": "peer"}
    as_alpha = api.custom.get_cluster_custom_object("cilium.io", "v2alpha1",
                                                    "ciliumbgpclusterconfigs", "bgp")
    assert as_alpha["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"]["kind"] == (
        "CiliumBGPPeerConfig")


def test_service_defaults_and_allocations(api: Api) -> None:
    created = api.core.create_namespaced_service(
        "default", service("web", type="LoadBalancer"))
    spec = created.spec
    assert spec.cluster_ip.startswith("10.9")
    assert spec.cluster_ips == [spec.cluster_ip]
    assert spec.external_traffic_policy == "Cluster"
    port = spec.ports[0]
    assert (port.protocol, port.target_port) == ("TCP", 80)
    assert 30000 <= port.node_port <= 32767
    replaced = api.core.read_namespaced_service("web", "default")
    replaced.spec.cluster_ip = "10.96.0.99"
    replaced.spec.cluster_ips = ["10.96.0.99"]
    with pytest.raises(ApiException) as caught:
        api.core.replace_namespaced_service("web", "default", replaced)
    assert caught.value.status == 422


def test_status_subresource_semantics(api: Api) -> None:
    with_status = pool("p1")
    with_status["status"] = {"conditions": [{"type": "x"}]}
    created = api.custom.create_cluster_custom_object(
        "cilium.io", "v2", "ciliumloadbalancerippools", with_status)
    assert "status" not in created
    status = {"conditions": [{"type": "cilium.io/IPsTotal", "status": "Unknown",
                              "message": "256", "reason": "x",
                              "lastTransitionTime": "2025-01-01T00:00:00Z"}]}
    patched = api.custom.patch_cluster_custom_object_status(
        "cilium.io", "v2", "ciliumloadbalancerippools", "p1",
        {"status": status, "spec": {"disabled": True}})
    assert patched["status"] == status
    assert patched["spec"].get("disabled", False) is False
    main = api.custom.patch_cluster_custom_object(
        "cilium.io", "v2", "ciliumloadbalancerippools", "p1", {"status": {"conditions": []}})
    assert main["status"] == status


def test_service_status_is_written_through_status_only(api: Api) -> None:
    api.core.create_namespaced_service("default", service("web", type="LoadBalancer"))
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": "172.16.1.1"}]}}}
    api.core.patch_namespaced_service("web", "default", ingress)
    assert api.core.read_namespaced_service("web", "default").status.load_balancer.ingress is None
    api.core.patch_namespaced_service_status("web", "default", ingress)
    seen = api.core.read_namespaced_service_status("web", "default")
    assert seen.status.load_balancer.ingress[0].ip == "172.16.1.1"


def test_finalizers_hold_deletion_until_emptied(api: Api) -> None:
    api.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    api.core.delete_namespaced_config_map("held", "default")
    held = api.core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    api.core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        api.core.read_namespaced_config_map("held", "default")
    assert caught.value.status == 404


def test_deleting_a_namespace_deletes_its_contents(api: Api) -> None:
    api.core.create_namespace({"metadata": {"name": "team"}})
    api.core.create_namespaced_config_map("team", {"metadata": {"name": "c"}})
    api.core.create_namespaced_service("team", service("web"))
    api.core.delete_namespace("team")
    assert api.core.list_namespaced_service("team").items == []
    assert "team" not in {n.metadata.name for n in api.core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= {
        n.metadata.name for n in api.core.list_namespace().items}


def test_deployment_scale_subresource(api: Api) -> None:
    deployment = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "w", "image": "whoami"}]}}},
    }
    created = api.apps.create_namespaced_deployment("default", deployment)
    assert created.spec.replicas == 1
    scale = api.apps.read_namespaced_deployment_scale("web", "default")
    assert (scale.spec.replicas, scale.status.selector) == (1, "app=web")
    api.apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    scale.spec.replicas = 2
    with pytest.raises(ApiException) as caught:
        api.apps.replace_namespaced_deployment_scale("web", "default", scale)
    assert caught.value.status == 409
    assert api.apps.read_namespaced_deployment("web", "default").spec.replicas == 3


def test_endpointslices_and_events(api: Api) -> None:
    slices = api.discovery
    slices.create_namespaced_endpoint_slice("default", {
        "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["172.20.1.5"], "nodeName": "k8s-w1",
                       "conditions": {"ready": True}}],
        "ports": [{"port": 8080, "protocol": "TCP"}]})
    listed = slices.list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=web")
    assert listed.items[0].endpoints[0].node_name == "k8s-w1"
    api.core.create_namespaced_event("default", {
        "metadata": {"name": "web.1"}, "involvedObject": {"kind": "Service", "name": "web"},
        "reason": "Allocated", "message": "m", "type": "Normal"})
    events = api.core.list_namespaced_event("default", field_selector="involvedObject.name=web")
    assert [e.reason for e in events.items] == ["Allocated"]


def test_list_pages_with_limit_and_continue(api: Api) -> None:
    for index in range(7):
        api.core.create_namespaced_config_map("default", {"metadata": {"name": f"c{index}"}})
    first = api.core.list_namespaced_config_map("default", limit=5)
    rest = api.core.list_namespaced_config_map("default", limit=5,
                                               _continue=first.metadata.var_continue)
    names = [c.metadata.name for c in first.items + rest.items]
    assert names == [f"c{i}" for i in range(7)]
    assert rest.metadata.var_continue is None
