"""The emulated cilium-agent's BGP Control Plane v2 on one node: reads the node's
CiliumBGPNodeConfig, the PeerConfigs and Advertisements it selects, Services and EndpointSlices,
programs the node's gobgpd (neighbors, announced and withdrawn paths) and writes the
NodeConfig's status (peering state, route counts) as the real agent does.

The agent runs as long as its pod (``agent_pods``): ``stop_agent`` is the agent going away
(its speaker stops, what it knew is forgotten), ``start_agent`` a new agent taking over the
node with a fresh speaker.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .. import faults as fault_names
from ..controller import Controller
from ..faults import Faults
from ..kubeapi import patching
from ..kubeapi.errors import ApiError
from ..kubeapi.store import Store
from .bgp_memory import FaultMemory
from .bgp_paths import (
    AgentOptions,
    Misbehaviour,
    PeerSettings,
    Route,
    ServiceState,
    desired_routes,
    endpoints_by_service,
    peers_of,
    selected_advertisements,
)
from .speaker import GoBgpSpeaker, NeighborState

NODE_CONFIGS = "ciliumbgpnodeconfigs"
PEER_CONFIGS = "ciliumbgppeerconfigs"
ADVERTISEMENTS = "ciliumbgpadvertisements"
CILIUM_CONFIG = ("configmaps", "cilium-config", "kube-system")
NO_ENDPOINTS_ROUTABLE = "enable-no-service-endpoints-routable"


def agent_options(configmap: Mapping[str, Any] | None) -> AgentOptions:
    data = (configmap or {}).get("data") or {}
    value = str(data.get(NO_ENDPOINTS_ROUTABLE, "true")).strip().lower()
    return AgentOptions(no_service_endpoints_routable=value != "false")


def misbehaviour(faults: Faults) -> Misbehaviour:
    length = faults.get(fault_names.WRONG_PREFIX_LENGTH)
    return Misbehaviour(
        local_from_all_nodes=fault_names.ADVERTISE_LOCAL_FROM_ALL_NODES in faults,
        cluster_only_with_local_backend=(
            fault_names.ADVERTISE_CLUSTER_ONLY_WITH_LOCAL_BACKEND in faults),
        terminating_counts=fault_names.WITHDRAW_AFTER_TERMINATING_GONE in faults,
        ignore_no_endpoints_option=fault_names.KEEP_ADVERTISED_WITHOUT_ENDPOINTS in faults,
        cluster_ip_for_lb_ip=fault_names.ADVERTISE_CLUSTER_IP_INSTEAD_OF_LB_IP in faults,
        prefix_length=int(float(length)) if length is not None else None,
    )


class BgpAgent(Controller):
    """The BGP side of the cilium-agent on node ``node``."""

    watches = ("nodes", NODE_CONFIGS, PEER_CONFIGS, ADVERTISEMENTS, "services", "endpointslices",
               "configmaps")
    resync = 1.0  # session state for the NodeConfig status; delayed announcements

    def __init__(self, store: Store, node: str, speaker: GoBgpSpeaker, *,
                 faults: Faults | None = None) -> None:
        super().__init__(store, faults=faults)
        self.node = node
        self.name = f"bgp-agent-{node}"
        self.speaker = speaker
        self.memory = FaultMemory()
        self._peers: tuple[PeerSettings, ...] | None = None
        self._routes: dict[ipaddress.IPv4Network, Route] = {}
        # (when it was decided, what it decided): for the delay-announcements fault
        self._decisions: list[tuple[float, dict[ipaddress.IPv4Network, Route]]] = []
        # Passes, stops and starts come from different threads; one at a time.
        self._lock = threading.Lock()
        #: the agent runs (False between its pod's deletion and the next pod's start)
        self.up = True
        #: every peer of the last pass was Established
        self.sessions_established = False

    def ready(self) -> bool:
        """Up, its speaker running and every session Established: what the agent's pod
        reports as Ready."""
        return self.up and self.sessions_established and self.speaker.running()

    def reconcile(self) -> None:
        with self._lock:
            self._pass()

    def _pass(self) -> None:
        if not self.up or not self.speaker.running():
            # a stopped agent, or a speaker stopped from outside (how lab tests take a node's
            # BGP down), is picked up on a later pass
            self.sessions_established = False
            return
        peers, routes, node_config = self._decide()
        if peers != self._peers:
            before = {p.address: p for p in self._peers or ()}
            self.speaker.configure(peers)
            for peer in peers:
                if peer.address in before and before[peer.address] != peer:
                    self.speaker.reset(peer)
            self._peers = peers
        self._program(self._due(routes))
        neighbors = self.speaker.neighbors() if node_config is not None else []
        established = {n.address for n in neighbors if n.state == "established"}
        self.sessions_established = {peer.address for peer in peers} <= established
        if node_config is not None:
            self._write_status(node_config, neighbors)

    def stop_agent(self) -> None:
        """The node's cilium-agent goes away: its speaker stops (see ``GoBgpSpeaker.stop``)
        and everything the agent remembered goes with it. The node's datapath is not the
        agent's and keeps forwarding."""
        with self._lock:
            self.up = False
            self.sessions_established = False
            self.speaker.stop()
            self._peers = None
            self._routes = {}
            self._decisions.clear()
            self.memory = FaultMemory()

    def start_agent(self) -> None:
        """A new cilium-agent takes over the node: it decides what to advertise from the
        cluster's objects, then starts a fresh speaker that announces it before its sessions
        come up (see ``GoBgpSpeaker.start``)."""
        with self._lock:
            peers, routes, _ = self._decide()
            due = self._due(routes)
            self.speaker.stop()  # what a start that failed half-way may have left running
            self.speaker.start(peers, (due or {}).values())
            self._peers = peers
            self._routes = dict(due or {})
            self.up = True
        self.poke()

    def _decide(self) -> tuple[tuple[PeerSettings, ...], dict[ipaddress.IPv4Network, Route],
                               dict[str, Any] | None]:
        with self.store.lock:
            node_object = self.store.find("nodes", self.node)
            node_config = self.store.find(NODE_CONFIGS, self.node)
            peer_configs = {p["metadata"]["name"]: p for p in self.store.list(PEER_CONFIGS)}
            advertisements = self.store.list(ADVERTISEMENTS)
            service_objects = self.store.list("services")
            slices = self.store.list("endpointslices")
            options = agent_options(self.store.find(*CILIUM_CONFIG))
        if node_object is None or node_config is None:
            return (), {}, None
        peers = peers_of(node_config, peer_configs)
        endpoints = endpoints_by_service(slices)
        services = []
        for obj in service_objects:
            service = ServiceState.from_object(obj)
            service.endpoints = endpoints.get(service.key, [])
            services.append(service)
        chosen: list[Mapping[str, Any]] = []
        for _, spec in peers.values():
            chosen += [a for a in selected_advertisements(spec, advertisements) if a not in chosen]
        fault = misbehaviour(self.faults)
        routes = desired_routes(chosen, node_object, services, options, fault)
        # What would be advertised if endpoints did not matter: a route kept by the
        # keep-local-route fault must still be one of these (only endpoints took it away).
        blind = set(desired_routes(chosen, node_object, services, options,
                                   replace(fault, local_from_all_nodes=True,
                                           cluster_only_with_local_backend=False,
                                           ignore_no_endpoints_option=True)))
        routes = self.memory.apply(self.faults, service_objects, services, routes, blind)
        settings = tuple(sorted((s for s, _ in peers.values()), key=lambda s: s.address))
        return settings, routes, node_config

    def _due(self, routes: dict[ipaddress.IPv4Network, Route]
             ) -> dict[ipaddress.IPv4Network, Route] | None:
        """The decision to program now; with the delay fault, the newest one old enough."""
        if fault_names.DELAY_ANNOUNCEMENTS not in self.faults:
            self._decisions.clear()
            return routes
        delay = self.faults.number(fault_names.DELAY_ANNOUNCEMENTS)
        now = time.monotonic()
        if not self._decisions or self._decisions[-1][1] != routes:
            self._decisions.append((now, routes))
        ripe = [d for d in self._decisions if now - d[0] >= delay]
        if not ripe:
            return None
        self._decisions = [d for d in self._decisions if d[0] >= ripe[-1][0]]
        return ripe[-1][1]

    def _program(self, routes: dict[ipaddress.IPv4Network, Route] | None) -> None:
        if routes is None:
            return
        present = self.speaker.announced()
        stale = (present | set(self._routes)) - set(routes)
        if stale:
            self.speaker.withdraw(sorted(stale))
        for prefix, route in routes.items():
            if prefix not in present or self._routes.get(prefix) != route:
                self.speaker.announce(route)
        self._routes = dict(routes)

    def _write_status(self, node_config: dict[str, Any], neighbors: list[NeighborState]) -> None:
        by_address = {n.address: n for n in neighbors}
        instances = []
        for instance in (node_config.get("spec") or {}).get("bgpInstances") or []:
            peers = []
            for peer in instance.get("peers") or []:
                seen = by_address.get(peer.get("peerAddress") or "")
                status: dict[str, Any] = {"name": peer.get("name"),
                                          "peerAddress": peer.get("peerAddress"),
                                          "peerASN": peer.get("peerASN"),
                                          "peeringState": seen.state if seen else "idle"}
                if seen is not None and seen.established_since:
                    status["establishedTime"] = time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(seen.established_since))
                if seen is not None and seen.hold_time:
                    status["timers"] = {"appliedHoldTimeSeconds": seen.hold_time,
                                        "appliedKeepaliveSeconds": seen.keepalive}
                if seen is not None:
                    status["routeCount"] = [{"afi": "ipv4", "safi": "unicast",
                                             "received": seen.received,
                                             "advertised": len(self._routes)}]
                peers.append(status)
            instances.append({"name": instance.get("name"),
                              "localASN": instance.get("localASN"), "peers": peers})
        wanted = {"bgpInstances": instances}
        if (node_config.get("status") or {}) == wanted:
            return
        try:
            self.store.patch(NODE_CONFIGS, self.node,
                             [{"op": "add", "path": "/status", "value": wanted}],
                             patch_type=patching.JSON_PATCH, status=True)
        except ApiError as error:
            if error.code != 404:
                raise
