"""What the kubelet reads from a Pod's spec: the ports its containers serve, named ports and
how long its preStop hooks keep it alive after deletion."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DEFAULT_PORT = 80
DEFAULT_GRACE_SECONDS = 30
_SHELL_SLEEP = re.compile(r"^\s*(?:exec\s+)?sleep\s+(\d+(?:\.\d+)?)\s*(?:[;&|].*)?$", re.DOTALL)

Object = Mapping[str, Any]


def containers(pod: Object) -> list[Object]:
    return list((pod.get("spec") or {}).get("containers") or [])


def serving_ports(pod: Object) -> list[int]:
    """Every TCP containerPort of the pod's containers; port 80 (whoami's) when none is
    declared, since an image may listen without declaring it."""
    ports = {int(port["containerPort"]) for container in containers(pod)
             for port in container.get("ports") or []
             if port.get("containerPort") and port.get("protocol", "TCP") == "TCP"}
    return sorted(ports) or [DEFAULT_PORT]


def resolve_port(container: Object, port: int | str) -> int | None:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


def _hook_seconds(hook: Object) -> float:
    if "sleep" in hook:
        return float((hook["sleep"] or {}).get("seconds") or 0)
    command = [str(word) for word in (hook.get("exec") or {}).get("command") or []]
    if len(command) >= 2 and command[0].rsplit("/", 1)[-1] == "sleep":
        try:
            return float(command[1])
        except ValueError:
            return 0.0
    if len(command) >= 3 and command[1] == "-c":
        matched = _SHELL_SLEEP.match(command[2])
        return float(matched.group(1)) if matched else 0.0
    return 0.0


def pre_stop_seconds(pod: Object) -> float:
    """How long the preStop hooks run: an ``exec`` of ``sleep N`` (directly or through
    ``sh -c``) or the ``sleep`` action waits N seconds; hooks of all containers run at once;
    any other command counts as done at once."""
    waits = [_hook_seconds((container.get("lifecycle") or {}).get("preStop") or {})
             for container in containers(pod)]
    return max(waits, default=0.0)


def grace_seconds(pod: Object) -> float:
    """The grace period a deletion gave the pod (the spec's when the deletion did not say)."""
    given = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
    if given is None:
        given = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return float(DEFAULT_GRACE_SECONDS if given is None else given)
