"""The builders produce what each cilium.io version accepts (checked against Cilium's real CRD
schemas, the newest and those Cilium 1.16/1.17 serve) and core objects the official client's
models read back without losing a field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client as k8s

from pytest_ciliumbgp.kube import manifests as m
from tests.kube.crd_schemas import problems, problems_before_1_18

VERSIONS = ["v2", "v2alpha1"]
ROUTER = m.BgpPeer("router", "192.168.10.200", 65000, peer_config="cilium-peer")


def every_cilium_object(version: str, *, fields_since_1_18: bool = True) -> list[dict[str, Any]]:
    """One of each cilium.io object the builders make, with every option; without
    ``fields_since_1_18`` leaving out those Cilium 1.16/1.17 do not have (an instance's
    ``localPort``, ``aggregationLengthIPv4``)."""
    owned = m.ownership_labels("run-1", "suites/test_lbipam.py::test_ip[etp=Local]")
    web = m.selector({"app": "web"})
    newer = fields_since_1_18
    return [
        m.ip_pool("pool-a", ["172.16.1.0/24"], version=version, labels=owned),
        m.ip_pool(
            "pool-b",
            ["172.16.2.10-172.16.2.20", ("172.16.3.1", "172.16.3.9")],
            version=version,
            service_selector=m.selector(expressions=[("io.kubernetes.service.name", "In", ["w"])]),
            disabled=True,
            allow_first_last_ips=False,
        ),
        m.bgp_cluster_config(
            "cilium-bgp",
            [m.BgpInstance("instance-65001", 65001, [ROUTER],
                           local_port=179 if newer else None)],
            version=version,
            node_selector=m.selector({"bgp": "on"}),
        ),
        m.bgp_peer_config(
            "cilium-peer",
            version=version,
            families=[m.BgpFamily(advertisements=m.selector({"advertise": "bgp"}))],
            timers=m.BgpTimers(
                connect_retry_time_seconds=5, hold_time_seconds=9, keep_alive_time_seconds=3
            ),
            graceful_restart=True,
            restart_time_seconds=30,
            ebgp_multihop=2,
            peer_port=179,
        ),
        m.bgp_advertisement(
            "bgp-advertisements",
            [
                m.pod_cidr_advertisement(),
                m.service_advertisement(
                    web,
                    addresses=["LoadBalancerIP", "ClusterIP"],
                    attributes=m.PathAttributes(
                        m.Communities(
                            standard=["65000:100"], well_known=["no-export"], large=["65000:1:1"]
                        ),
                        local_preference=150,
                    ),
                    aggregation_length_ipv4=24 if newer else None,
                ),
                m.service_advertisement(m.select_all()),
            ],
            version=version,
            labels={"advertise": "bgp"},
        ),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_cilium_object_is_accepted_by_the_real_crd(version: str) -> None:
    for manifest in every_cilium_object(version):
        assert manifest["apiVersion"] == f"cilium.io/{version}"
        assert problems(manifest) == [], manifest["kind"]


def test_what_1_16_and_1_17_serve_accepts_every_object_without_the_1_18_fields() -> None:
    for manifest in every_cilium_object("v2alpha1", fields_since_1_18=False):
        assert problems_before_1_18(manifest) == [], manifest["kind"]


def test_what_1_16_and_1_17_serve_refuses_the_fields_that_came_with_1_18() -> None:
    found = {manifest["kind"]: problems_before_1_18(manifest)
             for manifest in every_cilium_object("v2alpha1")}
    assert [p for p in found["CiliumBGPClusterConfig"] if "'localPort' was unexpected" in p]
    assert [p for p in found["CiliumBGPAdvertisement"]
            if "'aggregationLengthIPv4' was unexpected" in p]
    assert found["CiliumLoadBalancerIPPool"] == found["CiliumBGPPeerConfig"] == []


def test_the_strict_schema_catches_what_a_server_would_prune_or_reject() -> None:
    pool = m.ip_pool("pool-a", ["172.16.1.0/24"], version="v2")
    pool["spec"]["blocks"] = "172.16.1.0/24"
    pool["spec"]["cidrs"] = ["172.16.1.0/24"]
    found = problems(pool)
    assert any(p.startswith("spec.blocks:") for p in found), found
    assert any("'cidrs' was unexpected" in p for p in found), found


def test_v2_peer_config_ref_has_only_a_name() -> None:
    v2 = m.bgp_cluster_config("c", [m.BgpInstance("i", 65001, [ROUTER])], version="v2")
    alpha = m.bgp_cluster_config("c", [m.BgpInstance("i", 65001, [ROUTER])], version="v2alpha1")
    assert v2["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"] == {"name": "cilium-peer"}
    assert alpha["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"] == {
        "name": "cilium-peer",
        "group": "cilium.io",
        "kind": "CiliumBGPPeerConfig",
    }
    v2["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"]["kind"] = "CiliumBGPPeerConfig"
    assert problems(v2), "v2 must refuse peerConfigRef.kind"


def test_pool_blocks_and_explicit_first_last() -> None:
    pool = m.ip_pool("p", ["10.0.0.0/30", "10.0.1.5 - 10.0.1.7"], version="v2")
    assert pool["spec"] == {
        "blocks": [{"cidr": "10.0.0.0/30"}, {"start": "10.0.1.5", "stop": "10.0.1.7"}],
        "disabled": False,
        "allowFirstLastIPs": "Yes",
    }
    assert (
        m.ip_pool("p", ["10.0.0.0/30"], version="v2", allow_first_last_ips=False)["spec"][
            "allowFirstLastIPs"
        ]
        == "No"
    )
    assert "namespace" not in pool["metadata"]


@pytest.mark.parametrize(
    "blocks",
    [[], ["not-a-cidr"], ["10.0.0.9-10.0.0.1"]],
    ids=["none", "garbage", "start-after-stop"],
)
def test_pool_refuses_bad_blocks(blocks: list[str]) -> None:
    with pytest.raises(ValueError, match="block"):
        m.ip_pool("p", blocks, version="v2")


def test_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="v3"):
        m.ip_pool("p", ["10.0.0.0/24"], version="v3")


def test_advertisement_entries_follow_the_cel_rules() -> None:
    # The CRDs' x-kubernetes-validations, which jsonschema does not evaluate.
    pod_cidr, lb, _ = every_cilium_object("v2")[4]["spec"]["advertisements"]
    assert pod_cidr == {"advertisementType": "PodCIDR"}  # no selector, no service
    assert lb["service"] == {
        "addresses": ["LoadBalancerIP", "ClusterIP"],
        "aggregationLengthIPv4": 24,
    }
    assert lb["attributes"] == {
        "communities": {
            "standard": ["65000:100"],
            "wellKnown": ["no-export"],
            "large": ["65000:1:1"],
        },
        "localPreference": 150,
    }
    assert m.select_all() == {
        "matchExpressions": [
            {"key": "cbgp.io/never", "operator": "NotIn", "values": ["never-used"]}
        ]
    }
    with pytest.raises(ValueError, match="addresses"):
        m.service_advertisement(m.select_all(), addresses=["PodIP"])


def test_peer_config_leaves_unset_fields_to_cilium() -> None:
    assert m.bgp_peer_config("p", version="v2")["spec"] == {}
    with pytest.raises(ValueError, match="keepalive 60 s is larger than hold time 9 s"):
        m.BgpTimers(hold_time_seconds=9, keep_alive_time_seconds=60)


def test_aggregation_is_refused_by_the_pre_1_18_schemas() -> None:
    advertisement = every_cilium_object("v2")[4]
    assert any("aggregationLengthIPv4" in p for p in problems(advertisement, "older/v2"))


def test_service_with_lbipam_annotations() -> None:
    svc = m.service(
        "web",
        {"app": "web"},
        namespace="team",
        ports=[80, m.ServicePort(8080, "http", name="alt")],
        external_traffic_policy="Local",
        load_balancer_class=m.BGP_CONTROL_PLANE_CLASS,
        requested_ips=["172.16.1.5", "172.16.1.6"],
        sharing_key="shared",
        sharing_cross_namespace=["*"],
        labels={"cbgp.io/run": "r"},
        annotations={"note": "x"},
    )
    assert svc["metadata"] == {
        "name": "web",
        "namespace": "team",
        "labels": {"cbgp.io/run": "r"},
        "annotations": {
            "note": "x",
            "lbipam.cilium.io/ips": "172.16.1.5,172.16.1.6",
            "lbipam.cilium.io/sharing-key": "shared",
            "lbipam.cilium.io/sharing-cross-namespace": "*",
        },
    }
    assert svc["spec"] == {
        "type": "LoadBalancer",
        "selector": {"app": "web"},
        "ports": [
            {"port": 80, "targetPort": 80, "protocol": "TCP"},
            {"name": "alt", "port": 8080, "targetPort": "http", "protocol": "TCP"},
        ],
        "externalTrafficPolicy": "Local",
        "loadBalancerClass": "io.cilium/bgp-control-plane",
    }
    assert round_trips(svc, k8s.V1Service)


def test_cluster_ip_service_has_no_traffic_policy() -> None:
    svc = m.service("web", {"app": "web"}, service_type="ClusterIP")
    assert "externalTrafficPolicy" not in svc["spec"]
    with pytest.raises(ValueError, match="externalTrafficPolicy"):
        m.service("web", {"app": "web"}, external_traffic_policy="Nearest")


def test_backend_pod_is_pinned_and_probed() -> None:
    pod = m.backend_pod(
        "web-w0", "k8s-w0", {"app": "web"}, labels={"cbgp.io/run": "r"}, pre_stop_sleep_seconds=8
    )
    assert pod["metadata"]["labels"] == {"app": "web", "cbgp.io/run": "r"}
    assert pod["spec"]["nodeName"] == "k8s-w0"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 13
    (container,) = pod["spec"]["containers"]
    assert container["image"].startswith("traefik/whoami")
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": 80}
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 8}}}
    assert round_trips(pod, k8s.V1Pod)
    with pytest.raises(ValueError, match="shorter than the preStop sleep"):
        m.backend_pod(
            "p", "n", {"app": "web"}, pre_stop_sleep_seconds=8, termination_grace_period_seconds=2
        )


def test_backend_pod_on_another_port() -> None:
    (container,) = m.backend_pod("p", "n", {"a": "b"}, port=8080)["spec"]["containers"]
    assert container["args"] == ["--port", "8080"]
    assert container["readinessProbe"]["httpGet"]["port"] == 8080


def test_deployment_spreads_one_per_node_and_labels_its_pods() -> None:
    deployment = m.backend_deployment(
        "web", {"app": "web"}, replicas=3, one_per_node=True, labels={"cbgp.io/run": "r"}
    )
    template = deployment["spec"]["template"]
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert template["metadata"]["labels"] == {"app": "web", "cbgp.io/run": "r"}
    term = template["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert round_trips(deployment, k8s.V1Deployment)


def test_ownership_labels_are_valid_label_values() -> None:
    test_id = "suites/test_advertisement.py::test_local_nodes[etp=Local-nodes=k8s-w0,k8s-w1]" * 2
    labels = m.ownership_labels("20250101-abc", test_id)
    assert labels[m.RUN_LABEL] == "20250101-abc"
    owner = labels[m.OWNER_LABEL]
    assert len(owner) <= 63
    assert owner[0].isalnum()
    assert owner[-1].isalnum()
    assert set(owner) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    assert owner != m.ownership_labels("r", test_id + "x")[m.OWNER_LABEL]
    assert m.ownership_selector("r1", "t") == "cbgp.io/run=r1,cbgp.io/owner=t"
    assert m.ownership_annotations(test_id) == {m.TEST_ANNOTATION: test_id}
    assert m.label_value("fine.value_1") == "fine.value_1"


def test_selector_operators() -> None:
    assert m.selector({"a": "b"}, expressions=[("k", "Exists", [])]) == {
        "matchLabels": {"a": "b"},
        "matchExpressions": [{"key": "k", "operator": "Exists"}],
    }
    with pytest.raises(ValueError, match="needs at least one value"):
        m.selector(expressions=[("k", "In", [])])
    with pytest.raises(ValueError, match="unknown operator"):
        m.selector(expressions=[("k", "Has", ["x"])])


def round_trips(manifest: dict[str, Any], model: Any) -> bool:
    """Whether the official client's model keeps every field (a misspelt one is dropped)."""
    serialize: Callable[[Any], Any] = k8s.ApiClient().sanitize_for_serialization
    return bool(serialize(model.from_dict(manifest)) == manifest)
