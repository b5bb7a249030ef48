"""The pods of the ``kube-system/cilium`` DaemonSet: one per node, each run by that node's
emulated cilium-agent (its BGP side, ``BgpAgent``).

Deleting a node's pod (``kubectl -n kube-system delete pod cilium-xxxxx``) restarts that node's
agent as on a real cluster: the agent stops and its speaker with it (a Cease NOTIFICATION; a
router with graceful restart negotiated keeps the node's paths, marked stale, one without
drops them at once), the pod goes, the DaemonSet puts a new one on the node, and the new agent
starts a fresh speaker :data:`AGENT_STARTUP_S` later (a real agent takes seconds to come up),
which announces the node's paths and re-establishes its sessions. The node's datapath keeps
forwarding throughout, as Cilium's BPF datapath outlives the agent.

A new pod template (the image of a ``helm upgrade``, the ``restartedAt`` annotation of
``kubectl rollout restart``) rolls the pods node by node (``RollingUpdate``, ``maxUnavailable``
1 unless set): a node's old pod is deleted only while no more than ``maxUnavailable`` nodes
lack a Ready pod. A pod is Ready once its agent runs and every BGP session of the node is
Established again, so a rollout moves on only when the last node's speaker is back.

A speaker killed from outside is not started again (that is how lab tests take a node's BGP
down); its pod then shows not Ready. The agents the lab started before any pod existed are
adopted by the first pods, not restarted.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pytest_ciliumbgp.inventory import Inventory, Node

from ..controller import Controller
from ..kubeapi.errors import ApiError
from ..kubeapi.objectmeta import now
from ..kubeapi.resources import resolve
from ..kubeapi.store import Store
from ..workloads.deployments import is_ready, template_hash
from ..workloads.podspec import Object, containers
from ..workloads.podstatus import ContainerState, pod_status

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
DAEMONSET = "cilium"
PODS = "pods"
REVISION_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"
#: seconds from a new pod to its agent's BGP control plane: a real cilium-agent needs seconds
#: (tens on a busy node) before it peers again, and a restart must be long enough to see
AGENT_STARTUP_S = 2.0


class NodeAgent(Protocol):
    """What the pods controller needs of a node's agent (``BgpAgent``)."""

    def stop_agent(self) -> None: ...

    def start_agent(self) -> None: ...

    def ready(self) -> bool: ...


def owned_by_daemonset(pod: Object) -> bool:
    """Whether the cilium DaemonSet controls ``pod`` (by name, so that the pods of a deleted
    DaemonSet are still stopped as they go)."""
    return any(reference.get("kind") == "DaemonSet" and reference.get("name") == DAEMONSET
               and reference.get("controller")
               for reference in pod["metadata"].get("ownerReferences") or [])


