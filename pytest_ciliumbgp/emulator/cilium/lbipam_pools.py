"""CiliumLoadBalancerIPPool as LB-IPAM sees it: address ranges, reserved addresses, the Services
it selects, and which of two overlapping pools is the conflicting one."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..kubeapi.selectors import LabelSelector, from_label_selector_object, labels_match

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

SERVICE_NAME_LABEL = "io.kubernetes.service.name"
SERVICE_NAMESPACE_LABEL = "io.kubernetes.service.namespace"


@dataclass(frozen=True)
class AddressRange:
    """An inclusive range of addresses; ``reserved`` holds the ones never handed out."""

    first: Address
    last: Address
    reserved: frozenset[Address] = frozenset()

    @property
    def version(self) -> int:
        return self.first.version

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1 - len(self.reserved)

    def holds(self, address: Address) -> bool:
        return self.spans(address) and address not in self.reserved

    def spans(self, address: Address) -> bool:
        """Within the range, reserved or not."""
        return (address.version == self.version
                and int(self.first) <= int(address) <= int(self.last))

    def overlaps(self, other: AddressRange) -> bool:
        return (self.version == other.version and int(self.first) <= int(other.last)
                and int(other.first) <= int(self.last))

    def free(self, used: set[Address]) -> Iterator[Address]:
        """Free addresses, lowest first; lazy, so a /64 costs only as many steps as are used."""
        value = int(self.first)
        while value <= int(self.last):
            address = ipaddress.ip_address(value)
            if address not in self.reserved and address not in used:
                yield address
            value += 1


def parse_block(block: Mapping[str, Any], allow_first_last: bool) -> AddressRange | None:
    """One ``spec.blocks[]`` entry; None when it cannot be parsed (the real operator skips it)."""
    try:
        if block.get("cidr"):
            network = ipaddress.ip_network(str(block["cidr"]), strict=False)
            reserved: frozenset[Address] = frozenset()
            # The network and broadcast-like ends only matter for blocks with room to spare.
            if not allow_first_last and network.prefixlen <= network.max_prefixlen - 2:
                reserved = frozenset({network[0], network[-1]})
            return AddressRange(network[0], network[-1], reserved)
        start = ipaddress.ip_address(str(block["start"]))
        stop = ipaddress.ip_address(str(block.get("stop") or block["start"]))
    except (KeyError, ValueError):
        return None
    if start.version != stop.version or int(stop) < int(start):
        return None
    return AddressRange(start, stop)


@dataclass(frozen=True)
class Pool:
    name: str
    created: str
    ranges: tuple[AddressRange, ...]
    selector: LabelSelector | None  # None: every Service
    disabled: bool

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> Pool:
        spec = obj.get("spec") or {}
        allow_first_last = spec.get("allowFirstLastIPs", "Yes") != "No"
        ranges = (parse_block(block, allow_first_last) for block in spec.get("blocks") or [])
        return cls(name=obj["metadata"]["name"],
                   created=str(obj["metadata"].get("creationTimestamp") or ""),
                   ranges=tuple(r for r in ranges if r is not None),
                   selector=from_label_selector_object(spec.get("serviceSelector")),
                   disabled=bool(spec.get("disabled")))

    @property
    def total(self) -> int:
        return sum(r.size for r in self.ranges)

    def holds(self, address: Address) -> bool:
        return any(r.holds(address) for r in self.ranges)

    def selects(self, name: str, namespace: str, labels: Mapping[str, str] | None) -> bool:
        if self.selector is None:
            return True
        seen = {**(labels or {}), SERVICE_NAME_LABEL: name, SERVICE_NAMESPACE_LABEL: namespace}
        return labels_match(self.selector, seen)

    def overlaps(self, other: Pool) -> bool:
        return any(a.overlaps(b) for a in self.ranges for b in other.ranges)

    def free(self, version: int, used: set[Address]) -> Iterator[Address]:
        for address_range in self.ranges:
            if address_range.version == version:
                yield from address_range.free(used)


def conflicting_pools(pools: Iterable[Pool]) -> set[str]:
    """Names of the pools that overlap an older one (creationTimestamp, then name); the older
    keeps its addresses, and a pool already marked does not mark others."""
    kept: list[Pool] = []
    conflicting: set[str] = set()
    for pool in sorted(pools, key=lambda p: (p.created, p.name)):
        if any(pool.overlaps(older) for older in kept):
            conflicting.add(pool.name)
        else:
            kept.append(pool)
    return conflicting
