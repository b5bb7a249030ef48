"""Every call the library makes, through the official client against an API server: the
emulated one of the embedded lab, and the small fake (which always runs)."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.kube import manifests as m
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.objects import (
    ObjectRef,
    apply,
    create,
    delete,
    delete_owned,
    find,
    get,
    kind_of,
    leftovers,
    list_objects,
    patch,
)
from pytest_ciliumbgp.kube.versions import cilium_api
from tests.kube.fakeapi import FakeApi

RUN = "run-42"
OTHER_RUN = "run-7"


def owned_objects(cluster: Cluster, run_id: str, test_id: str) -> list[m.Manifest]:
    version = cilium_api(cluster).version
    labels = m.ownership_labels(run_id, test_id)
    suffix = f"{run_id}-{test_id}"
    app = {"app": f"web-{suffix}"}
    return [
        m.ip_pool(
            f"pool-{suffix}",
            ["172.16.9.0/28"],
            version=version,
            labels=labels,
            service_selector=m.selector(app),
        ),
        m.bgp_peer_config(
            f"peer-{suffix}",
            version=version,
            labels=labels,
            families=[m.BgpFamily(advertisements=m.selector({"adv": suffix}))],
        ),
        m.bgp_cluster_config(
            f"bgp-{suffix}",
            [
                m.BgpInstance(
                    "i", 65001, [m.BgpPeer("r", "192.168.10.200", 65000, f"peer-{suffix}")]
                )
            ],
            version=version,
            labels=labels,
            node_selector=m.selector({"never": "selected"}),
        ),
        m.bgp_advertisement(
            f"adv-{suffix}",
            [m.service_advertisement(m.selector(app))],
            version=version,
            labels={**labels, "adv": suffix},
        ),
        m.service(f"web-{suffix}", app, labels=labels),
        m.backend_pod(f"web-{suffix}-0", "k8s-w0", app, labels=labels),
        m.backend_deployment(f"dep-{suffix}", {"app": f"dep-{suffix}"}, replicas=0, labels=labels),
    ]


def test_create_get_find_and_the_version_used(cluster: Cluster) -> None:
    version = cilium_api(cluster).version
    pool = m.ip_pool("pool-create", ["172.16.8.0/29"], version=version)
    created = create(cluster, pool)
    assert created["metadata"]["name"] == "pool-create"
    assert get(cluster, ObjectRef("CiliumLoadBalancerIPPool", "pool-create"))["spec"]["blocks"] == [
        {"cidr": "172.16.8.0/29"}
    ]
    assert find(cluster, ObjectRef("CiliumLoadBalancerIPPool", "pool-missing")) is None
    with pytest.raises(KubeError) as caught:
        create(cluster, pool)
    assert caught.value.already_exists
    assert str(caught.value).startswith(
        f"create CiliumLoadBalancerIPPool pool-create on {cluster.server}: 409 AlreadyExists: "
    )


def test_apply_creates_then_updates(cluster: Cluster) -> None:
    svc = m.service("web-apply", {"app": "web-apply"}, external_traffic_policy="Cluster")
    apply(cluster, svc)
    apply(cluster, m.service("web-apply", {"app": "web-apply"}, external_traffic_policy="Local"))
    seen = get(cluster, ObjectRef("Service", "web-apply", "default"))
    assert seen["spec"]["externalTrafficPolicy"] == "Local"
    assert seen["spec"]["type"] == "LoadBalancer"


def test_apply_without_server_side_apply(fake_api: FakeApi, fake_cluster: Cluster) -> None:
    fake_api.server_side_apply = False
    apply(fake_cluster, m.service("web", {"app": "web"}, external_traffic_policy="Cluster"))
    apply(fake_cluster, m.service("web", {"app": "web"}, external_traffic_policy="Local"))
    seen = get(fake_cluster, ObjectRef("Service", "web", "default"))
    assert seen["spec"]["externalTrafficPolicy"] == "Local"
    assert [(verb, kind) for verb, _, kind in fake_api.requests] == [
        ("PATCH", "application/apply-patch+yaml"),
        ("POST", "application/json"),
        ("PATCH", "application/apply-patch+yaml"),
        ("POST", "application/json"),
        ("PATCH", "application/merge-patch+json"),
        ("GET", ""),
    ]


def test_merge_patch_and_delete(cluster: Cluster) -> None:
    ref = ObjectRef("Service", "web-patch", "default")
    create(cluster, m.service(ref.name, {"app": "web-patch"}, annotations={"a": "1"}))
    patched = patch(
        cluster,
        ref,
        {
            "metadata": {"annotations": {"a": None, "b": "2"}},
            "spec": {"externalTrafficPolicy": "Local"},
        },
    )
    assert patched["metadata"]["annotations"] == {"b": "2"}
    assert patched["spec"]["externalTrafficPolicy"] == "Local"
    assert delete(cluster, ref) is True
    assert delete(cluster, ref) is False


def test_list_by_label_selector(cluster: Cluster) -> None:
    for name, tier in (("a", "front"), ("b", "back")):
        create(cluster, m.service(f"list-{name}", {"app": name}, labels={"tier": tier}))
    listed = list_objects(cluster, "Service", namespace="default", label_selector="tier=front")
    assert [(s["kind"], s["metadata"]["name"]) for s in listed] == [("Service", "list-a")]
    everywhere = list_objects(cluster, "Service", label_selector="tier=back")
    assert [s["metadata"]["name"] for s in everywhere] == ["list-b"]


def test_delete_owned_removes_only_this_runs_objects(cluster: Cluster) -> None:
    for manifest in owned_objects(cluster, RUN, "t1") + owned_objects(cluster, OTHER_RUN, "t1"):
        create(cluster, manifest)
    mine = leftovers(cluster, RUN)
    assert [ref.kind for ref in mine] == [
        "Deployment",
        "Pod",
        "Service",
        "CiliumBGPAdvertisement",
        "CiliumLoadBalancerIPPool",
        "CiliumBGPClusterConfig",
        "CiliumBGPPeerConfig",
    ]
    assert str(mine[1]) == f"Pod default/web-{RUN}-t1-0"
    deleted = delete_owned(cluster, RUN, grace_period_seconds=0)
    assert deleted == mine
    assert [r for r in leftovers(cluster, RUN) if r.kind != "Pod"] == []
    assert len(leftovers(cluster, OTHER_RUN)) == 7
    delete_owned(cluster, OTHER_RUN, grace_period_seconds=0)


def test_delete_owned_of_one_test(cluster: Cluster) -> None:
    for test_id in ("t1", "t2"):
        for manifest in owned_objects(cluster, RUN, test_id)[:2]:
            create(cluster, manifest)
    assert {r.name for r in delete_owned(cluster, RUN, "t1")} == {
        f"pool-{RUN}-t1",
        f"peer-{RUN}-t1",
    }
    assert {r.name for r in leftovers(cluster, RUN)} == {f"pool-{RUN}-t2", f"peer-{RUN}-t2"}
    delete_owned(cluster, RUN)


def test_bad_manifests_are_refused_before_any_call() -> None:
    with pytest.raises(ValueError, match=r"needs metadata\.namespace"):
        create(None, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"is not in group 'cilium\.io'"):
        create(None, {"apiVersion": "v2", "kind": "CiliumBGPPeerConfig", "metadata": {"name": "p"}})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind 'Gadget': not one of Service, Pod"):
        kind_of("Gadget")
    assert kind_of("EndpointSlice").snake == "endpoint_slice"
