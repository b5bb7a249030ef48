"""Server-side printing: ``kubectl get`` asks for ``meta.k8s.io/v1 Table`` and prints the cells
as given, so the columns here are kubectl's for each kind (wide-only ones at priority 1) and the
printer columns of the CRDs for the cilium.io kinds."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .objectmeta import parse_time

if TYPE_CHECKING:
    from .routing import Route

Cell = Callable[[dict[str, Any]], Any]
Column = tuple[str, str, int, Cell]  # name, type, priority (1 = only with -o wide), cell


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def age(obj: dict[str, Any]) -> str:
    created = obj.get("metadata", {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    then = parse_time(created)
    seconds = max(0, int((datetime.now(timezone.utc) - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 2:
        return f"{hours}h"
    return f"{days}d"


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for step in path:
        obj = obj.get(step) if isinstance(obj, dict) else None
    return default if obj is None else obj


_FILTER = re.compile(r'^(\w+)\[\?\(@\.(\w+)=="([^"]*)"\)\]$')


def json_path(obj: dict[str, Any], expression: str) -> Any:
    """The subset of JSONPath CRD printer columns use: ``.a.b`` and ``.list[?(@.k=="v")].f``."""
    current: Any = obj
    for step in expression.lstrip(".").split("."):
        if match := _FILTER.match(step):
            listed, key, value = match.groups()
            items = current.get(listed) if isinstance(current, dict) else None
            current = next((i for i in items or [] if isinstance(i, dict) and i.get(key) == value),
                           None)
        else:
            current = current.get(step) if isinstance(current, dict) else None
    return "" if current is None else current


def _node_status(node: dict[str, Any]) -> str:
    ready = next((c for c in _get(node, "status", "conditions", default=[])
                  if c.get("type") == "Ready"), None)
    status = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    return status + (",SchedulingDisabled" if _get(node, "spec", "unschedulable") else "")


def _node_roles(node: dict[str, Any]) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix):] for k in _get(node, "metadata", "labels", default={})
                   if k.startswith(prefix))
    return ",".join(roles) or "<none>"


def _address(node: dict[str, Any], kind: str) -> str:
    return next((a["address"] for a in _get(node, "status", "addresses", default=[])
                 if a.get("type") == kind), "<none>")


def _pod_ready(pod: dict[str, Any]) -> str:
    statuses = _get(pod, "status", "containerStatuses", default=[])
    total = len(_get(pod, "spec", "containers", default=[]))
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _service_ports(service: dict[str, Any]) -> str:
    ports = _get(service, "spec", "ports", default=[])
    return ",".join(f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
                    f"/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _external_ip(service: dict[str, Any]) -> str:
    ingress = _get(service, "status", "loadBalancer", "ingress", default=[])
    addresses = [i.get("ip") or i.get("hostname") for i in ingress]
    addresses += _get(service, "spec", "externalIPs", default=[])
    if addresses:
        return ",".join(str(a) for a in addresses)
    return "<pending>" if _get(service, "spec", "type") == "LoadBalancer" else "<none>"


def _labels(labels: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def _selector(service: dict[str, Any]) -> str:
    return _labels(_get(service, "spec", "selector", default={}))


def _label_selector(workload: dict[str, Any]) -> str:
    """A workload's ``spec.selector`` as ``metav1.FormatLabelSelector`` writes it."""
    selector = _get(workload, "spec", "selector", default={})
    requirements = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator")
        values = ",".join(sorted(expression.get("values") or []))
        written = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                   "Exists": key, "DoesNotExist": f"!{key}"}.get(str(operator), key)
        requirements.append((key, written))
    return ",".join(written for _, written in sorted(requirements)) or "<none>"


def _template_containers(workload: dict[str, Any], field: str) -> str:
    containers = _get(workload, "spec", "template", "spec", "containers", default=[])
    return ",".join(str(c.get(field, "")) for c in containers)


def _deployment_ready(deployment: dict[str, Any]) -> str:
    ready = _get(deployment, "status", "readyReplicas", default=0)
    return f"{ready}/{_get(deployment, 'spec', 'replicas', default=0)}"


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def _count(name: str, *path: str) -> Column:
    return (name, "integer", 0, lambda obj: _get(obj, *path, default=0))


