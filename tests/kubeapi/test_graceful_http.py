"""Graceful Pod deletion over HTTP: DeleteOptions from the official client (query) and kubectl
(body), the 200 answer with the Terminating Pod, and kubectl waiting until the Pod is gone."""

from __future__ import annotations

import threading
import time

from pytest_ciliumbgp.emulator.kubeapi.watch import WatchEvent

from .conftest import Api, assert_terminating, k8s, pod
from .kubectl import kubectl, needs_kubectl
from .rawhttp import call

PODS = "/api/v1/namespaces/default/pods"


def test_client_delete_starts_shortens_and_ends_the_grace_period(api: Api) -> None:
    api.core.create_namespaced_pod("default", pod("web-0"))
    terminating = api.core.delete_namespaced_pod("web-0", "default", grace_period_seconds=7)
    assert (terminating.kind, terminating.metadata.deletion_grace_period_seconds) == ("Pod", 7)
    assert terminating.metadata.deletion_timestamp is not None
    shortened = api.core.delete_namespaced_pod(
        "web-0", "default", body=k8s.client.V1DeleteOptions(grace_period_seconds=3))
    assert shortened.metadata.deletion_grace_period_seconds == 3
    api.core.delete_namespaced_pod("web-0", "default", grace_period_seconds=0)
    assert api.core.list_namespaced_pod("default").items == []


def test_delete_answers_200_with_the_terminating_pod(api: Api) -> None:
    api.store.create("pods", pod("web-0"), "default")
    code, answer = call(api, "DELETE", f"{PODS}/web-0", '{"gracePeriodSeconds": 2}')
    assert code == 200
    assert_terminating(answer, 2)
    code, answer = call(api, "DELETE", f"{PODS}/web-0?gracePeriodSeconds=soon")
    assert (code, answer["reason"]) == (400, "BadRequest")


def test_deletecollection_takes_the_grace_period(api: Api) -> None:
    for name in ("web-0", "web-1"):
        api.store.create("pods", pod(name), "default")
    code, answer = call(api, "DELETE", f"{PODS}?gracePeriodSeconds=0")
    assert (code, len(answer["items"])) == (200, 2)
    assert api.store.list("pods", "default") == []


class Kubelet:
    """Ends the grace period of every Pod being deleted ``after`` seconds, as a node agent
    does once the containers stopped."""

    def __init__(self, api: Api, after: float) -> None:
        self.api = api
        self.after = after
        self.timers: list[threading.Timer] = []
        self.unsubscribe = api.store.subscribe(self.seen)

    def seen(self, event: WatchEvent) -> None:
        if event.resource.kind == "Pod" and event.type == "MODIFIED" and \
                event.object["metadata"].get("deletionTimestamp"):
            timer = threading.Timer(self.after, self.api.store.delete,
                                    ("pods", event.name, event.namespace),
                                    {"grace_period_seconds": 0})
            self.timers.append(timer)
            timer.start()

    def stop(self) -> None:
        self.unsubscribe()
        for timer in self.timers:
            timer.cancel()


@needs_kubectl
def test_kubectl_delete_without_waiting_leaves_the_pod_terminating(api: Api) -> None:
    api.store.create("pods", pod("web-0", terminationGracePeriodSeconds=20), "default")
    assert 'pod "web-0" deleted' in kubectl(api, "delete", "pod", "web-0", "--wait=false")
    assert_terminating(api.store.get("pods", "web-0", "default"), 20)
    assert "Terminating" in kubectl(api, "get", "pod", "web-0")
    kubectl(api, "delete", "pod", "web-0", "--grace-period=5", "--wait=false")
    assert_terminating(api.store.get("pods", "web-0", "default"), 5)
    kubectl(api, "delete", "pod", "web-0", "--grace-period=0", "--force")
    assert api.store.find("pods", "web-0", "default") is None


@needs_kubectl
def test_kubectl_delete_waits_until_the_pod_is_gone(api: Api) -> None:
    api.store.create("pods", pod("web-0"), "default")
    kubelet = Kubelet(api, after=1.0)
    try:
        started = time.monotonic()
        assert 'pod "web-0" deleted' in kubectl(api, "delete", "pod", "web-0")
        waited = time.monotonic() - started
    finally:
        kubelet.stop()
    assert api.store.find("pods", "web-0", "default") is None
    assert waited >= 1.0, f"kubectl returned after {waited:.1f} s, before the kubelet's delete"
