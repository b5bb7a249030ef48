"""Pod network plumbing: one network namespace per pod, wired to its node by a veth, with an
address from the node's PodCIDR.

Naming contract (``uid8`` = the first 8 characters of the Pod's uid):

- pod namespace ``{lab_id}-p{uid8}``, its end of the veth is ``eth0``;
- node end of the veth ``pv{uid8}``, in the node's namespace ``{lab_id}-{node}``;
- gateway = first host address of the PodCIDR, put as /32 on every node-side veth (like
  Cilium's router IP on cilium_host); the pod has ``<ip>/32`` on eth0, an on-link route to the
  gateway and its default route via it; the node routes ``<ip>/32`` to ``pv{uid8}``.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..netns import NETNS_DIR, run_in
from ..topology import NODE_SYSCTLS, LabNames


class PodNetworkError(RuntimeError):
    pass


def pod_namespace(lab_id: str, uid: str) -> str:
    return f"{lab_id}-p{uid[:8]}"


def node_veth(uid: str) -> str:
    return f"pv{uid[:8]}"


def gateway(pod_cidr: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    return pod_cidr.network_address + 1


def next_free_address(pod_cidr: ipaddress.IPv4Network,
                      in_use: Collection[ipaddress.IPv4Address],
                      preferred: ipaddress.IPv4Address | None = None,
                      ) -> ipaddress.IPv4Address:
    """The lowest address of ``pod_cidr`` that is neither the network, the gateway, the
    broadcast nor ``in_use``; ``preferred`` first when it is such an address (a pod that keeps
    its address across a kubelet restart)."""
    reserved = {pod_cidr.network_address, gateway(pod_cidr), pod_cidr.broadcast_address}
    if preferred is not None and preferred in pod_cidr and preferred not in reserved \
            and preferred not in in_use:
        return preferred
    for address in pod_cidr.hosts():
        if address not in reserved and address not in in_use:
            return address
    raise PodNetworkError(f"PodCIDR {pod_cidr} has no free address ({len(in_use)} in use)")


@dataclass(frozen=True)
class PodNetwork:
    """What one pod got: its namespace, the node's end of its veth, its address and gateway."""

    node_namespace: str
    namespace: str
    veth: str
    address: ipaddress.IPv4Address
    gateway: ipaddress.IPv4Address


def _ip_batch(namespace: str, commands: Sequence[str]) -> None:
    done = subprocess.run(["ip", "-n", namespace, "-batch", "-"], input="\n".join(commands),
                          capture_output=True, text=True, check=False, timeout=15)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise PodNetworkError(f"{namespace}: ip -batch: {detail[0] if detail else 'failed'}")


def _ip(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *argv], capture_output=True, text=True, check=False, timeout=15)


class PodNetworks:
    """Creates and removes pod networks for one lab; prepares each node namespace once."""

    def __init__(self, lab_id: str) -> None:
        self.lab_id = lab_id
        self.names = LabNames(lab_id)
        self._prepared: set[str] = set()

    def attach(self, node: str, pod_cidr: ipaddress.IPv4Network, uid: str,
               address: ipaddress.IPv4Address) -> PodNetwork:
        """Plumb the pod ``uid`` into ``node`` with ``address``; undone entirely on failure."""
        node_namespace = self.names.namespace(node)
        if node_namespace not in self._prepared:
            run_in(node_namespace, ["sysctl", "-qw", *NODE_SYSCTLS])
            self._prepared.add(node_namespace)
        network = PodNetwork(node_namespace, pod_namespace(self.lab_id, uid), node_veth(uid),
                             address, gateway(pod_cidr))
        if Path(NETNS_DIR, network.namespace).exists():
            self.detach(network)  # left over by a lab daemon that died with the pod running
        created = _ip("netns", "add", network.namespace)
        if created.returncode != 0:
            raise PodNetworkError(f"ip netns add {network.namespace}: {created.stderr.strip()}")
        try:
            _ip_batch(node_namespace, [
                f"link add {network.veth} type veth peer name eth0 netns {network.namespace}",
                f"link set {network.veth} up",
                f"addr add {network.gateway}/32 dev {network.veth}",
                f"route add {address}/32 dev {network.veth}",
            ])
            _ip_batch(network.namespace, [
                "link set lo up",
                f"addr add {address}/32 dev eth0",
                "link set eth0 up",
                f"route add {network.gateway} dev eth0",
                f"route add default via {network.gateway} dev eth0",
            ])
        except PodNetworkError:
            self.detach(network)
            raise
        return network

    def detach(self, network: PodNetwork) -> None:
        """Remove the veth (and with it the node's route) and the pod namespace."""
        _ip("-n", network.node_namespace, "link", "del", network.veth)
        _ip("netns", "delete", network.namespace)
