"""What one node's BGP Control Plane v2 agent advertises, computed from API objects alone.

This is the decision the real agent's reconcilers make (``pkg/bgpv1/manager/reconcilerv2``):
the node's CiliumBGPNodeConfig names its instances and peers, each peer's CiliumBGPPeerConfig
selects CiliumBGPAdvertisements by label per address family, and each advertisement turns into
prefixes — the node's PodCIDRs, or Service addresses on the nodes whose endpoints make them
eligible. Pure functions over plain objects, so every rule is unit-tested without a lab.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..kubeapi.selectors import from_label_selector_object, labels_match
from .lbipam_services import BGP_CONTROL_PLANE_CLASS

SERVICE_NAME_LABEL = "io.kubernetes.service.name"
SERVICE_NAMESPACE_LABEL = "io.kubernetes.service.namespace"
SERVICE_NAME_ON_SLICE = "kubernetes.io/service-name"

WELL_KNOWN_COMMUNITIES = {
    "internet": "0:0",
    "planned-shut": "65535:0",
    "accept-own": "65535:1",
    "route-filter-translated-v4": "65535:2",
    "route-filter-v4": "65535:3",
    "route-filter-translated-v6": "65535:4",
    "route-filter-v6": "65535:5",
    "llgr-stale": "65535:6",
    "no-llgr": "65535:7",
    "blackhole": "65535:666",
    "no-export": "65535:65281",
    "no-advertise": "65535:65282",
    "no-export-subconfed": "65535:65283",
    "no-peer": "65535:65284",
}


@dataclass(frozen=True)
class PeerSettings:
    """One BGP neighbor of the node's speaker, with its CiliumBGPPeerConfig applied."""

    name: str
    address: str
    asn: int
    port: int = 179
    connect_retry_seconds: int = 120
    hold_time_seconds: int = 90
    keepalive_seconds: int = 30
    graceful_restart: bool = False
    restart_time_seconds: int = 120
    ebgp_multihop: int = 1


@dataclass(frozen=True)
class Route:
    """An IPv4 prefix the speaker announces, with its path attributes."""

    prefix: ipaddress.IPv4Network
    communities: tuple[str, ...] = ()
    large_communities: tuple[str, ...] = ()
    local_preference: int | None = None

    def merged(self, other: Route) -> Route:
        return Route(
            self.prefix,
            tuple(sorted(set(self.communities) | set(other.communities))),
            tuple(sorted(set(self.large_communities) | set(other.large_communities))),
            max((p for p in (self.local_preference, other.local_preference) if p is not None),
                default=None),
        )


@dataclass(frozen=True)
class Endpoint:
    node: str
    ready: bool
    terminating: bool
    pod_uid: str


