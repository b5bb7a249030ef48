"""Waits that say what they wait for, and give up with the last state they saw.

``wait_until`` is the generic one, built on tenacity: it polls a probe that returns
``(done, last_state)`` every ``interval`` seconds until done or ``timeout``, then raises
WaitTimeout whose message reads ``<failure> after <timeout> s; last seen <last_state>``, e.g.
``Service default/web: no LoadBalancer IP after 30 s; last seen status.loadBalancer={}
conditions=[cilium.io/IPAMRequestSatisfied=False no_pool: …]``. The others are probes for what
the suite waits on. Clock and sleep can be replaced, so tests need not wait.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity

from pytest_ciliumbgp.kube.client import JSON, Cluster
from pytest_ciliumbgp.kube.errors import WaitTimeout
from pytest_ciliumbgp.kube.objects import ObjectRef, find, leftovers

# The Service condition LB-IPAM sets; older releases and docs spell it the second way.
IPAM_REQUEST_SATISFIED = ("cilium.io/IPAMRequestSatisfied", "io.cilium/lb-ipam-request-satisfied")
DEFAULT_INTERVAL = 0.1

State = TypeVar("State")
Clock = Callable[[], float]
Sleep = Callable[[float], None]
log = logging.getLogger(__name__)


def wait_until(
    description: str,
    probe: Callable[[], tuple[bool, State]],
    timeout: float,
    interval: float = DEFAULT_INTERVAL,
    *,
    failure: str | None = None,
    show: Callable[[State], str] = str,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> State:
    """Poll ``probe`` until it reports done; return the state it reported then.

    ``description`` says what is awaited (``Service default/web gets a LoadBalancer IP``);
    ``failure`` what a timeout means (default ``gave up waiting until <description>``) and
    ``show`` how the last state reads in that message. The probe runs at least once, and once
    more at the deadline. Exceptions from the probe are not retried: a probe that can tolerate
    one (a 404 while an object appears) catches it.
    """
    deadline = clock() + timeout
    seen: list[State] = []

    def attempt() -> bool:
        done, state = probe()
        seen[:] = [state]
        return done

    def give_up(_: tenacity.RetryCallState) -> bool:
        what = failure or f"gave up waiting until {description}"
        raise WaitTimeout(
            f"{what} after {timeout:g} s; last seen {show(seen[-1])}",
            description=description,
            timeout=timeout,
            last_state=seen[-1],
        )

    log.debug("waiting up to %g s until %s", timeout, description)
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda done: not done),
        stop=lambda _: clock() >= deadline,
        wait=lambda _: max(0.0, min(interval, deadline - clock())),
        sleep=sleep,
        retry_error_callback=give_up,
    )
    retrying(attempt)
    return seen[-1]


@dataclass(frozen=True)
class ServiceSeen:
    """A Service's LB-IPAM view: ``status.loadBalancer`` and ``status.conditions``."""

    load_balancer: Mapping[str, Any]
    conditions: Sequence[Mapping[str, Any]]
    found: bool = True

    @property
    def ips(self) -> list[str]:
        return [str(i["ip"]) for i in self.load_balancer.get("ingress") or [] if i.get("ip")]

    def __str__(self) -> str:
        if not self.found:
            return "no such Service"
        return (
            f"status.loadBalancer={json.dumps(self.load_balancer, sort_keys=True)} "
            f"conditions={render_conditions(self.conditions)}"
        )


