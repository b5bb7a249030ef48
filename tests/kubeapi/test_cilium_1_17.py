"""An API server playing Cilium 1.16/1.17 serves the LB-IPAM and BGP kinds only as
cilium.io/v2alpha1, with those releases' schemas, and stores them in that version; the release
is picked by its minor version."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from pytest_ciliumbgp.emulator.kubeapi.cilium_release import SUPPORTED, cilium_release
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.kube import objects
from pytest_ciliumbgp.kube.client import connect
from pytest_ciliumbgp.kube.versions import detect_cilium_api, schema_has_field
from tests.kube.test_manifests import every_cilium_object

from .conftest import Api, pool
from .rawhttp import call

AGGREGATION = "spec.advertisements[].service.aggregationLengthIPv4"
ADVERTS = "/apis/cilium.io/v2alpha1/ciliumbgpadvertisements"


def advertisement(name: str, version: str = "v2alpha1") -> dict[str, Any]:
    return {"apiVersion": f"cilium.io/{version}", "kind": "CiliumBGPAdvertisement",
            "metadata": {"name": name, "labels": {"advertise": "bgp"}},
            "spec": {"advertisements": [{
                "advertisementType": "Service",
                "service": {"addresses": ["LoadBalancerIP"], "aggregationLengthIPv4": 24},
                "selector": {"matchLabels": {"app": name}}}]}}


def cluster_config(peer_asn: int) -> dict[str, Any]:
    return {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumBGPClusterConfig",
            "metadata": {"name": "cilium-bgp"},
            "spec": {"bgpInstances": [{"name": "instance-65001", "localASN": 65001, "peers": [
                {"name": "router", "peerAddress": "192.168.10.200", "peerASN": peer_asn,
                 "peerConfigRef": {"name": "cilium-peer"}}]}]}}


@pytest.mark.parametrize(("asked", "played", "api_versions"), [
    ("1.17", "1.17.0", ("v2alpha1",)),
    ("v1.17.4", "1.17.4", ("v2alpha1",)),
    ("1.16.3", "1.16.3", ("v2alpha1",)),
    ("1.18", "1.18.2", ("v2", "v2alpha1")),
])
def test_release_is_picked_by_minor_version(asked: str, played: str,
                                            api_versions: tuple[str, ...]) -> None:
    release = cilium_release(asked)
    assert (release.version, release.api_versions) == (played, api_versions)


@pytest.mark.parametrize("asked", ["1.15", "2.0.1", "latest", "1.17.x", ""])
def test_unplayable_release_is_one_line_naming_what_is(asked: str) -> None:
    with pytest.raises(ValueError, match="the embedded lab plays") as caught:
        cilium_release(asked)
    assert str(caught.value) == (f"Cilium version {asked!r}: the embedded lab plays "
                                 f"{', '.join(SUPPORTED)} (MAJOR.MINOR[.PATCH])")
    assert SUPPORTED == ("1.16", "1.17", "1.18")


def test_discovery_offers_only_v2alpha1(api_1_17: Api) -> None:
    groups = {g.name: g for g in api_1_17.apis.get_api_versions().groups}
    cilium = groups["cilium.io"]
    assert [v.version for v in cilium.versions] == ["v2alpha1"]
    assert cilium.preferred_version.version == "v2alpha1"
    assert call(api_1_17, "GET", "/apis/cilium.io/v2")[0] == 404
    code, listing = call(api_1_17, "GET", "/apis/cilium.io/v2alpha1")
    kinds = {r["kind"] for r in listing["resources"] if "/" not in r["name"]}
    assert code == 200
    assert kinds == {"CiliumLoadBalancerIPPool", "CiliumBGPClusterConfig", "CiliumBGPPeerConfig",
                     "CiliumBGPAdvertisement", "CiliumBGPNodeConfig",
                     "CiliumBGPNodeConfigOverride"}
    with_status = {r["name"] for r in listing["resources"] if r["name"].endswith("/status")}
    assert with_status == {"ciliumloadbalancerippools/status", "ciliumbgpnodeconfigs/status"}


def test_the_suites_discovery_picks_v2alpha1(api_1_17: Api) -> None:
    with connect(str(api_1_17.kubeconfig), request_timeout=5) as cluster:
        found = detect_cilium_api(cluster)
    assert (found.api_version, found.served_versions) == ("cilium.io/v2alpha1", ("v2alpha1",))


def test_every_builder_without_the_1_18_fields_is_stored_as_built(api_1_17: Api) -> None:
    with connect(str(api_1_17.kubeconfig), request_timeout=5) as cluster:
        for manifest in every_cilium_object("v2alpha1", fields_since_1_18=False):
            created = objects.create(cluster, manifest)
            assert created["apiVersion"] == "cilium.io/v2alpha1"
            assert created["spec"] == manifest["spec"], manifest["kind"]


def test_crds_serve_and_store_v2alpha1_only(api_1_17: Api) -> None:
    crds = {crd.metadata.name: crd
            for crd in api_1_17.apiextensions.list_custom_resource_definition().items}
    assert len(crds) == 6
    for name, crd in crds.items():
        assert [(v.name, v.served, v.storage, v.deprecated) for v in crd.spec.versions] == [
            ("v2alpha1", True, True, None)], name
        assert crd.status.stored_versions == ["v2alpha1"], name
    cluster_configs = crds["ciliumbgpclusterconfigs.cilium.io"].spec.versions[0]
    assert cluster_configs.subresources is None


def test_v2_objects_are_not_found(api_1_17: Api) -> None:
    with pytest.raises(ApiException) as caught:
        api_1_17.custom.create_cluster_custom_object(
            "cilium.io", "v2", "ciliumloadbalancerippools", pool("pool-a"))
    assert caught.value.status == 404
    assert api_1_17.store.find("ciliumloadbalancerippools", "pool-a") is None


def test_objects_are_stored_and_served_as_v2alpha1(api_1_17: Api) -> None:
    created = api_1_17.custom.create_cluster_custom_object(
        "cilium.io", "v2alpha1", "ciliumbgpclusterconfigs", cluster_config(65000))
    ref = created["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"]
    assert created["apiVersion"] == "cilium.io/v2alpha1"
    assert ref == {"name": "cilium-peer", "group": "cilium.io", "kind": "CiliumBGPPeerConfig"}
    assert api_1_17.store.get("ciliumbgpclusterconfigs", "cilium-bgp") == created


def test_fields_that_came_with_1_18_are_pruned(api_1_17: Api, api: Api) -> None:
    with connect(str(api_1_17.kubeconfig), request_timeout=5) as cluster:
        assert not schema_has_field(cluster, "ciliumbgpadvertisements", "v2alpha1", AGGREGATION)
    with connect(str(api.kubeconfig), request_timeout=5) as cluster:
        assert schema_has_field(cluster, "ciliumbgpadvertisements", "v2alpha1", AGGREGATION)

    stored = api_1_17.custom.create_cluster_custom_object(
        "cilium.io", "v2alpha1", "ciliumbgpadvertisements", advertisement("web"))
    newer = api.custom.create_cluster_custom_object(
        "cilium.io", "v2alpha1", "ciliumbgpadvertisements", advertisement("web"))
    assert stored["spec"]["advertisements"][0]["service"] == {"addresses": ["LoadBalancerIP"]}
    assert newer["spec"]["advertisements"][0]["service"]["aggregationLengthIPv4"] == 24


def test_strict_field_validation_names_the_field_1_17_lacks(api_1_17: Api) -> None:
    code, status = call(api_1_17, "POST", f"{ADVERTS}?fieldValidation=Strict",
                        json.dumps(advertisement("web")))
    assert code == 400
    assert status["message"] == (
        'CiliumBGPAdvertisement in version "v2alpha1" cannot be handled as a '
        "CiliumBGPAdvertisement: strict decoding error: unknown field "
        '"spec.advertisements[0].service.aggregationLengthIPv4"')


def test_peer_asn_zero_is_refused_before_1_18(api_1_17: Api, api: Api) -> None:
    with pytest.raises(ApiException) as caught:
        api_1_17.custom.create_cluster_custom_object(
            "cilium.io", "v2alpha1", "ciliumbgpclusterconfigs", cluster_config(0))
    assert caught.value.status == 422
    assert "spec.bgpInstances[0].peers[0].peerASN" in json.loads(str(caught.value.body))["message"]
    api.custom.create_cluster_custom_object(
        "cilium.io", "v2alpha1", "ciliumbgpclusterconfigs", cluster_config(0))


def test_store_maps_a_type_of_another_release_to_its_own() -> None:
    newest, older = Store(), Store(cilium=cilium_release("1.17"))
    pools = newest.type_of("ippool")
    assert pools.versions == ("v2", "v2alpha1")
    assert older.type_of(pools).versions == ("v2alpha1",)
    created = older.create(pools, pool("pool-a", version="v2alpha1"))
    assert created["apiVersion"] == "cilium.io/v2alpha1"