@dataclass
class ServiceState:
    """A Service and its endpoints, as the agent sees them."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    type: str
    load_balancer_class: str | None
    external_traffic_policy: str
    internal_traffic_policy: str
    cluster_ips: tuple[str, ...]
    external_ips: tuple[str, ...]
    ingress_ips: tuple[str, ...]
    endpoints: list[Endpoint] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def selector_labels(self) -> dict[str, str]:
        return {**self.labels, SERVICE_NAME_LABEL: self.name,
                SERVICE_NAMESPACE_LABEL: self.namespace}

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> ServiceState:
        metadata, spec = obj["metadata"], obj.get("spec") or {}
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP")
                                                 else [])
        return cls(
            namespace=metadata.get("namespace") or "default",
            name=metadata["name"],
            labels=metadata.get("labels") or {},
            type=spec.get("type") or "ClusterIP",
            load_balancer_class=spec.get("loadBalancerClass"),
            external_traffic_policy=spec.get("externalTrafficPolicy") or "Cluster",
            internal_traffic_policy=spec.get("internalTrafficPolicy") or "Cluster",
            cluster_ips=tuple(ip for ip in cluster_ips if ip and ip != "None"),
            external_ips=tuple(spec.get("externalIPs") or ()),
            ingress_ips=tuple(i["ip"] for i in ingress if i.get("ip")),
        )


def endpoints_by_service(slices: Iterable[Mapping[str, Any]]) -> dict[str, list[Endpoint]]:
    """EndpointSlices grouped by ``namespace/service``; nil conditions read as the API says
    (ready and serving unknown = true, terminating unknown = false)."""
    grouped: dict[str, list[Endpoint]] = {}
    for eps in slices:
        metadata = eps["metadata"]
        service = (metadata.get("labels") or {}).get(SERVICE_NAME_ON_SLICE)
        if not service or eps.get("addressType", "IPv4") != "IPv4":
            continue
        key = f"{metadata.get('namespace') or 'default'}/{service}"
        for endpoint in eps.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            grouped.setdefault(key, []).append(Endpoint(
                node=endpoint.get("nodeName") or "",
                ready=conditions.get("ready") is not False,
                terminating=conditions.get("terminating") is True,
                pod_uid=(endpoint.get("targetRef") or {}).get("uid", ""),
            ))
    return grouped


@dataclass(frozen=True)
class AgentOptions:
    """The agent options of ``kube-system/cilium-config`` that change what is advertised."""

    #: ``enable-no-service-endpoints-routable``: Services with no usable backend stay routable
    no_service_endpoints_routable: bool = True


@dataclass(frozen=True)
class Misbehaviour:
    """The BGP agent faults in force (see ``emulator/faults.py``)."""

    local_from_all_nodes: bool = False
    cluster_only_with_local_backend: bool = False
    terminating_counts: bool = False
    ignore_no_endpoints_option: bool = False
    cluster_ip_for_lb_ip: bool = False
    prefix_length: int | None = None


PeerWithSpec = tuple[PeerSettings, Mapping[str, Any]]


def peers_of(node_config: Mapping[str, Any] | None,
             peer_configs: Mapping[str, Mapping[str, Any]]) -> dict[str, PeerWithSpec]:
    """Peers of the node's instances (by address) with their settings and PeerConfig spec.
    A peer without an address (auto-discovery) or with a missing PeerConfig gets defaults."""
    peers: dict[str, PeerWithSpec] = {}
    for instance in ((node_config or {}).get("spec") or {}).get("bgpInstances") or []:
        for peer in instance.get("peers") or []:
            address = peer.get("peerAddress")
            if not address or peer.get("peerASN") is None:
                continue
            ref = (peer.get("peerConfigRef") or {}).get("name")
            spec = (peer_configs.get(ref) or {}).get("spec") or {} if ref else {}
            timers = spec.get("timers") or {}
            restart = spec.get("gracefulRestart") or {}
            peers[address] = (PeerSettings(
                name=peer.get("name") or address,
                address=address,
                asn=int(peer["peerASN"]),
                port=int((spec.get("transport") or {}).get("peerPort") or 179),
                connect_retry_seconds=int(timers.get("connectRetryTimeSeconds") or 120),
                hold_time_seconds=int(timers.get("holdTimeSeconds") or 90),
                keepalive_seconds=int(timers.get("keepAliveTimeSeconds") or 30),
                graceful_restart=bool(restart.get("enabled")),
                restart_time_seconds=int(restart.get("restartTimeSeconds") or 120),
                ebgp_multihop=int(spec.get("ebgpMultihop") or 1),
            ), spec)
    return peers


def selected_advertisements(peer_spec: Mapping[str, Any],
                            advertisements: Sequence[Mapping[str, Any]],
                            ) -> list[Mapping[str, Any]]:
    """The advertisements the peer's IPv4 unicast family selects (a nil selector: none)."""
    chosen: list[Mapping[str, Any]] = []
    for family in peer_spec.get("families") or []:
        if family.get("afi") != "ipv4" or family.get("safi") != "unicast":
            continue
        selector = from_label_selector_object(family.get("advertisements"))
        if selector is None:
            continue
        for advert in advertisements:
            if labels_match(selector, advert["metadata"].get("labels")) and advert not in chosen:
                chosen.append(advert)
    return chosen