def wait_for_lb_ip(
    cluster: Cluster,
    namespace: str,
    name: str,
    timeout: float = 30.0,
    interval: float = DEFAULT_INTERVAL,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> str:
    """The first IP in the Service's ``status.loadBalancer.ingress``, once there is one."""
    ref = ObjectRef("Service", name, namespace)

    def probe() -> tuple[bool, ServiceSeen]:
        found = find(cluster, ref)
        if found is None:
            return False, ServiceSeen({}, (), found=False)
        status = found.get("status") or {}
        seen = ServiceSeen(status.get("loadBalancer") or {}, status.get("conditions") or [])
        return bool(seen.ips), seen

    seen = wait_until(
        f"{ref} gets a LoadBalancer IP",
        probe,
        timeout,
        interval,
        failure=f"{ref}: no LoadBalancer IP",
        clock=clock,
        sleep=sleep,
    )
    return seen.ips[0]


def wait_for_condition(
    cluster: Cluster,
    ref: ObjectRef,
    condition_type: str | Sequence[str],
    status: str = "True",
    timeout: float = 30.0,
    interval: float = DEFAULT_INTERVAL,
    *,
    reason: str | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> JSON:
    """The object's ``status.conditions`` entry of ``condition_type`` (one of several
    spellings, e.g. ``IPAM_REQUEST_SATISFIED``) once it has ``status`` (and ``reason``)."""
    types = (condition_type,) if isinstance(condition_type, str) else tuple(condition_type)
    wanted = f"{types[0]}={status}" + (f" ({reason})" if reason else "")

    def probe() -> tuple[bool, JSON | None]:
        found = find(cluster, ref)
        for condition in _conditions(found):
            if (
                condition.get("type") in types
                and condition.get("status") == status
                and (reason is None or condition.get("reason") == reason)
            ):
                return True, condition
        return False, found

    def show(found: JSON | None) -> str:
        if found is None:
            return f"no such {ref.kind}"
        return f"conditions={render_conditions(_conditions(found))}"

    condition = wait_until(
        f"{ref} has condition {wanted}",
        probe,
        timeout,
        interval,
        failure=f"{ref}: no condition {wanted}",
        show=show,
        clock=clock,
        sleep=sleep,
    )
    assert condition is not None
    return condition


def wait_for_pod_ready(
    cluster: Cluster,
    namespace: str,
    name: str,
    timeout: float = 60.0,
    interval: float = DEFAULT_INTERVAL,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> JSON:
    """The Pod once its Ready condition is True and it is not being deleted."""
    ref = ObjectRef("Pod", name, namespace)

    def probe() -> tuple[bool, JSON | None]:
        pod = find(cluster, ref)
        return pod is not None and _pod_ready(pod), pod

    pod = wait_until(
        f"{ref} is Ready",
        probe,
        timeout,
        interval,
        failure=f"{ref}: not Ready",
        show=_render_pod,
        clock=clock,
        sleep=sleep,
    )
    assert pod is not None
    return pod


def wait_for_gone(
    cluster: Cluster,
    ref: ObjectRef,
    timeout: float = 60.0,
    interval: float = DEFAULT_INTERVAL,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> None:
    """Return once the object no longer exists (finalizers and grace periods done)."""

    def probe() -> tuple[bool, JSON | None]:
        found = find(cluster, ref)
        return found is None, found

    def show(found: JSON | None) -> str:
        meta = (found or {}).get("metadata") or {}
        return (
            f"deletionTimestamp={meta.get('deletionTimestamp')} "
            f"finalizers={meta.get('finalizers') or []}"
        )

    wait_until(
        f"{ref} is gone",
        probe,
        timeout,
        interval,
        failure=f"{ref}: still present",
        show=show,
        clock=clock,
        sleep=sleep,
    )


def wait_for_no_leftovers(
    cluster: Cluster,
    run_id: str,
    test_id: str | None = None,
    timeout: float = 60.0,
    interval: float = 0.5,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> None:
    """Return once nothing carries the run's (and test's) ownership label any more."""

    def probe() -> tuple[bool, list[ObjectRef]]:
        remaining = leftovers(cluster, run_id, test_id)
        return not remaining, remaining

    owner = f"run {run_id}" + (f" test {test_id}" if test_id else "")
    wait_until(
        f"nothing of {owner} is left",
        probe,
        timeout,
        interval,
        failure=f"objects of {owner} still present",
        show=_render_refs,
        clock=clock,
        sleep=sleep,
    )


def render_conditions(conditions: Sequence[Mapping[str, Any]]) -> str:
    """``[type=status reason: message, …]``, the way an operator scans them."""
    shown = []
    for condition in conditions:
        text = f"{condition.get('type')}={condition.get('status')}"
        if condition.get("reason"):
            text += f" {condition['reason']}"
        if condition.get("message"):
            text += f": {condition['message']}"
        shown.append(text)
    return f"[{', '.join(shown)}]"


def _conditions(found: Mapping[str, Any] | None) -> list[JSON]:
    return list(((found or {}).get("status") or {}).get("conditions") or [])


def _render_refs(refs: list[ObjectRef]) -> str:
    return f"[{', '.join(map(str, refs))}]"


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _render_pod(pod: Mapping[str, Any] | None) -> str:
    if pod is None:
        return "no such Pod"
    status = pod.get("status") or {}
    terminating = (pod.get("metadata") or {}).get("deletionTimestamp")
    return (
        f"phase={status.get('phase')} node={(pod.get('spec') or {}).get('nodeName')} "
        f"conditions={render_conditions(status.get('conditions') or [])}"
        + (f" deletionTimestamp={terminating}" if terminating else "")
    )
