"""What the emulated-Cilium and fault lab tests share: one running lab seen as an operator sees
it (the router's BGP table and FIB, HTTP answers on the client host, objects through the API),
and a per-test ``Scenario`` that makes its own pool, advertisement, Service and backends and
deletes them afterwards.

Expectations come from the inventory and from what a test placed where, never from the lab.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_ciliumbgp.emulator.router import vtysh_argv
from pytest_ciliumbgp.flows.http import WhoamiAnswer, http_get, set_health
from pytest_ciliumbgp.inventory import load_inventory
from pytest_ciliumbgp.kube import Cluster, KubeError, ObjectRef, connect, objects
from pytest_ciliumbgp.kube import manifests as m
from pytest_ciliumbgp.kube.waits import (
    wait_for_gone,
    wait_for_lb_ip,
    wait_for_pod_ready,
    wait_until,
)
from pytest_ciliumbgp.router import FrrRouter, HashPolicy, hash_policy
from pytest_ciliumbgp.router.node_paths import NodePaths
from pytest_ciliumbgp.transport import NetnsTransport
from tests.lab.conftest import ROOT, LabCli

INVENTORY = load_inventory(ROOT / "lab/netns/inventory.yaml")
NODES = tuple(node.name for node in INVENTORY.nodes)
NODE_IP = {node.name: str(node.address) for node in INVENTORY.nodes}
NODE_BY_IP = {ip: name for name, ip in NODE_IP.items()}
CLIENT = INVENTORY.clients[0].name
CLIENT_IP = str(INVENTORY.clients[0].address)
ROUTER = INVENTORY.router.name
# The boot CiliumBGPPeerConfig announces the advertisements that carry this label.
ADVERTISE_LABEL = {"advertise": "bgp"}
SCENARIO_LABEL = "cbgp.io/scenario"
CILIUM_VERSION = "v2"
POLL = 0.2
# BGP update, zebra and the kernel FIB together take about a second; leave room.
ROUTE_TIMEOUT = 10.0


def nodes_text(nodes: Collection[str]) -> str:
    return "{" + ", ".join(sorted(nodes)) + "}"


@dataclass(frozen=True)
class Routing:
    """A prefix as the router has it: ECMP next hops in BGP and gateways in the kernel FIB,
    both as node names."""

    bgp: frozenset[str]
    fib: frozenset[str]
    communities: tuple[frozenset[str], ...] = ()

    def __str__(self) -> str:
        return f"BGP {nodes_text(self.bgp)}, kernel FIB {nodes_text(self.fib)}"


class Lab:
    """One running embedded lab, reached through its namespaces and its Kubernetes API."""

    def __init__(self, cli: LabCli, cluster: Cluster) -> None:
        self.cli = cli
        self.cluster = cluster
        self.router = FrrRouter(self.transport(ROUTER), vtysh_argv(cli.lab_id))

    @classmethod
    @contextmanager
    def connected(cls, cli: LabCli) -> Iterator[Lab]:
        shown = cli.run("kubeconfig")
        assert shown.returncode == 0, shown.stderr
        with connect(Path(shown.stdout.strip())) as cluster:
            yield cls(cli, cluster)

    def transport(self, host: str) -> NetnsTransport:
        return NetnsTransport(f"{self.cli.lab_id}-{host}")

    # -- router ------------------------------------------------------------------------------

    def routing(self, prefix: str) -> Routing:
        found = self.router.bgp_prefix(prefix)
        kernel = self.router.kernel_route(prefix)
        paths = found.ecmp_paths if found else ()
        return Routing(
            frozenset(NODE_BY_IP.get(p.next_hop, p.next_hop) for p in paths),
            frozenset(NODE_BY_IP.get(g, g) for g in kernel.gateways) if kernel else frozenset(),
            tuple(frozenset(p.communities) for p in paths),
        )

    def wait_routed(self, prefix: str, nodes: Collection[str], why: str,
                    timeout: float = ROUTE_TIMEOUT) -> Routing:
        """Wait until the router's BGP next hops and kernel FIB for ``prefix`` are ``nodes``
        (none: withdrawn); ``why`` says which nodes those are in the operator's words."""
        __tracebackhide__ = True
        NodePaths(self.router, INVENTORY, timeout).converge(prefix, nodes, why)
        return self.routing(prefix)

    def assert_routing_holds(self, prefix: str, nodes: Collection[str], why: str,
                             seconds: float) -> None:
        """The router keeps exactly ``nodes`` for ``prefix`` for ``seconds``."""
        __tracebackhide__ = True
        NodePaths(self.router, INVENTORY, ROUTE_TIMEOUT).stays(prefix, nodes, why, seconds)

    def bgp_prefixes(self) -> set[str]:
        return set(self.router.bgp_routes())

    def established_nodes(self) -> set[str]:
        """Nodes whose session the router has Established."""
        peers = self.router.bgp_peers()
        return {node for node, ip in NODE_IP.items() if ip in peers and peers[ip].established}

    def hold_times(self) -> dict[str, int]:
        """Negotiated hold time (s) of the router's Established sessions, by node."""
        neighbors = self.router.vtysh_json("show bgp neighbors json")
        return {node: neighbors[ip]["bgpTimerHoldTimeMsecs"] // 1000
                for node, ip in NODE_IP.items()
                if neighbors.get(ip, {}).get("bgpState") == "Established"}

    def receiving_node(self, address: str, source_port: int, port: int = 80) -> str | None:
        """The node whose connection tracking holds the client's flow from ``source_port`` to
        ``address`` (``conntrack -L`` on each node), i.e. the node the router handed it to."""
        flow = f"src={CLIENT_IP} dst={address} sport={source_port} dport={port} "
        for node in NODES:
            table = self.transport(node).check_output(["cat", "/proc/net/nf_conntrack"])
            if flow in table:
                return node
        return None

    def fib_next_hop(self, address: str) -> str:
        """The node the router's FIB picks for the client's packets to ``address`` by their
        addresses alone (under L3 hashing that is every flow of the client)."""
        client_side = next(i.name for i in INVENTORY.router.interfaces
                           if i.network == INVENTORY.clients[0].interfaces[0].network)
        shown = self.transport(ROUTER).check_output(
            ["ip", "-j", "route", "get", address, "from", CLIENT_IP, "iif", client_side])
        gateway = str(json.loads(shown)[0].get("gateway", ""))
        return NODE_BY_IP.get(gateway, gateway)

    @contextmanager
    def hash_policy(self, policy: HashPolicy) -> Iterator[None]:
        with hash_policy(self.transport(ROUTER), policy):
            yield

    # -- client ------------------------------------------------------------------------------

    def http(self, address: str, port: int = 80, *, source_port: int | None = None,
             timeout: float = 3.0) -> WhoamiAnswer:
        """One GET from the client host; ``ProbeError`` says what curl saw when it fails."""
        return http_get(self.transport(CLIENT), address, port, timeout=timeout,
                        local_port=source_port)

    def set_health(self, pod_ip: str, code: int) -> None:
        """``POST /health`` on the backend itself (its PodCIDR is routed by the router)."""
        set_health(self.transport(CLIENT), pod_ip, code)

    # -- API -----------------------------------------------------------------------------------

    def configmap(self, name: str, namespace: str = "kube-system") -> dict[str, Any]:
        return self.cluster.call_json(f"read ConfigMap {namespace}/{name}",
                                      self.cluster.core.read_namespaced_config_map, name,
                                      namespace)

    def patch_configmap_data(self, name: str, data: Mapping[str, str | None],
                             namespace: str = "kube-system") -> None:
        self.cluster.call_json(f"patch ConfigMap {namespace}/{name}",
                               self.cluster.core.patch_namespaced_config_map, name, namespace,
                               {"data": dict(data)})


