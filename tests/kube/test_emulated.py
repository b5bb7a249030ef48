"""The library against the embedded lab's API server: what the builders make is what the
server accepts, what it refuses comes back as one line, and the waits see real objects change
(status is written here by hand: no controllers run behind this server)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pytest_ciliumbgp.kube import manifests as m
from pytest_ciliumbgp.kube import waits
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import KubeError, WaitTimeout
from pytest_ciliumbgp.kube.objects import ObjectRef, apply, create, delete, delete_owned, leftovers
from tests.kube.test_manifests import every_cilium_object

RUN = "emulated-run"


@pytest.fixture
def later() -> Iterator[Callable[[float, Callable[[], Any]], None]]:
    """Runs a change in the background after a delay, as a controller would."""
    timers: list[threading.Timer] = []

    def schedule(delay: float, change: Callable[[], Any]) -> None:
        timers.append(threading.Timer(delay, change))
        timers[-1].start()

    yield schedule
    for timer in timers:
        timer.join()


def renamed(manifest: m.Manifest, suffix: str) -> m.Manifest:
    return {
        **manifest,
        "metadata": {**manifest["metadata"], "name": f"{manifest['metadata']['name']}-{suffix}"},
    }


def test_every_builder_is_accepted_in_both_versions(emulated_cluster: Cluster) -> None:
    owned = m.ownership_labels(RUN, "every-builder")
    built = [
        renamed(manifest, version)
        for version in ("v2", "v2alpha1")
        for manifest in every_cilium_object(version)
    ] + [
        m.service(
            "web",
            {"app": "web"},
            external_traffic_policy="Local",
            requested_ips=["172.16.1.9"],
            load_balancer_class=m.BGP_CONTROL_PLANE_CLASS,
            sharing_key="k",
        ),
        m.backend_pod("web-0", "k8s-w0", {"app": "web"}, pre_stop_sleep_seconds=3),
        m.backend_deployment("web", {"app": "web"}, replicas=2, one_per_node=True),
    ]
    for manifest in built:
        metadata = manifest["metadata"]
        manifest["metadata"] = {**metadata, "labels": {**metadata.get("labels", {}), **owned}}
        apply(emulated_cluster, manifest)
    assert len(leftovers(emulated_cluster, RUN)) == len(built)
    delete_owned(emulated_cluster, RUN, grace_period_seconds=0)
    assert [r for r in leftovers(emulated_cluster, RUN) if r.kind != "Pod"] == []


def test_refusal_is_one_line_naming_the_field(emulated_cluster: Cluster) -> None:
    pool = m.ip_pool("bad", ["172.16.1.0/24"], version="v2")
    pool["spec"]["blocks"] = "172.16.1.0/24"
    with pytest.raises(KubeError) as caught:
        create(emulated_cluster, pool)
    assert caught.value.status == 422
    assert caught.value.reason == "Invalid"
    message = str(caught.value)
    assert message.startswith(
        f"create CiliumLoadBalancerIPPool bad on {emulated_cluster.server}: 422 Invalid: "
    )
    assert "spec.blocks" in message
    assert "\n" not in message


def test_lb_ip_appears(emulated_cluster: Cluster, later: Callable[..., None]) -> None:
    create(emulated_cluster, m.service("web", {"app": "web"}))
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": "172.16.1.3"}]}}}
    later(
        0.3,
        lambda: emulated_cluster.core.patch_namespaced_service_status(
            "web", "default", ingress, _content_type="application/merge-patch+json"
        ),
    )
    assert waits.wait_for_lb_ip(emulated_cluster, "default", "web", timeout=5) == "172.16.1.3"


def test_lb_ip_never_comes(emulated_cluster: Cluster) -> None:
    create(emulated_cluster, m.service("web", {"app": "web"}))
    with pytest.raises(
        WaitTimeout,
        match=r"^Service default/web: no LoadBalancer IP after 0\.3 s; "
        r"last seen status\.loadBalancer=\{\} conditions=\[\]$",
    ):
        waits.wait_for_lb_ip(emulated_cluster, "default", "web", timeout=0.3)


def test_condition_and_pod_ready(emulated_cluster: Cluster, later: Callable[..., None]) -> None:
    create(emulated_cluster, m.backend_pod("web-0", "k8s-w0", {"app": "web"}))
    ready = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    later(
        0.3,
        lambda: emulated_cluster.core.patch_namespaced_pod_status(
            "web-0", "default", ready, _content_type="application/merge-patch+json"
        ),
    )
    pod = waits.wait_for_pod_ready(emulated_cluster, "default", "web-0", timeout=5)
    assert pod["status"]["phase"] == "Running"
    ref = ObjectRef("Pod", "web-0", "default")
    assert waits.wait_for_condition(emulated_cluster, ref, "Ready", timeout=1)["status"] == "True"


def test_gone_after_finalizer_removed(
    emulated_cluster: Cluster, later: Callable[..., None]
) -> None:
    version = "v2"
    pool = m.ip_pool("held", ["172.16.7.0/29"], version=version, labels=m.ownership_labels(RUN))
    pool["metadata"]["finalizers"] = ["cbgp.io/hold"]
    create(emulated_cluster, pool)
    ref = ObjectRef("CiliumLoadBalancerIPPool", "held")
    assert delete(emulated_cluster, ref)
    with pytest.raises(
        WaitTimeout,
        match=r"^CiliumLoadBalancerIPPool held: still present after "
        r"0\.2 s; last seen deletionTimestamp=\S+ "
        r"finalizers=\['cbgp\.io/hold'\]$",
    ):
        waits.wait_for_gone(emulated_cluster, ref, timeout=0.2)
    with pytest.raises(
        WaitTimeout,
        match=r"still present after 0\.2 s; last seen "
        r"\[CiliumLoadBalancerIPPool held\]$",
    ):
        waits.wait_for_no_leftovers(emulated_cluster, RUN, timeout=0.2, interval=0.05)
    later(
        0.2,
        lambda: emulated_cluster.custom.patch_cluster_custom_object(
            "cilium.io",
            version,
            "ciliumloadbalancerippools",
            "held",
            {"metadata": {"finalizers": None}},
        ),
    )
    waits.wait_for_no_leftovers(emulated_cluster, RUN, timeout=5, interval=0.05)
