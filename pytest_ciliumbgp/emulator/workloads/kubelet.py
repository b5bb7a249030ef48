"""The lab's kubelet: runs every Pod bound to an inventory node as a network namespace with a
whoami server, probes its readiness and takes it down gracefully when it is deleted.

    kubelet = Kubelet(store, lab_id="cbgp", inventory=inventory)
    kubelet.start()   # a thread: after every Pod or Node change and every RESYNC seconds
    ...
    kubelet.stop()    # tears down every pod it runs (the Pod objects stay)

A pod's life: Pending (sandbox being made, containers ContainerCreating) → Running with its
address from the node's PodCIDR → Ready once its readiness probes pass (at once without one).
Deleted gracefully (``metadata.deletionTimestamp``), it keeps serving while its preStop
``sleep`` runs, bounded by the grace period; then its server stops, Ready turns False, its
network goes and the kubelet removes the object (grace period 0). A Pod removed outright is
torn down. Pods bound to nodes outside the inventory are left alone.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pytest_ciliumbgp.inventory import Inventory, Node

from ..controller import Controller
from ..faults import Faults
from ..kubeapi.errors import ApiError
from ..kubeapi.objectmeta import now
from ..kubeapi.resources import resolve
from ..kubeapi.store import Store
from .podnet import PodNetwork, PodNetworks, next_free_address
from .podspec import Object, containers, grace_seconds, pre_stop_seconds, serving_ports
from .podstatus import ContainerState, pod_status
from .probes import Readiness, http_probe, readiness_of
from .whoami import WhoamiServer

log = logging.getLogger(__name__)

PODS = "pods"
# A pod whose sandbox could not be made is tried again after this many seconds.
RETRY_SECONDS = 5.0


@dataclass
class RunningPod:
    """What the kubelet runs for one Pod."""

    name: str
    namespace: str
    node: Node
    network: PodNetwork
    start_time: str
    server: WhoamiServer | None = None
    started_at: str | None = None
    finished_at: str | None = None
    #: readiness probes by container name (None: the container has none)
    probes: dict[str, Readiness | None] = field(default_factory=dict)
    #: monotonic time the kubelet saw the deletion
    terminating_since: float | None = None

    def states(self) -> dict[str, ContainerState]:
        running = self.server is not None
        return {name: ContainerState(name, self.started_at,
                                     running and (probe is None or probe.ready),
                                     self.finished_at)
                for name, probe in self.probes.items()}


class Kubelet(Controller):
    watches = ("pods", "nodes")
    resync = 0.25  # probes and preStop deadlines are timed by passes
    name = "kubelet"

    def __init__(self, store: Store, *, lab_id: str, inventory: Inventory,
                 faults: Faults | None = None) -> None:
        super().__init__(store, faults=faults)
        self.nodes = {node.name: node for node in inventory.nodes if node.pod_cidr is not None}
        self.networks = PodNetworks(lab_id)
        self._pods: dict[str, RunningPod] = {}
        self._retry_at: dict[str, float] = {}

    def running(self) -> dict[str, PodNetwork]:
        """The pods this kubelet runs, by uid, with their networks."""
        return {uid: pod.network for uid, pod in self._pods.items()}

    def reconcile(self) -> None:
        pods, _ = self.store.snapshot(resolve(PODS), None)
        # A hostNetwork pod has no sandbox of its own: in the lab those are the cilium agents,
        # which the agent-pods controller (cilium.agent_pods) runs.
        ours = {str(pod["metadata"]["uid"]): pod for pod in pods
                if (pod.get("spec") or {}).get("nodeName") in self.nodes
                and not (pod.get("spec") or {}).get("hostNetwork")}
        for uid in set(self._pods) - set(ours):  # removed without a graceful deletion
            self._tear_down(self._pods.pop(uid))
        self._retry_at = {uid: at for uid, at in self._retry_at.items() if uid in ours}
        in_use = self._addresses_in_use(ours.values())
        for uid, pod in ours.items():
            try:
                self._sync(uid, pod, in_use)
            except Exception:  # one broken pod must not hold up the others
                log.exception("kubelet: pod %s/%s failed", pod["metadata"].get("namespace"),
                              pod["metadata"]["name"])
                self._retry_at[uid] = time.monotonic() + RETRY_SECONDS

    def stopped(self) -> None:
        for running in self._pods.values():
            self._tear_down(running)
        self._pods.clear()

    def _addresses_in_use(self, pods: Iterable[Object]) -> dict[str, set[ipaddress.IPv4Address]]:
        # What live pods hold: ours, and what the API says (pods a previous kubelet started).
        in_use: dict[str, set[ipaddress.IPv4Address]] = {name: set() for name in self.nodes}
        for pod in pods:
            pod_ip = (pod.get("status") or {}).get("podIP")
            if pod_ip and str(pod["metadata"]["uid"]) not in self._pods:
                in_use[pod["spec"]["nodeName"]].add(ipaddress.IPv4Address(pod_ip))
        for running in self._pods.values():
            in_use[running.node.name].add(running.network.address)
        return in_use

    def _sync(self, uid: str, pod: Object, in_use: dict[str, set[ipaddress.IPv4Address]],
              ) -> None:
        running = self._pods.get(uid)
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        if running is None:
            if terminating:  # never started here: nothing to stop
                self._remove(uid, pod)
                return
            if self._retry_at.get(uid, 0.0) > time.monotonic():
                return
            running = self._start(uid, pod, in_use[pod["spec"]["nodeName"]])
        if terminating:
            self._terminate(pod, running)
        self._probe(running)
        self._write_status(pod, running)
        if running.finished_at is not None:
            self._tear_down(self._pods.pop(uid))
            self._remove(uid, pod)

    def _start(self, uid: str, pod: Object, in_use: set[ipaddress.IPv4Address]) -> RunningPod:
        node = self.nodes[pod["spec"]["nodeName"]]
        assert node.pod_cidr is not None  # only such nodes are kept
        metadata = pod["metadata"]
        start_time = (pod.get("status") or {}).get("startTime") or now()
        self._write(pod, pod_status(pod, {}, host_ip=str(node.address), start_time=start_time,
                                    pod_ip=None, now=now()))
        previous = (pod.get("status") or {}).get("podIP")
        address = next_free_address(node.pod_cidr, in_use,
                                    ipaddress.IPv4Address(previous) if previous else None)
        network = self.networks.attach(node.name, node.pod_cidr, uid, address)
        server = WhoamiServer(metadata["name"], str(address), network.namespace,
                              serving_ports(pod))
        try:
            server.start()
        except Exception:
            self.networks.detach(network)
            raise
        in_use.add(address)
        running = RunningPod(metadata["name"], metadata["namespace"], node, network, start_time,
                             server, now())
        self._pods[uid] = running
        started = time.monotonic()
        for container in containers(pod):
            probe = readiness_of(container)
            if probe is not None:
                probe.start(started)
            running.probes[str(container["name"])] = probe
        return running

    def _terminate(self, pod: Object, running: RunningPod) -> None:
        if running.terminating_since is None:
            running.terminating_since = time.monotonic()
        # Read each pass: a second delete may shorten the grace period.
        stop_at = running.terminating_since + min(pre_stop_seconds(pod), grace_seconds(pod))
        if running.server is not None and time.monotonic() >= stop_at:
            running.server.stop()
            running.server, running.finished_at = None, now()

    def _probe(self, running: RunningPod) -> None:
        if running.server is None:
            return
        for probe in running.probes.values():
            moment = time.monotonic()
            if probe is not None and probe.due(moment):
                succeeded = http_probe(running.network.node_namespace,
                                       str(running.network.address), probe.port, probe.path,
                                       probe.timeout)
                probe.record(succeeded, moment)

    def _write_status(self, pod: Object, running: RunningPod) -> None:
        status = pod_status(pod, running.states(), host_ip=str(running.node.address),
                            start_time=running.start_time,
                            pod_ip=str(running.network.address), now=now())
        self._write(pod, status)

    def _write(self, pod: Object, status: dict[str, Any]) -> None:
        current = pod.get("status") or {}
        if all(current.get(key) == value for key, value in status.items()):
            return
        metadata = pod["metadata"]
        try:
            self.store.patch(PODS, metadata["name"], {"status": status}, metadata["namespace"],
                             status=True)
        except ApiError as error:
            if error.code != 404:  # gone meanwhile: the next pass tears it down
                raise

    def _remove(self, uid: str, pod: Object) -> None:
        metadata = pod["metadata"]
        try:
            self.store.delete(PODS, metadata["name"], metadata["namespace"], uid=uid,
                              grace_period_seconds=0)
        except ApiError as error:
            if error.code not in (404, 409):  # already gone, or a new pod took the name
                raise

    def _tear_down(self, running: RunningPod) -> None:
        if running.server is not None:
            running.server.stop()
            running.server = None
        self.networks.detach(running.network)
