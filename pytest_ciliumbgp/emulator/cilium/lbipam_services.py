"""A Service as LB-IPAM sees it: whether it is handled, the addresses it asks for and holds, and
the sharing-key rules that decide whether two Services may use one address."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .lbipam_pools import Address

BGP_CONTROL_PLANE_CLASS = "io.cilium/bgp-control-plane"
L2_ANNOUNCER_CLASS = "io.cilium/l2-announcer"
HANDLED_CLASSES = (None, BGP_CONTROL_PLANE_CLASS, L2_ANNOUNCER_CLASS)

IPS_ANNOTATION = "lbipam.cilium.io/ips"
IPS_ANNOTATION_ALIAS = "io.cilium/lb-ipam-ips"
SHARING_KEY_ANNOTATION = "lbipam.cilium.io/sharing-key"
SHARING_CROSS_NAMESPACE_ANNOTATION = "lbipam.cilium.io/sharing-cross-namespace"

_FAMILY_VERSIONS = {"IPv4": 4, "IPv6": 6}


def _addresses(texts: list[str]) -> tuple[Address, ...]:
    found: list[Address] = []
    for text in texts:
        try:
            address = ipaddress.ip_address(text.strip())
        except ValueError:
            continue  # the real operator skips what it cannot parse
        if address not in found:
            found.append(address)
    return tuple(found)


@dataclass(frozen=True)
class ServiceView:
    namespace: str
    name: str
    created: str
    labels: Mapping[str, str]
    load_balancer: bool
    load_balancer_class: str | None
    requested: tuple[Address, ...]
    holds: tuple[Address, ...]  # status.loadBalancer.ingress[].ip
    families: tuple[int, ...]
    sharing_key: str
    sharing_namespaces: frozenset[str]
    ports: frozenset[tuple[int, str]]
    traffic_policy: str
    selector: Mapping[str, str]

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> ServiceView:
        metadata, spec = obj["metadata"], obj.get("spec") or {}
        annotations: Mapping[str, str] = metadata.get("annotations") or {}
        requested = [str(spec["loadBalancerIP"])] if spec.get("loadBalancerIP") else []
        for key in (IPS_ANNOTATION, IPS_ANNOTATION_ALIAS):
            requested += annotations.get(key, "").split(",") if annotations.get(key) else []
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        families = tuple(_FAMILY_VERSIONS[f] for f in spec.get("ipFamilies") or ["IPv4"]
                         if f in _FAMILY_VERSIONS)
        cross = annotations.get(SHARING_CROSS_NAMESPACE_ANNOTATION, "")
        return cls(
            namespace=metadata.get("namespace") or "default", name=metadata["name"],
            created=str(metadata.get("creationTimestamp") or ""),
            labels=metadata.get("labels") or {},
            load_balancer=spec.get("type") == "LoadBalancer",
            load_balancer_class=spec.get("loadBalancerClass"),
            requested=_addresses(requested),
            holds=_addresses([str(entry["ip"]) for entry in ingress if entry.get("ip")]),
            families=families or (4,),
            sharing_key=annotations.get(SHARING_KEY_ANNOTATION, ""),
            sharing_namespaces=frozenset(n.strip() for n in cross.split(",") if n.strip()),
            ports=frozenset((int(p.get("port", 0)), str(p.get("protocol", "TCP")))
                            for p in spec.get("ports") or []),
            traffic_policy=spec.get("externalTrafficPolicy") or "Cluster",
            selector=spec.get("selector") or {},
        )

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    def accepts_namespace(self, namespace: str) -> bool:
        return (namespace == self.namespace or "*" in self.sharing_namespaces
                or namespace in self.sharing_namespaces)

    def same_sharing_key(self, other: ServiceView) -> bool:
        return bool(self.sharing_key) and self.sharing_key == other.sharing_key

    def can_share_with(self, other: ServiceView) -> bool:
        """Whether both may use one address: same key, namespaces allowed both ways, no common
        port, same externalTrafficPolicy, and under Local the same non-empty selector (the
        address must lead to the same node-local backends for both)."""
        if not self.same_sharing_key(other):
            return False
        if not (self.accepts_namespace(other.namespace)
                and other.accepts_namespace(self.namespace)):
            return False
        if self.ports & other.ports or self.traffic_policy != other.traffic_policy:
            return False
        if self.traffic_policy == "Local":
            return bool(self.selector) and dict(self.selector) == dict(other.selector)
        return True
