"""Pod status as a kubelet writes it: phase, the five pod conditions (each keeping its
lastTransitionTime while its status holds), container statuses, addresses and times."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .podspec import Object, containers

CONTAINER_RUNTIME = "containerd"
READY_TO_START = "PodReadyToStartContainers"
CONDITION_ORDER = (READY_TO_START, "Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass(frozen=True)
class ContainerState:
    """How far one container got: created (``started_at``), ready, finished."""

    name: str
    started_at: str | None = None
    ready: bool = False
    finished_at: str | None = None


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def image_id(image: str) -> str:
    """The repository digest a runtime reports: ``docker.io/traefik/whoami@sha256:…``."""
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: -(len(last) - last.index(":"))]
    first = repository.split("/", 1)[0]
    if "/" not in repository:
        repository = f"docker.io/library/{repository}"
    elif "." not in first and ":" not in first and first != "localhost":
        repository = f"docker.io/{repository}"
    return f"{repository}@sha256:{_digest(image)}"


def condition(previous: Sequence[Mapping[str, Any]], kind: str, status: bool, now: str,
              reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    value = "True" if status else "False"
    before = next((c for c in previous if c.get("type") == kind), None)
    since = before.get("lastTransitionTime") if before and before.get("status") == value else None
    made: dict[str, Any] = {"type": kind, "status": value, "lastProbeTime": None,
                            "lastTransitionTime": since or now}
    if reason:
        made["reason"] = reason
    if message:
        made["message"] = message
    return made


def container_status(container: Object, uid: str, state: ContainerState) -> dict[str, Any]:
    name, image = str(container["name"]), str(container.get("image") or "")
    status: dict[str, Any] = {"name": name, "image": image, "imageID": "", "ready": False,
                              "started": False, "restartCount": 0, "lastState": {}}
    if state.started_at is None:
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return status
    container_id = f"{CONTAINER_RUNTIME}://{_digest(uid, name)}"
    status.update(imageID=image_id(image), containerID=container_id)
    if state.finished_at is not None:
        status["state"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                          "startedAt": state.started_at,
                                          "finishedAt": state.finished_at,
                                          "containerID": container_id}}
        return status
    status.update(ready=state.ready, started=True,
                  state={"running": {"startedAt": state.started_at}})
    return status


def pod_status(pod: Object, states: Mapping[str, ContainerState], *, host_ip: str,
               start_time: str, pod_ip: str | None, now: str) -> dict[str, Any]:
    """The status of ``pod`` given how its containers are (by name) and its sandbox's address
    (None while the network is being made)."""
    current = pod.get("status") or {}
    previous = current.get("conditions") or []
    uid = str(pod["metadata"]["uid"])
    statuses = [container_status(c, uid, states.get(str(c["name"]), ContainerState(c["name"])))
                for c in containers(pod)]
    unready = [s["name"] for s in statuses if not s["ready"]]
    not_ready = {"reason": "ContainersNotReady",
                 "message": f"containers with unready status: [{' '.join(unready)}]"} \
        if unready else {}
    conditions = {
        READY_TO_START: condition(previous, READY_TO_START, pod_ip is not None, now),
        "Initialized": condition(previous, "Initialized", True, now),
        "Ready": condition(previous, "Ready", not unready, now, **not_ready),
        "ContainersReady": condition(previous, "ContainersReady", not unready, now, **not_ready),
        "PodScheduled": condition(previous, "PodScheduled", True, now),
    }
    status: dict[str, Any] = {
        "phase": "Running" if any(s["started"] or "terminated" in s["state"]
                                  for s in statuses) else "Pending",
        "conditions": [conditions[kind] for kind in CONDITION_ORDER],
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": start_time,
        "containerStatuses": statuses,
        "qosClass": current.get("qosClass") or "BestEffort",
    }
    if pod_ip is not None:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status
