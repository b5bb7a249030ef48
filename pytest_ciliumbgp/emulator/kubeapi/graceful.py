"""What a delete request does to an object's ``deletionTimestamp`` and
``deletionGracePeriodSeconds``, after kube-apiserver's ``rest.BeforeDelete`` and the Pod
strategy: a Pod that reached a node is given a grace period to stop in and stays, Terminating,
until its node agent deletes it again with a grace period of 0; everything else is marked with a
grace period of 0 and goes as soon as it has no finalizers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .objectmeta import now, parse_time, timestamp
from .resources import ResourceType

DEFAULT_GRACE_SECONDS = 30  # the API's default terminationGracePeriodSeconds


def grace_period(rt: ResourceType, obj: dict[str, Any], requested: int | None) -> int:
    """The grace a first delete gives ``obj``: 0 but for Pods that run (or may run) on a node."""
    if rt.kind != "Pod":
        return 0
    spec = obj.get("spec") or {}
    if not spec.get("nodeName") or (obj.get("status") or {}).get("phase") in ("Succeeded",
                                                                             "Failed"):
        return 0  # never started or already stopped: nothing to wait for
    if requested is None:
        configured = spec.get("terminationGracePeriodSeconds")
        requested = DEFAULT_GRACE_SECONDS if configured is None else int(configured)
    return 1 if requested < 0 else requested  # as the Pod strategy: negative means soon, not now


def deletion_marks(rt: ResourceType, obj: dict[str, Any], requested: int | None,
                   ) -> tuple[str, int] | None:
    """The ``(deletionTimestamp, deletionGracePeriodSeconds)`` a delete with ``requested``
    grace seconds gives ``obj``, or None when it leaves them as they are: an object already
    being deleted only takes a shorter grace period, its deadline moving back by the
    difference."""
    metadata = obj["metadata"]
    pending = metadata.get("deletionGracePeriodSeconds")
    if metadata.get("deletionTimestamp"):
        if not pending or requested is None or requested >= pending:
            return None
        shortened = max(requested, 0)
        deadline = parse_time(metadata["deletionTimestamp"]) - timedelta(
            seconds=pending - shortened)
        return timestamp(deadline), shortened
    grace = grace_period(rt, obj, requested)
    return now(grace), grace


def finalized(obj: dict[str, Any]) -> bool:
    """Whether an update leaves ``obj`` to be removed: being deleted, its last finalizer gone
    and no grace period running (a Terminating Pod whose status is written stays)."""
    metadata = obj["metadata"]
    return bool(metadata.get("deletionTimestamp")) and not metadata.get("finalizers") and \
        not metadata.get("deletionGracePeriodSeconds")
