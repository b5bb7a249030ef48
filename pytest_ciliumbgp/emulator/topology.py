"""Wire the inventory's hosts together: one network namespace per host, one bridge per network.

The bridges live in a namespace of their own (the lab's "fabric"), so the lab never adds a link
to the machine's root namespace. Every namespace name starts with the lab id, which is how the
lab recognises what it made.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytest_ciliumbgp.inventory import Host, Inventory

FABRIC = "fabric"
# A node forwards (Service traffic to other nodes' pods, its own pods) from the start, as a
# Cilium node in native routing mode does, and never redirects: the router is its gateway.
NODE_SYSCTLS = ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0", "net.ipv4.conf.all.send_redirects=0")


class TopologyError(RuntimeError):
    pass


def ip(*args: str, namespace: str | None = None, check: bool = True) -> str:
    argv = ["ip", *(["-n", namespace] if namespace else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise TopologyError(f"{' '.join(argv)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def in_namespace(namespace: str, argv: Sequence[str]) -> None:
    done = subprocess.run(
        ["ip", "netns", "exec", namespace, *argv], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise TopologyError(f"{namespace}: {' '.join(argv)}: {done.stderr.strip() or 'failed'}")


def list_namespaces() -> list[str]:
    out = subprocess.run(
        ["ip", "-j", "netns", "list"], capture_output=True, text=True, check=False
    ).stdout
    return [entry["name"] for entry in json.loads(out or "[]")]


def namespace_pids(namespace: str) -> list[int]:
    out = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    ).stdout
    return [int(pid) for pid in out.split()]


def delete_namespace(namespace: str) -> None:
    ip("netns", "delete", namespace, check=False)


@dataclass(frozen=True)
class LabNames:
    """How the lab names what it makes; ``lab_id`` prefixes them all."""

    lab_id: str

    def namespace(self, host: str) -> str:
        return f"{self.lab_id}-{host}"

    @property
    def fabric(self) -> str:
        return self.namespace(FABRIC)

    def owns(self, namespace: str) -> bool:
        return namespace.startswith(f"{self.lab_id}-")


def build(inventory: Inventory, names: LabNames, created: Callable[[str], None]) -> None:
    """Create namespaces, bridges and veths; ``created`` is told each namespace at once."""
    hosts = inventory.hosts
    for namespace in [names.fabric, *(names.namespace(h.name) for h in hosts)]:
        ip("netns", "add", namespace)
        created(namespace)
        ip("link", "set", "lo", "up", namespace=namespace)
    bridges = {network: f"br{index}" for index, network in enumerate(inventory.networks)}
    for bridge in bridges.values():
        ip("link", "add", bridge, "type", "bridge", namespace=names.fabric)
        ip("link", "set", bridge, "up", namespace=names.fabric)
    for host_index, host in enumerate(hosts):
        _attach(host, host_index, names, bridges)
    for node in inventory.nodes:
        in_namespace(names.namespace(node.name), ["sysctl", "-qw", *NODE_SYSCTLS])
    router_ns = names.namespace(inventory.router.name)
    in_namespace(router_ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    in_namespace(router_ns, ["sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=0"])


def _attach(host: Host, host_index: int, names: LabNames, bridges: dict[str, str]) -> None:
    namespace = names.namespace(host.name)
    for if_index, interface in enumerate(host.interfaces):
        port = f"h{host_index}i{if_index}"
        ip(
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            interface.name,
            "netns",
            namespace,
            namespace=names.fabric,
        )
        ip("link", "set", port, "master", bridges[interface.network], "up", namespace=names.fabric)
        ip("addr", "add", str(interface.address), "dev", interface.name, namespace=namespace)
        ip("link", "set", interface.name, "up", namespace=namespace)
    if host.gateway is not None:
        ip("route", "add", "default", "via", str(host.gateway), namespace=namespace)
