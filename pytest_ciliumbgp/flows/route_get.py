"""Ask the router's kernel which next hop it would forward a flow to, thousands of flows at a
time: ``ip -j -batch -`` of ``route get <dst> from <src> iif <dev> ipproto tcp sport <p> dport
<q>`` lines in the router's network namespace. ``iif`` makes it a forwarding lookup, hashed by
the multipath hash policy in force exactly as a client's packet arriving there would be."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pytest_ciliumbgp.flows.scapy_probe import Flow
from pytest_ciliumbgp.transport import Transport, TransportError


class RouteGetError(RuntimeError):
    """The router's ``ip`` did not answer every lookup."""


def batch_lines(flows: Sequence[Flow], iif: str) -> str:
    return "".join(f"route get {flow.dst} from {flow.src} iif {iif} ipproto tcp "
                   f"sport {flow.sport} dport {flow.dport}\n" for flow in flows)


def parse_batch(text: str) -> list[str]:
    """The gateway of every answer of ``ip -j -batch``, in order (one JSON list per line); a
    directly connected destination has none and gives its ``dst``."""
    gateways = []
    for line in text.splitlines():
        if line.strip():
            for route in json.loads(line):
                gateways.append(str(route.get("gateway") or route["dst"]))
    return gateways


def route_next_hops(transport: Transport, flows: Sequence[Flow], iif: str, *,
                    timeout: float = 60.0) -> dict[Flow, str]:
    """The next hop the kernel behind ``transport`` picks for each flow arriving on ``iif``."""
    try:
        result = transport.run(["ip", "-j", "-batch", "-"], input=batch_lines(flows, iif),
                               timeout=timeout)
    except TransportError as err:
        raise RouteGetError(f"ip -batch route get on {transport}: {err}") from None
    gateways = parse_batch(result.stdout) if result.rc == 0 else []
    if len(gateways) != len(flows):
        detail = (result.stderr.strip().splitlines() or [f"exit {result.rc}"])[-1]
        raise RouteGetError(f"ip -batch route get on {transport}: {len(gateways)} answers for "
                            f"{len(flows)} flows: {detail}")
    return dict(zip(flows, gateways, strict=True))
