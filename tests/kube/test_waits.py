"""Waits poll until done, and on timeout say what they waited for and what they saw last."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ciliumbgp.kube import waits
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import KubeError, WaitTimeout
from pytest_ciliumbgp.kube.objects import ObjectRef

NO_POOL = {
    "type": "cilium.io/IPAMRequestSatisfied",
    "status": "False",
    "reason": "no_pool",
    "message": "There are no enabled CiliumLoadBalancerIPPools that match this service",
}


class FakeClock:
    """Time that passes only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def seen_objects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What ``find`` returns, one per call (the last repeats); None is "not found"."""
    script: list[Any] = []
    calls = iter(range(10**6))

    def find(cluster: Cluster, ref: ObjectRef) -> Any:
        return script[min(next(calls), len(script) - 1)]

    monkeypatch.setattr(waits, "find", find)
    return script


CLUSTER: Any = object()  # never touched: ``find`` is replaced


def test_wait_until_returns_the_state_once_done(clock: FakeClock) -> None:
    states = iter([(False, "pending"), (False, "pending"), (True, "ready")])
    result = waits.wait_until(
        "thing is ready",
        lambda: next(states),
        timeout=5,
        interval=0.5,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result == "ready"
    assert clock.sleeps == [0.5, 0.5]


def test_wait_until_gives_up_with_the_last_state(clock: FakeClock) -> None:
    count = iter(range(100))
    with pytest.raises(WaitTimeout) as caught:
        waits.wait_until(
            "the count reaches 100",
            lambda: (False, {"count": next(count)}),
            timeout=2,
            interval=0.5,
            clock=clock,
            sleep=clock.sleep,
        )
    assert str(caught.value) == (
        "gave up waiting until the count reaches 100 after 2 s; last seen {'count': 4}"
    )
    assert caught.value.last_state == {"count": 4}
    assert caught.value.description == "the count reaches 100"
    assert clock.now == 2  # probed at 0, 0.5, 1, 1.5 and once more at the deadline
    assert isinstance(caught.value, KubeError)


def test_the_last_sleep_stops_at_the_deadline(clock: FakeClock) -> None:
    with pytest.raises(WaitTimeout):
        waits.wait_until(
            "never", lambda: (False, None), timeout=1, interval=0.4, clock=clock, sleep=clock.sleep
        )
    assert clock.sleeps == pytest.approx([0.4, 0.4, 0.2])


def test_probe_errors_are_not_swallowed(clock: FakeClock) -> None:
    def probe() -> tuple[bool, None]:
        raise KubeError("read Service default/web on http://x: connection refused")

    with pytest.raises(KubeError, match="connection refused"):
        waits.wait_until("x", probe, timeout=1, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_real_time_short_timeout() -> None:
    with pytest.raises(WaitTimeout, match=r"^never: gave up after 0.05 s; last seen 3$"):
        waits.wait_until("never", lambda: (False, 3), 0.05, 0.01, failure="never: gave up")


def test_lb_ip_timeout_shows_status_and_conditions(
    clock: FakeClock, seen_objects: list[Any]
) -> None:
    seen_objects.append(None)
    seen_objects.append({"status": {"loadBalancer": {}, "conditions": [NO_POOL]}})
    with pytest.raises(WaitTimeout) as caught:
        waits.wait_for_lb_ip(CLUSTER, "default", "web", 30, clock=clock, sleep=clock.sleep)
    assert str(caught.value) == (
        "Service default/web: no LoadBalancer IP after 30 s; last seen status.loadBalancer={} "
        "conditions=[cilium.io/IPAMRequestSatisfied=False no_pool: There are no enabled "
        "CiliumLoadBalancerIPPools that match this service]"
    )


def test_lb_ip_not_found_at_the_end(clock: FakeClock, seen_objects: list[Any]) -> None:
    seen_objects.append(None)
    with pytest.raises(WaitTimeout, match=r"last seen no such Service$"):
        waits.wait_for_lb_ip(CLUSTER, "default", "web", 1, clock=clock, sleep=clock.sleep)


def test_lb_ip_once_assigned(clock: FakeClock, seen_objects: list[Any]) -> None:
    seen_objects.append(None)
    seen_objects.append({"status": {"loadBalancer": {"ingress": [{"ip": "172.16.1.7"}]}}})
    assert (
        waits.wait_for_lb_ip(CLUSTER, "default", "web", 5, clock=clock, sleep=clock.sleep)
        == "172.16.1.7"
    )
    assert clock.now == pytest.approx(0.1)


def test_condition_under_either_spelling(clock: FakeClock, seen_objects: list[Any]) -> None:
    legacy = dict(
        NO_POOL, type="io.cilium/lb-ipam-request-satisfied", status="True", reason="satisfied"
    )
    seen_objects.append({"status": {"conditions": [legacy]}})
    ref = ObjectRef("Service", "web", "default")
    found = waits.wait_for_condition(
        CLUSTER,
        ref,
        waits.IPAM_REQUEST_SATISFIED,
        reason="satisfied",
        clock=clock,
        sleep=clock.sleep,
    )
    assert found is legacy


def test_condition_timeout(clock: FakeClock, seen_objects: list[Any]) -> None:
    seen_objects.append({"status": {"conditions": [NO_POOL]}})
    ref = ObjectRef("Service", "web", "default")
    with pytest.raises(WaitTimeout) as caught:
        waits.wait_for_condition(
            CLUSTER, ref, waits.IPAM_REQUEST_SATISFIED, timeout=3, clock=clock, sleep=clock.sleep
        )
    assert str(caught.value).startswith(
        "Service default/web: no condition cilium.io/IPAMRequestSatisfied=True after 3 s; "
        "last seen conditions=[cilium.io/IPAMRequestSatisfied=False no_pool: "
    )


def test_pod_ready_and_its_timeout(clock: FakeClock, seen_objects: list[Any]) -> None:
    unready = {
        "metadata": {"name": "web-0"},
        "spec": {"nodeName": "k8s-w0"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        },
    }
    seen_objects.append(unready)
    with pytest.raises(WaitTimeout) as caught:
        waits.wait_for_pod_ready(CLUSTER, "default", "web-0", 10, clock=clock, sleep=clock.sleep)
    assert str(caught.value) == (
        "Pod default/web-0: not Ready after 10 s; last seen phase=Running node=k8s-w0 "
        "conditions=[Ready=False ContainersNotReady]"
    )
    ready = {
        **unready,
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    seen_objects[:] = [ready]
    assert (
        waits.wait_for_pod_ready(CLUSTER, "default", "web-0", 10, clock=clock, sleep=clock.sleep)
        is ready
    )


def test_terminating_pod_is_not_ready(clock: FakeClock, seen_objects: list[Any]) -> None:
    seen_objects.append(
        {
            "metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    with pytest.raises(WaitTimeout, match=r"deletionTimestamp=2025-01-01T00:00:00Z$"):
        waits.wait_for_pod_ready(CLUSTER, "default", "p", 1, clock=clock, sleep=clock.sleep)


def test_gone(clock: FakeClock, seen_objects: list[Any]) -> None:
    terminating = {"metadata": {"deletionTimestamp": "t", "finalizers": ["cbgp.io/hold"]}}
    seen_objects.append(terminating)
    ref = ObjectRef("Pod", "p", "default")
    with pytest.raises(
        WaitTimeout,
        match=r"^Pod default/p: still present after 2 s; last seen "
        r"deletionTimestamp=t finalizers=\['cbgp.io/hold'\]$",
    ):
        waits.wait_for_gone(CLUSTER, ref, 2, clock=clock, sleep=clock.sleep)
    seen_objects[:] = [terminating, None]
    waits.wait_for_gone(CLUSTER, ref, 2, clock=clock, sleep=clock.sleep)