def _attributes(entry: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], int | None]:
    attributes = entry.get("attributes") or {}
    communities = attributes.get("communities") or {}
    standard = list(communities.get("standard") or [])
    standard += [WELL_KNOWN_COMMUNITIES.get(name, name)
                 for name in communities.get("wellKnown") or []]
    preference = attributes.get("localPreference")
    return (tuple(sorted(set(standard))), tuple(sorted(set(communities.get("large") or []))),
            int(preference) if preference is not None else None)


def service_eligible(service: ServiceState, node: str, policy: str, options: AgentOptions,
                     fault: Misbehaviour) -> bool:
    """Whether ``node`` advertises the Service's addresses governed by ``policy``."""
    def usable(endpoint: Endpoint) -> bool:
        return fault.terminating_counts or (endpoint.ready and not endpoint.terminating)

    local = policy == "Local"
    if local and fault.local_from_all_nodes:
        local = False
    elif not local and fault.cluster_only_with_local_backend:
        local = True
    if local:
        return any(e.node == node and usable(e) for e in service.endpoints)
    if options.no_service_endpoints_routable or fault.ignore_no_endpoints_option:
        return True
    return any(usable(e) for e in service.endpoints)


def _prefix(address: str, length: int) -> ipaddress.IPv4Network | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version != 4:
        return None
    return ipaddress.IPv4Network(f"{ip}/{length}", strict=False)


def service_routes(entry: Mapping[str, Any], services: Iterable[ServiceState], node: str,
                   options: AgentOptions, fault: Misbehaviour) -> list[Route]:
    """Routes of one ``advertisementType: Service`` entry on ``node``."""
    selector = from_label_selector_object(entry.get("selector"))
    if selector is None:  # a nil service selector selects nothing
        return []
    spec = entry.get("service") or {}
    aggregation = spec.get("aggregationLengthIPv4")
    communities, large, preference = _attributes(entry)
    routes: list[Route] = []
    for service in services:
        if not labels_match(selector, service.selector_labels):
            continue
        for kind in spec.get("addresses") or []:
            addresses: tuple[str, ...] = ()
            policy = service.external_traffic_policy
            if kind == "LoadBalancerIP":
                if service.type != "LoadBalancer" or service.load_balancer_class not in (
                        None, BGP_CONTROL_PLANE_CLASS):
                    continue
                addresses = service.cluster_ips if fault.cluster_ip_for_lb_ip \
                    else service.ingress_ips
            elif kind == "ExternalIP":
                addresses = service.external_ips
            elif kind == "ClusterIP":
                addresses, policy = service.cluster_ips, service.internal_traffic_policy
            if not addresses or not service_eligible(service, node, policy, options, fault):
                continue
            length = 32
            if aggregation is not None and policy == "Cluster":
                length = int(aggregation)
            if fault.prefix_length is not None:
                length = fault.prefix_length
            for address in addresses:
                prefix = _prefix(address, length)
                if prefix is not None:
                    routes.append(Route(prefix, communities, large, preference))
    return routes


def podcidr_routes(entry: Mapping[str, Any], node_object: Mapping[str, Any]) -> list[Route]:
    spec = node_object.get("spec") or {}
    cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    communities, large, preference = _attributes(entry)
    routes = []
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        if isinstance(network, ipaddress.IPv4Network):
            routes.append(Route(network, communities, large, preference))
    return routes


def desired_routes(advertisements: Iterable[Mapping[str, Any]], node_object: Mapping[str, Any],
                   services: Sequence[ServiceState], options: AgentOptions,
                   fault: Misbehaviour) -> dict[ipaddress.IPv4Network, Route]:
    """Every route the node announces for the given (already peer-selected) advertisements;
    one route per prefix, attributes of several advertisements merged."""
    node = node_object["metadata"]["name"]
    routes: dict[ipaddress.IPv4Network, Route] = {}
    for advert in advertisements:
        for entry in (advert.get("spec") or {}).get("advertisements") or []:
            kind = entry.get("advertisementType")
            made: list[Route] = []
            if kind == "PodCIDR":
                made = podcidr_routes(entry, node_object)
            elif kind == "Service":
                made = service_routes(entry, services, node, options, fault)
            for route in made:
                known = routes.get(route.prefix)
                routes[route.prefix] = known.merged(route) if known else route
    return routes
