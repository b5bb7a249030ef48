"""Crafted TCP SYN flows from a client host behind the router, so that the router forwards them
and hashes them the way it hashes real clients (packets the router originates itself may be
hashed on other keys).

:func:`send_syn_flows` runs the shipped probe :mod:`pytest_ciliumbgp.probes.syn_flows` on the
client host through its transport, handing it the flows as JSON on stdin, and returns how many
packets it sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.probes import syn_flows
from pytest_ciliumbgp.probes.shipping import probe_argv
from pytest_ciliumbgp.transport import Transport, TransportError


class FlowProbeError(RuntimeError):
    """The probe could not send its flows; the message says what the client host said."""


@dataclass(frozen=True, order=True)
class Flow:
    """A TCP flow as the router's multipath hash sees it (the protocol is always TCP)."""

    src: str
    sport: int
    dst: str
    dport: int

    def __str__(self) -> str:
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport}"

    def as_list(self) -> list[Any]:
        return [self.src, self.sport, self.dst, self.dport]

    @classmethod
    def from_list(cls, values: Sequence[Any]) -> Flow:
        src, sport, dst, dport = values
        return cls(str(src), int(sport), str(dst), int(dport))


def probe_request(flows: Sequence[Flow], packets_per_flow: int) -> str:
    return json.dumps({"flows": [flow.as_list() for flow in flows],
                       "packets_per_flow": packets_per_flow})


def send_syn_flows(transport: Transport, flows: Sequence[Flow], *, packets_per_flow: int = 3,
                   timeout: float = 60.0) -> int:
    """Send ``packets_per_flow`` SYNs of every flow from the host behind ``transport``; returns
    how many packets left the client."""
    argv = probe_argv(transport, syn_flows)
    try:
        result = transport.run(argv, input=probe_request(flows, packets_per_flow),
                               timeout=timeout)
    except TransportError as err:
        raise FlowProbeError(f"scapy probe on {transport}: {err}") from None
    if result.rc != 0:
        detail = (result.stderr.strip().splitlines() or [f"exit {result.rc}"])[-1]
        raise FlowProbeError(f"scapy probe on {transport}: {detail}")
    return int(json.loads(result.stdout)["sent"])
