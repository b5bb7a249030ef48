"""The cilium.io version comes from discovery: v2 when it serves every kind the suite writes,
else v2alpha1, else a "missing CRDs" error naming what is missing."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.versions import cilium_api, detect_cilium_api, schema_has_field
from tests.kube.fakeapi import CILIUM_KINDS, FakeApi

BGP_AND_POOL = list(CILIUM_KINDS)


def test_v2_preferred_when_it_serves_everything(fake_cluster: Cluster) -> None:
    api = detect_cilium_api(fake_cluster)
    assert (api.version, api.api_version) == ("v2", "cilium.io/v2")
    assert api.served_versions == ("v2", "v2alpha1")
    assert api.serves("CiliumBGPNodeConfig")
    assert not api.serves("CiliumNetworkPolicy")
    assert "ciliumloadbalancerippools/status" not in api.resources


def test_v2alpha1_only_like_cilium_1_16(fake_api: FakeApi, fake_cluster: Cluster) -> None:
    fake_api.cilium = {"v2alpha1": BGP_AND_POOL}
    assert detect_cilium_api(fake_cluster).version == "v2alpha1"


def test_v2_without_the_bgp_kinds_like_cilium_1_17(
    fake_api: FakeApi, fake_cluster: Cluster
) -> None:
    # Cilium 1.17 serves v2 (network policies, endpoints…) but the BGP kinds only in v2alpha1.
    fake_api.cilium = {"v2": ["ciliumloadbalancerippools"], "v2alpha1": BGP_AND_POOL}
    assert detect_cilium_api(fake_cluster).version == "v2alpha1"


def test_no_cilium_at_all(fake_api: FakeApi, fake_cluster: Cluster) -> None:
    fake_api.cilium = {}
    with pytest.raises(KubeError) as caught:
        detect_cilium_api(fake_cluster)
    assert str(caught.value) == (
        f"missing CRDs: {fake_cluster.server} serves no cilium.io API group, so none of "
        "CiliumLoadBalancerIPPool, CiliumBGPClusterConfig, CiliumBGPPeerConfig, "
        "CiliumBGPAdvertisement (is Cilium installed, with bgpControlPlane.enabled=true?)"
    )


def test_cilium_without_bgp_control_plane(fake_api: FakeApi, fake_cluster: Cluster) -> None:
    fake_api.cilium = {"v2": ["ciliumloadbalancerippools"], "v2alpha1": []}
    with pytest.raises(
        KubeError,
        match=r"^missing CRDs: .*: cilium.io/v2 lacks "
        r"CiliumBGPClusterConfig, CiliumBGPPeerConfig, "
        r"CiliumBGPAdvertisement; cilium.io/v2alpha1 lacks ",
    ):
        detect_cilium_api(fake_cluster)


def test_only_unknown_versions(fake_api: FakeApi, fake_cluster: Cluster) -> None:
    fake_api.cilium = {"v3": BGP_AND_POOL}
    with pytest.raises(KubeError, match=r"cilium\.io serves only v3$"):
        detect_cilium_api(fake_cluster)


def test_detected_once_per_cluster(fake_api: FakeApi, fake_cluster: Cluster) -> None:
    assert cilium_api(fake_cluster) is cilium_api(fake_cluster)
    assert [path for _, path, _ in fake_api.requests] == ["/apis", "/apis/cilium.io/v2"]


def test_schema_has_field(fake_api: FakeApi, fake_cluster: Cluster) -> None:
    service = {"properties": {"addresses": {"type": "array"}, "aggregationLengthIPv4": {}}}
    entry = {"properties": {"service": service}}
    schema = {"properties": {"spec": {"properties": {"advertisements": {"items": entry}}}}}
    fake_api.objects["customresourcedefinitions//ciliumbgpadvertisements.cilium.io"] = {
        "spec": {"versions": [{"name": "v2", "schema": {"openAPIV3Schema": schema}}]}
    }
    field = "spec.advertisements[].service.aggregationLengthIPv4"
    assert schema_has_field(fake_cluster, "ciliumbgpadvertisements", "v2", field)
    assert not schema_has_field(fake_cluster, "ciliumbgpadvertisements", "v2", "spec.nope")
    assert not schema_has_field(fake_cluster, "ciliumbgpadvertisements", "v2alpha1", field)
