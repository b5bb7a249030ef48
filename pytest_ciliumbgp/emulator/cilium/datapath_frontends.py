"""Which frontends a node load-balances and to which backends, from Services and their
EndpointSlices as Cilium's agent reads them (pure: API objects in, ``Frontend`` values out).

A Service port is reached on its LB IPs (``status.loadBalancer.ingress``) and
``spec.externalIPs`` under ``externalTrafficPolicy``, and on its ClusterIPs under
``internalTrafficPolicy``. ``Cluster`` sends to every ready endpoint of the cluster, ``Local`` to
the ready endpoints on the receiving node only. Terminating or unready endpoints take no new
connections. NodePorts are not emulated: the lab's clients reach Services by their LB IPs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .datapath_rules import CLUSTER, LOCAL, Backend, Frontend

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    node: str | None


@dataclass(frozen=True)
class ServicePort:
    """One port of a Service, its addresses and every ready endpoint in the cluster."""

    service: str  # "namespace/name:port-name"
    protocol: str
    port: int
    external_addresses: tuple[str, ...]
    cluster_addresses: tuple[str, ...]
    external_policy: str
    internal_policy: str
    endpoints: tuple[Endpoint, ...]


def _ipv4(addresses: Iterable[Any]) -> tuple[str, ...]:
    found = []
    for address in addresses:
        try:
            if ipaddress.ip_address(str(address)).version == 4:
                found.append(str(address))
        except ValueError:
            continue  # "None" of a headless Service, or a hostname-only ingress
    return tuple(dict.fromkeys(found))


def _ready(endpoint: Mapping[str, Any]) -> bool:
    # The API defines an absent "ready" as ready (a producer that does not know).
    return (endpoint.get("conditions") or {}).get("ready") is not False


def _endpoints(service_port: Mapping[str, Any], slices: Iterable[Mapping[str, Any]],
               ) -> tuple[Endpoint, ...]:
    name = service_port.get("name") or ""
    protocol = service_port.get("protocol", "TCP")
    found: dict[tuple[str, int], Endpoint] = {}
    for endpoint_slice in slices:
        if endpoint_slice.get("addressType") != "IPv4":
            continue
        number = next((p.get("port") for p in endpoint_slice.get("ports") or []
                       if (p.get("name") or "") == name
                       and p.get("protocol", "TCP") == protocol), None)
        if not isinstance(number, int):
            continue
        for endpoint in endpoint_slice.get("endpoints") or []:
            if not _ready(endpoint):
                continue
            for address in endpoint.get("addresses") or []:
                found.setdefault((address, number),
                                 Endpoint(address, number, endpoint.get("nodeName")))
    return tuple(found[key] for key in sorted(found))


def service_ports(service: Mapping[str, Any], slices: Iterable[Mapping[str, Any]],
                  ) -> list[ServicePort]:
    """The ports of ``service``; ``slices`` may hold any slices, those of the Service count."""
    metadata = service["metadata"]
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return []
    own = [s for s in slices
           if (s["metadata"].get("namespace") == metadata["namespace"]
               and (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
               == metadata["name"])]
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = _ipv4([*(entry.get("ip") for entry in ingress), *(spec.get("externalIPs") or [])])
    cluster = _ipv4(spec.get("clusterIPs") or [spec.get("clusterIP")])
    return [ServicePort(service=f"{metadata['namespace']}/{metadata['name']}:"
                                f"{port.get('name') or ''}",
                        protocol=port.get("protocol", "TCP"),
                        port=int(port["port"]),
                        external_addresses=external,
                        cluster_addresses=cluster,
                        external_policy=spec.get("externalTrafficPolicy") or CLUSTER,
                        internal_policy=spec.get("internalTrafficPolicy") or CLUSTER,
                        endpoints=_endpoints(port, own))
            for port in spec.get("ports") or []]


def _backends(endpoints: Iterable[Endpoint], node: str, policy: str) -> tuple[Backend, ...]:
    return tuple(Backend(e.address, e.port, local=e.node == node) for e in endpoints
                 if policy != LOCAL or e.node == node)


def node_frontends(ports: Iterable[ServicePort], node: str) -> list[Frontend]:
    """What ``node`` load-balances: every address of every Service port, each with the
    backends its traffic policy allows on this node (none: the node drops the traffic)."""
    frontends = []
    for port in ports:
        for external, policy, addresses in (
                (True, port.external_policy, port.external_addresses),
                (False, port.internal_policy, port.cluster_addresses)):
            backends = _backends(port.endpoints, node, policy)
            frontends += [Frontend(address, port.protocol, port.port, port.service, policy,
                                   external, backends) for address in addresses]
    return frontends