def max_unavailable(daemonset: Object, nodes: int) -> int:
    """``spec.updateStrategy.rollingUpdate.maxUnavailable`` as a node count (a percentage
    rounds down, as the DaemonSet controller does, but never below 1)."""
    rolling = ((daemonset["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {})
    value = rolling.get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        return max(nodes * int(value[:-1]) // 100, 1)
    return max(int(value), 1)


def rolls(daemonset: Object) -> bool:
    """Whether a new template replaces pods by itself (``RollingUpdate``, the default) rather
    than only as they are deleted (``OnDelete``)."""
    strategy = (daemonset["spec"].get("updateStrategy") or {}).get("type") or "RollingUpdate"
    return bool(strategy == "RollingUpdate")


def agent_pod(daemonset: Object, node: str) -> dict[str, Any]:
    """The pod the DaemonSet puts on ``node``: its template, bound to the node as the
    DaemonSet controller binds it (``nodeName`` and a node affinity on the node's name)."""
    metadata = daemonset["metadata"]
    template = daemonset["spec"]["template"]
    template_metadata = template.get("metadata") or {}
    labels = {**(template_metadata.get("labels") or {}),
              REVISION_LABEL: template_hash(template),
              GENERATION_LABEL: str(metadata.get("generation", 1))}
    pod_metadata: dict[str, Any] = {
        "generateName": f"{metadata['name']}-", "namespace": metadata["namespace"],
        "labels": labels,
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                             "name": metadata["name"], "uid": metadata["uid"],
                             "controller": True, "blockOwnerDeletion": True}],
    }
    if template_metadata.get("annotations"):
        pod_metadata["annotations"] = dict(template_metadata["annotations"])
    spec = copy.deepcopy(template.get("spec") or {})
    spec["nodeName"] = node
    spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_metadata, "spec": spec}


class CiliumAgentPods(Controller):
    """The DaemonSet controller and the node side of the cilium pods, over ``agents`` (one
    per inventory node, by node name)."""

    watches = ("daemonsets", PODS, "nodes")
    resync = 0.5  # readiness follows the agents' BGP sessions
    name = "cilium-agent-pods"

    def __init__(self, store: Store, inventory: Inventory,
                 agents: Mapping[str, NodeAgent]) -> None:
        super().__init__(store)
        self.nodes: dict[str, Node] = {node.name: node for node in inventory.nodes
                                       if node.name in agents}
        self.agents = dict(agents)
        #: node -> uid of the pod its agent runs for
        self._pod_of: dict[str, str] = {}
        #: nodes whose agent runs since the lab started, for the first pod to take over
        self._adoptable = set(self.nodes)
        #: pod uid -> when its agent started
        self._started: dict[str, str] = {}
        #: pod uid -> when this controller first saw it (monotonic), for the agent's startup
        self._seen: dict[str, float] = {}

    def reconcile(self) -> None:
        daemonset = self.store.find("daemonsets", DAEMONSET, NAMESPACE)
        pods, _ = self.store.snapshot(resolve(PODS), NAMESPACE)
        on_node: dict[str, list[Object]] = {name: [] for name in self.nodes}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node in on_node and owned_by_daemonset(pod):
                on_node[node].append(pod)
        present = {node["metadata"]["name"] for node in self.store.list("nodes")}
        live: dict[str, Object] = {}
        for name, node_pods in on_node.items():
            found = self._sync_node(name, node_pods, daemonset if name in present else None)
            if found is not None:
                live[name] = found
        if daemonset is not None:
            eligible = [name for name in self.nodes if name in present]
            self._roll(daemonset, eligible, live)
            self._write_daemonset_status(daemonset, eligible, live)

    def _sync_node(self, node: str, pods: Sequence[Object], daemonset: Object | None,
                   ) -> Object | None:
        """Stop the agent of a deleted pod and remove the pod; start the agent of a new pod;
        give the node a pod when it has none. Returns the node's live pod."""
        live = [pod for pod in pods if not pod["metadata"].get("deletionTimestamp")]
        for pod in pods:
            if pod not in live:
                self._retire(node, pod)
        if not live:
            if daemonset is not None:
                self._create(daemonset, node)
            return None
        pod, *extra = sorted(live, key=lambda p: (p["metadata"]["creationTimestamp"],
                                                  p["metadata"]["name"]))
        for surplus in extra:
            self._delete(surplus)
        uid = str(pod["metadata"]["uid"])
        if self._pod_of.get(node) != uid:
            self._take_over(node, uid)
        self._write_pod_status(node, pod)
        return pod

    def _retire(self, node: str, pod: Object) -> None:
        uid = str(pod["metadata"]["uid"])
        if self._pod_of.get(node) == uid:
            log.info("cilium agent on %s stops (pod %s deleted)", node, pod["metadata"]["name"])
            self.agents[node].stop_agent()
            del self._pod_of[node]
        self._adoptable.discard(node)
        self._started.pop(uid, None)
        self._seen.pop(uid, None)
        metadata = pod["metadata"]
        try:
            self.store.delete(PODS, metadata["name"], metadata["namespace"], uid=uid,
                              grace_period_seconds=0)
        except ApiError as error:
            if error.code not in (404, 409):  # already gone
                raise

    def _take_over(self, node: str, uid: str) -> None:
        """Make the node's agent the one of pod ``uid``, once the pod has been there for the
        agent's startup time (at once for an agent that runs since the lab started)."""
        if node in self._adoptable:
            self._adoptable.discard(node)
        else:
            seen = self._seen.setdefault(uid, time.monotonic())
            if time.monotonic() - seen < AGENT_STARTUP_S:
                return
            if node in self._pod_of:  # a pod replaced without a deletion seen: stop its agent
                self.agents[node].stop_agent()
            log.info("cilium agent on %s starts", node)
            try:
                self.agents[node].start_agent()
            except Exception:  # the next pass tries again; the pod stays not ready meanwhile
                log.exception("cilium agent on %s did not start", node)
                self._pod_of.pop(node, None)
                return
        self._pod_of[node] = uid
        self._started[uid] = now()

    def _create(self, daemonset: Object, node: str) -> None:
        try:
            self.store.create(PODS, agent_pod(daemonset, node), NAMESPACE)
        except ApiError as error:
            if error.code != 409:  # a generated name taken: the next pass tries another
                raise

    def _delete(self, pod: Object) -> None:
        metadata = pod["metadata"]
        try:
            self.store.delete(PODS, metadata["name"], metadata["namespace"], uid=metadata["uid"])
        except ApiError as error:
            if error.code not in (404, 409):
                raise

    def _roll(self, daemonset: Object, eligible: Sequence[str], live: Mapping[str, Object],
              ) -> None:
        """Delete pods of an older template while few enough nodes lack a Ready pod."""
        if not rolls(daemonset):
            return
        revision = template_hash(daemonset["spec"]["template"])
        unavailable = sum(1 for name in eligible if name not in live or not is_ready(live[name]))
        room = max_unavailable(daemonset, len(eligible)) - unavailable
        old = [live[name] for name in eligible if name in live
               and (live[name]["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision]
        # An old pod that is not Ready counts as unavailable already: it goes at once.
        ready_old = [pod for pod in old if is_ready(pod)]
        for pod in [pod for pod in old if not is_ready(pod)] + ready_old[:max(room, 0)]:
            self._delete(pod)

    def _write_pod_status(self, node: str, pod: Object) -> None:
        """Running once its agent started, Ready once the agent's sessions are up."""
        uid = str(pod["metadata"]["uid"])
        started = self._started.get(uid) if self._pod_of.get(node) == uid else None
        ready = started is not None and self.agents[node].ready()
        states = {str(c["name"]): ContainerState(str(c["name"]), started, ready)
                  for c in containers(pod)}
        address = str(self.nodes[node].address)
        start_time = (pod.get("status") or {}).get("startTime") or now()
        status = pod_status(pod, states, host_ip=address, pod_ip=address, now=now(),
                            start_time=start_time)
        current = pod.get("status") or {}
        if all(current.get(key) == value for key, value in status.items()):
            return
        metadata = pod["metadata"]
        try:
            self.store.patch(PODS, metadata["name"], {"status": status}, metadata["namespace"],
                             status=True)
        except ApiError as error:
            if error.code != 404:
                raise

    def _write_daemonset_status(self, daemonset: Object, eligible: Sequence[str],
                                live: Mapping[str, Object]) -> None:
        revision = template_hash(daemonset["spec"]["template"])
        pods = [live[name] for name in eligible if name in live]
        ready = sum(map(is_ready, pods))
        updated = sum((p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision
                      for p in pods)
        status: dict[str, Any] = {
            "desiredNumberScheduled": len(eligible), "currentNumberScheduled": len(pods),
            "numberReady": ready, "numberMisscheduled": 0,
            "observedGeneration": daemonset["metadata"].get("generation"),
            # Zero counts of these are omitted, as the API serialises them; None removes one.
            "updatedNumberScheduled": updated or None, "numberAvailable": ready or None,
            "numberUnavailable": (len(eligible) - ready) or None,
        }
        current = daemonset.get("status") or {}
        if all(current.get(key) == value for key, value in status.items()):
            return
        try:
            self.store.patch("daemonsets", DAEMONSET, {"status": status}, NAMESPACE,
                             status=True)
        except ApiError as error:
            if error.code != 404:
                raise