@dataclass
class Scenario:
    """One test's objects, all labelled ``cbgp.io/scenario=<name>`` and deleted by
    ``cleanup`` in the reverse order of creation."""

    lab: Lab
    name: str
    created: list[ObjectRef] = field(default_factory=list)

    @property
    def label(self) -> dict[str, str]:
        return {SCENARIO_LABEL: self.name}

    @property
    def app(self) -> dict[str, str]:
        return {"app": self.name}

    @property
    def cluster(self) -> Cluster:
        return self.lab.cluster

    def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        made = objects.create(self.cluster, manifest)
        self.created.append(ObjectRef.of(manifest))
        return made

    def pool(self, *blocks: str, name: str | None = None,
             service_label: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.create(m.ip_pool(name or self.name, list(blocks), version=CILIUM_VERSION,
                                     service_selector=m.selector(service_label or self.label),
                                     labels=self.label))

    def advertisement(self, *, communities: Sequence[str] = (),
                      aggregation_length: int | None = None, name: str | None = None,
                      ) -> dict[str, Any]:
        attributes = (m.PathAttributes(m.Communities(standard=communities))
                      if communities else None)
        entry = m.service_advertisement(m.selector(self.label), attributes=attributes,
                                        aggregation_length_ipv4=aggregation_length)
        return self.create(m.bgp_advertisement(name or self.name, [entry],
                                               version=CILIUM_VERSION,
                                               labels={**ADVERTISE_LABEL, **self.label}))

    def service(self, name: str | None = None, *, policy: str = "Cluster",
                service_type: str = "LoadBalancer", ports: Sequence[int] = (80,),
                selector: Mapping[str, str] | None = None, **options: Any) -> dict[str, Any]:
        return self.create(m.service(
            name or self.name, self.app if selector is None else selector, ports=ports,
            service_type=service_type, external_traffic_policy=policy, labels=self.label,
            **options))

    def pod(self, node: str, name: str | None = None, *,
            app_labels: Mapping[str, str] | None = None, **options: Any) -> dict[str, Any]:
        """A whoami pod on ``node``, a backend of the scenario's Service unless ``app_labels``
        say otherwise; returned once Ready."""
        chosen = name or f"{self.name}-{node}"
        self.create(m.backend_pod(chosen, node, app_labels or self.app, labels=self.label,
                                  **options))
        return wait_for_pod_ready(self.cluster, "default", chosen, timeout=20, interval=POLL)

    def lb_ip(self, name: str | None = None) -> str:
        return wait_for_lb_ip(self.cluster, "default", name or self.name, timeout=10,
                              interval=POLL)

    def backends(self) -> list[dict[str, Any]]:
        """This scenario's pods that are not being deleted."""
        pods = objects.list_objects(self.cluster, "Pod", namespace="default",
                                    label_selector=f"app={self.name}")
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def ready_backends(self, count: int) -> list[dict[str, Any]]:
        """Wait until the scenario has exactly ``count`` backends, all Ready; return them."""
        def probe() -> tuple[bool, list[dict[str, Any]]]:
            pods = self.backends()
            ready = [p for p in pods if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in p.get("status", {}).get("conditions", []))]
            return len(pods) == len(ready) == count, pods

        pods: list[dict[str, Any]] = wait_until(
            f"{count} ready backends of {self.name}", probe, 20, POLL,
            failure=f"{self.name}: expected {count} ready backend pods",
            show=lambda pods: str(sorted(p["metadata"]["name"] for p in pods)))
        return pods

    def delete(self, ref: ObjectRef, *, wait: bool = True,
               grace_period_seconds: int | None = None) -> None:
        objects.delete(self.cluster, ref, grace_period_seconds=grace_period_seconds)
        if wait:
            wait_for_gone(self.cluster, ref, timeout=20, interval=POLL)

    def cleanup(self) -> None:
        """Delete what the scenario made (pods at once), then wait until it is gone."""
        for ref in reversed(self.created):
            objects.delete(self.cluster, ref, grace_period_seconds=0 if ref.kind == "Pod" else None)
        for pod in objects.list_objects(self.cluster, "Pod", namespace="default",
                                        label_selector=f"app={self.name}"):
            self.created.append(ObjectRef.of(pod, "Pod"))
            objects.delete(self.cluster, self.created[-1], grace_period_seconds=0)
        for ref in self.created:
            wait_for_gone(self.cluster, ref, timeout=20, interval=POLL)


def scenario_name(test_name: str, limit: int = 40) -> str:
    """A short DNS-label name for a test: ``test_shared_vip[x]`` → ``shared-vip-x``; a long one
    is cut and ends with a hash of the whole, so parametrised tests stay apart."""
    name = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")).strip("-")
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:limit - 9].rstrip('-')}-{digest}"


def wait_for(description: str, probe: Callable[[], tuple[bool, Any]], timeout: float = 10.0,
             failure: str | None = None) -> Any:
    return wait_until(description, probe, timeout, POLL, failure=failure)


def fresh_copy(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object as it was written (spec and labels), without the server's fields."""
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "metadata": {"name": meta["name"], "labels": meta.get("labels") or {}},
            "spec": copy.deepcopy(obj["spec"])}


def ignore_missing(action: Callable[[], object]) -> None:
    try:
        action()
    except KubeError as err:
        if not err.not_found:
            raise