_AGE: Column = ("Age", "string", 0, age)
# -o wide on workloads: what their Pods run and how they are picked.
_WORKLOAD_WIDE: list[Column] = [
    ("Containers", "string", 1, lambda w: _template_containers(w, "name")),
    ("Images", "string", 1, lambda w: _template_containers(w, "image")),
    ("Selector", "string", 1, _label_selector),
]
_COLUMNS: dict[str, list[Column]] = {
    "Node": [("Status", "string", 0, _node_status), ("Roles", "string", 0, _node_roles), _AGE,
             ("Version", "string", 0, lambda n: _get(n, "status", "nodeInfo", "kubeletVersion",
                                                     default="")),
             ("Internal-IP", "string", 1, lambda n: _address(n, "InternalIP")),
             ("External-IP", "string", 1, lambda n: _address(n, "ExternalIP")),
             ("OS-Image", "string", 1, lambda n: _get(n, "status", "nodeInfo", "osImage",
                                                      default="<unknown>")),
             ("Kernel-Version", "string", 1, lambda n: _get(n, "status", "nodeInfo",
                                                            "kernelVersion", default="<unknown>")),
             ("Container-Runtime", "string", 1, lambda n: _get(
                 n, "status", "nodeInfo", "containerRuntimeVersion", default="<unknown>"))],
    "Pod": [("Ready", "string", 0, _pod_ready),
            ("Status", "string", 0, lambda p: "Terminating" if _get(p, "metadata",
                                                                   "deletionTimestamp")
             else _get(p, "status", "phase", default="Unknown")),
            ("Restarts", "string", 0, lambda p: str(sum(s.get("restartCount", 0) for s in _get(
                p, "status", "containerStatuses", default=[])))), _AGE,
            ("IP", "string", 1, lambda p: _get(p, "status", "podIP", default="<none>")),
            ("Node", "string", 1, lambda p: _get(p, "spec", "nodeName", default="<none>"))],
    "Service": [("Type", "string", 0, lambda s: _get(s, "spec", "type")),
                ("Cluster-IP", "string", 0, lambda s: _get(s, "spec", "clusterIP",
                                                           default="<none>")),
                ("External-IP", "string", 0, _external_ip),
                ("Port(s)", "string", 0, _service_ports), _AGE,
                ("Selector", "string", 1, _selector)],
    "Deployment": [("Ready", "string", 0, _deployment_ready),
                   ("Up-to-date", "integer", 0, lambda d: _get(d, "status", "updatedReplicas",
                                                               default=0)),
                   ("Available", "integer", 0, lambda d: _get(d, "status", "availableReplicas",
                                                              default=0)), _AGE,
                   *_WORKLOAD_WIDE],
    "ReplicaSet": [_count("Desired", "spec", "replicas"),
                   _count("Current", "status", "replicas"),
                   _count("Ready", "status", "readyReplicas"), _AGE, *_WORKLOAD_WIDE],
    "DaemonSet": [_count("Desired", "status", "desiredNumberScheduled"),
                  _count("Current", "status", "currentNumberScheduled"),
                  _count("Ready", "status", "numberReady"),
                  _count("Up-to-date", "status", "updatedNumberScheduled"),
                  _count("Available", "status", "numberAvailable"),
                  ("Node Selector", "string", 0, lambda d: _labels(_get(
                      d, "spec", "template", "spec", "nodeSelector", default={}))),
                  _AGE, *_WORKLOAD_WIDE],
    "Namespace": [("Status", "string", 0, lambda n: _get(n, "status", "phase", default="")), _AGE],
    "ConfigMap": [("Data", "integer", 0, lambda c: len(c.get("data") or {})), _AGE],
}


def _printer_cell(path: str) -> Cell:
    return lambda obj: json_path(obj, path)


def columns(route: Route) -> list[Column]:
    if route.rt.kind in _COLUMNS:
        return _COLUMNS[route.rt.kind]
    printed: list[Column] = [
        (name, kind, 0, _printer_cell(path)) for name, kind, path in route.rt.printer_columns
    ]
    return [*printed, _AGE]


def table(route: Route, objects: list[dict[str, Any]], revision: int) -> dict[str, Any]:
    listed = [("Name", "string", 0, _name), *columns(route)]
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(revision)},
        "columnDefinitions": [
            {"name": name, "type": kind, "format": "name" if name == "Name" else "",
             "description": "", "priority": priority}
            for name, kind, priority, _ in listed
        ],
        "rows": [
            {"cells": [cell(obj) for _, _, _, cell in listed],
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": obj["metadata"]}}
            for obj in objects
        ],
    }
