"""The Cilium agents as an operator handles them: the agent pod of a node, restarted by deleting
it (``kubectl -n kube-system delete pod``), and the graceful restart setting of the peer config
a node's sessions use, switched for a while and put back.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.kube import objects
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.waits import wait_until

NAMESPACE = "kube-system"
#: the label every Cilium install puts on the agent's DaemonSet pods
AGENT_SELECTOR = "k8s-app=cilium"


class AgentError(RuntimeError):
    """The agents are not as the check needs them; the message says what was found."""


def pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def agent_pods(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The live (not terminating) agent pod of each node, by node name."""
    found: dict[str, dict[str, Any]] = {}
    for pod in objects.list_objects(cluster, "Pod", namespace=NAMESPACE,
                                    label_selector=AGENT_SELECTOR):
        node = (pod.get("spec") or {}).get("nodeName")
        if node and not pod["metadata"].get("deletionTimestamp"):
            found[str(node)] = pod
    return found


def agent_pod(cluster: Cluster, node: str) -> dict[str, Any]:
    pod = agent_pods(cluster).get(node)
    if pod is None:
        raise AgentError(f"no cilium agent pod ({AGENT_SELECTOR}) runs on node {node} in "
                         f"{NAMESPACE}")
    return pod


@dataclass(frozen=True)
class AgentRestart:
    node: str
    old_pod: str
    new_pod: str
    #: from the delete request until the new pod was Ready
    seconds: float


def restart_agent(cluster: Cluster, node: str, timeout: float = 120.0) -> AgentRestart:
    """Delete ``node``'s agent pod and wait until the DaemonSet's new pod there is Ready."""
    old = agent_pod(cluster, node)
    name, uid = old["metadata"]["name"], old["metadata"]["uid"]
    began = time.monotonic()
    objects.delete(cluster, ObjectRef("Pod", name, NAMESPACE))

    def replaced() -> tuple[bool, dict[str, Any] | None]:
        pod = agent_pods(cluster).get(node)
        return pod is not None and pod["metadata"]["uid"] != uid and pod_ready(pod), pod

    try:
        new = wait_until(f"a new cilium agent pod on {node} is Ready", replaced, timeout,
                               show=_show_pod)
    except KubeError as error:
        raise AgentError(str(error)) from None
    assert new is not None
    return AgentRestart(node, name, new["metadata"]["name"], time.monotonic() - began)


def _show_pod(pod: Mapping[str, Any] | None) -> str:
    if pod is None:
        return "no agent pod on the node"
    ready = "Ready" if pod_ready(pod) else "not Ready"
    return f"pod {pod['metadata']['name']} {ready}"


def peer_config_of(cluster: Cluster, node: str) -> str:
    """The CiliumBGPPeerConfig ``node``'s first peer uses, as its CiliumBGPNodeConfig says."""
    node_config = objects.find(cluster, ObjectRef("CiliumBGPNodeConfig", node))
    for instance in ((node_config or {}).get("spec") or {}).get("bgpInstances") or []:
        for peer in instance.get("peers") or []:
            name = (peer.get("peerConfigRef") or {}).get("name")
            if name:
                return str(name)
    raise AgentError(f"node {node} has no CiliumBGPNodeConfig peer with a peerConfigRef: it "
                     "peers with nobody the suite can see")


def graceful_restart_of(cluster: Cluster, peer_config: str) -> dict[str, Any]:
    """``spec.gracefulRestart`` of the peer config (empty when unset: disabled)."""
    found = objects.get(cluster, ObjectRef("CiliumBGPPeerConfig", peer_config))
    return dict((found.get("spec") or {}).get("gracefulRestart") or {})


@contextlib.contextmanager
def graceful_restart(cluster: Cluster, peer_config: str, enabled: bool) -> Iterator[bool]:
    """Graceful restart of ``peer_config`` switched to ``enabled`` for the block, then put back
    as it was; yields whether it had to be changed (the agents reset their sessions when it
    changes)."""
    before = graceful_restart_of(cluster, peer_config)
    ref = ObjectRef("CiliumBGPPeerConfig", peer_config)
    changed = bool(before.get("enabled")) != enabled
    if changed:
        objects.patch(cluster, ref, {"spec": {"gracefulRestart": {**before, "enabled": enabled}}})
    try:
        yield changed
    finally:
        if changed:
            objects.patch(cluster, ref, {"spec": {"gracefulRestart": before or None}})
