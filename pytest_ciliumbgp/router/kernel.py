"""The kernel FIB as ``ip -j route`` prints it: the next hops packets really take."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.router.model import KernelNextHop, KernelRoute


def parse_kernel_routes(doc: Any) -> list[KernelRoute]:
    """Routes of ``ip -j route show ...``, single next hop or multipath alike.

    A single next hop is printed inline (``gateway``, ``dev``), a multipath route as
    ``nexthops: [{gateway, dev, weight}]``. The kernel prints a host route's ``dst`` without
    its length (``172.16.1.1``); it is given back as ``172.16.1.1/32``.
    """
    if not isinstance(doc, Sequence) or isinstance(doc, str):
        raise RouterError(f"ip -j route: expected a JSON list, got {type(doc).__name__}")
    return [_route(entry) for entry in doc]


def _route(entry: Any) -> KernelRoute:
    if not isinstance(entry, Mapping) or "dst" not in entry:
        raise RouterError(f"ip -j route: entry without a dst: {entry!r}")
    hops: Sequence[Mapping[str, Any]] = entry.get("nexthops") or ([entry] if "dev" in entry else [])
    return KernelRoute(dst=_with_length(str(entry["dst"])), next_hops=tuple(map(_next_hop, hops)))


def _next_hop(hop: Mapping[str, Any]) -> KernelNextHop:
    return KernelNextHop(
        gateway=str(hop.get("gateway", "")),
        dev=str(hop.get("dev", "")),
        weight=int(hop.get("weight", 1)),
    )


def _with_length(dst: str) -> str:
    if dst == "default":
        return dst
    try:
        return str(ipaddress.ip_network(dst, strict=False))
    except ValueError:
        return dst
