"""The lab's scheduler: binds each unbound Pod to a feasible node, the one with the fewest pods.

Feasible: the Node is Ready and schedulable, tolerated (NoSchedule/NoExecute taints), matches
the Pod's ``nodeSelector``, and no pod that counts (same namespace, bound, not terminating)
matching a required ``podAntiAffinity`` term with topologyKey ``kubernetes.io/hostname`` runs
there. A Pod that fits nowhere gets PodScheduled False, reason Unschedulable, with the real
scheduler's message (``0/3 nodes are available: 3 node(s) didn't match pod anti-affinity
rules.``) and is tried again on the next change of Pods or Nodes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ..controller import Controller
from ..faults import Faults
from ..kubeapi.errors import ApiError
from ..kubeapi.objectmeta import now
from ..kubeapi.resources import resolve
from ..kubeapi.selectors import from_label_selector_object, labels_match
from ..kubeapi.store import Store
from .podspec import Object
from .podstatus import condition

PODS = "pods"
HOSTNAME_KEY = "kubernetes.io/hostname"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node(s) were unschedulable"
SELECTOR_MISMATCH = "node(s) didn't match Pod's node affinity/selector"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"


def _labels(obj: Object) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _node_ready(node: Object) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration["key"] == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and \
                toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def anti_affinity_terms(pod: Object) -> list[Mapping[str, Any]]:
    """The pod's required anti-affinity terms that spread over hosts (the lab's one topology)."""
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("podAntiAffinity") or {}
    return [term for term in affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []
            if term.get("topologyKey") == HOSTNAME_KEY]


class Scheduler(Controller):
    watches = ("pods", "nodes")
    name = "scheduler"

    def __init__(self, store: Store, faults: Faults | None = None) -> None:
        super().__init__(store, faults=faults)

    def reconcile(self) -> None:
        pods, _ = self.store.snapshot(resolve(PODS), None)
        nodes, _ = self.store.snapshot(resolve("nodes"), None)
        # Bound pods that count for spreading and anti-affinity; grows as this pass binds.
        placed = [(pod, pod["spec"]["nodeName"]) for pod in pods
                  if pod["spec"].get("nodeName") and not pod["metadata"].get("deletionTimestamp")]
        waiting = sorted((pod for pod in pods if not pod["spec"].get("nodeName")
                          and not pod["metadata"].get("deletionTimestamp")),
                         key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        for pod in waiting:
            reasons: Counter[str] = Counter()
            feasible = [node for node in nodes if self._fits(pod, node, placed, reasons)]
            if not feasible:
                self._unschedulable(pod, len(nodes), reasons)
                continue
            load = Counter(name for _, name in placed)
            chosen = min(feasible, key=lambda n: (load[n["metadata"]["name"]],
                                                  n["metadata"]["name"]))["metadata"]["name"]
            if self._bind(pod, chosen):
                placed.append((pod, chosen))

    def _fits(self, pod: Object, node: Object, placed: Sequence[tuple[Object, str]],
              reasons: Counter[str]) -> bool:
        spec = pod.get("spec") or {}
        name = node["metadata"]["name"]
        tolerations = spec.get("tolerations") or []
        if (node.get("spec") or {}).get("unschedulable"):
            reasons[UNSCHEDULABLE] += 1
            return False
        taints = [t for t in (node.get("spec") or {}).get("taints") or []
                  if t.get("effect") in ("NoSchedule", "NoExecute")]
        if not _node_ready(node):
            taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule"})
        for taint in taints:
            if not _tolerates(tolerations, taint):
                reasons[f"node(s) had untolerated taint {{{taint['key']}: "
                        f"{taint.get('value', '')}}}"] += 1
                return False
        labels = _labels(node)
        if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
            reasons[SELECTOR_MISMATCH] += 1
            return False
        namespace = pod["metadata"].get("namespace")
        for term in anti_affinity_terms(pod):
            # A term without a labelSelector matches no pod, as upstream.
            selector = from_label_selector_object(term.get("labelSelector"))
            if selector is not None and any(
                    other["metadata"].get("namespace") == namespace and where == name
                    and labels_match(selector, _labels(other)) for other, where in placed):
                reasons[ANTI_AFFINITY] += 1
                return False
        return True

    def _bind(self, pod: Object, node: str) -> bool:
        metadata = pod["metadata"]
        with self.store.lock:  # bound and marked at once, before the kubelet writes status
            try:
                self.store.patch(PODS, metadata["name"], {"spec": {"nodeName": node}},
                                 metadata["namespace"])
            except ApiError as error:
                if error.code in (404, 409, 422):  # gone, or bound by someone else meanwhile
                    return False
                raise
            self._scheduled(pod, condition([], "PodScheduled", True, now()))
        return True

    def _unschedulable(self, pod: Object, node_count: int, reasons: Counter[str]) -> None:
        detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        message = f"0/{node_count} nodes are available" + (f": {detail}." if detail else ".")
        previous = (pod.get("status") or {}).get("conditions") or []
        self._scheduled(pod, condition(previous, "PodScheduled", False, now(),
                                       reason="Unschedulable", message=message))

    def _scheduled(self, pod: Object, scheduled: dict[str, Any]) -> None:
        metadata = pod["metadata"]
        current = pod.get("status") or {}
        others = [c for c in current.get("conditions") or [] if c.get("type") != "PodScheduled"]
        try:
            self.store.patch(PODS, metadata["name"],
                             {"status": {"conditions": [*others, scheduled]}},
                             metadata["namespace"], status=True)
        except ApiError as error:
            if error.code != 404:
                raise
