"""Which next hops each connection's packets left the router by, step by step of a test.

:class:`StepCapture` runs the shipped probe :mod:`pytest_ciliumbgp.probes.egress_capture` on
the router through its transport for as long as its ``with`` block lasts: it starts as the block
is entered, ``wait_ready()`` returns once it sniffs (so a test can set up meanwhile),
``mark(step)`` names each step as it begins, ``finish()`` returns the forwarded packets once the
probe has drained them (and fails if it may have missed some).
:class:`Trails` turns them into each flow's next hops, named through the router's neighbour
table as in :mod:`~pytest_ciliumbgp.flows.attribution`.

A connection is attributed by every packet it sent but its retransmissions (a SYN sent again,
data up to what it had sent before). A bare ACK counts: it alone reaching a node without the
connection's conntrack entry gets the connection reset. Retransmissions are left out because,
where a client's socket hash reaches the router (the embedded lab's client shares the router's
kernel), Linux draws a new hash when it retransmits: a connection whose path failed under it may
then try another next hop *because* it failed, which must not make its path count as changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_ciliumbgp.flows.attribution import NextHop
from pytest_ciliumbgp.flows.background import Background, BackgroundError
from pytest_ciliumbgp.flows.scapy_probe import Flow
from pytest_ciliumbgp.probes import egress_capture
from pytest_ciliumbgp.probes.shipping import probe_argv
from pytest_ciliumbgp.transport import Transport

_SEQ_SPACE = 1 << 32


@dataclass(frozen=True)
class StepPacket:
    """One forwarded TCP packet as it left the router, and the step it was captured in."""

    flow: Flow
    interface: str
    mac: str
    step: str
    time: float
    seq: int
    length: int
    syn: bool

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> StepPacket:
        return cls(Flow.from_list(doc["flow"]), str(doc["iface"]), str(doc["mac"]).lower(),
                   str(doc["step"]), float(doc["time"]), int(doc["seq"]), int(doc["length"]),
                   bool(doc["syn"]))


def parse_step_capture(text: str) -> list[StepPacket]:
    """The JSON list the probe prints."""
    return [StepPacket.from_doc(doc) for doc in json.loads(text)]


def _after(seq: int, than: int) -> bool:
    """``seq`` lies after ``than`` in TCP's wrapping sequence space."""
    return 0 < (seq - than) % _SEQ_SPACE < _SEQ_SPACE // 2


@dataclass
class Trails:
    """For each flow, the (step, next hop) of each packet but its retransmissions, in the order
    the router sent them; a next hop the neighbour table does not know is
    ``?interface/mac``."""

    hops: dict[Flow, list[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def attribute(cls, packets: Iterable[StepPacket],
                  neighbours: Mapping[tuple[str, str], NextHop]) -> Trails:
        trails = cls()
        sent_up_to: dict[Flow, int] = {}
        opened: set[Flow] = set()
        for packet in sorted(packets, key=lambda p: p.time):
            if packet.syn:
                if packet.flow in opened:
                    continue  # a SYN sent again
                opened.add(packet.flow)
            elif packet.length:
                end = (packet.seq + packet.length) % _SEQ_SPACE
                known = sent_up_to.get(packet.flow)
                if known is not None and not _after(end, known):
                    continue  # data sent again
                sent_up_to[packet.flow] = end
            hop = neighbours.get((packet.interface, packet.mac))
            name = hop.address if hop else f"?{packet.interface}/{packet.mac}"
            trails.hops.setdefault(packet.flow, []).append((packet.step, name))
        return trails

    def by_step(self, flow: Flow) -> dict[str, list[str]]:
        """The distinct next hops of ``flow`` in each step, in the order they were taken."""
        steps: dict[str, list[str]] = {}
        for step, hop in self.hops.get(flow, []):
            taken = steps.setdefault(step, [])
            if hop not in taken:
                taken.append(hop)
        return steps


class StepCapture:
    """The capture, on the router behind ``transport``, from ``with`` to ``finish()``."""

    def __init__(self, transport: Transport, destinations: Sequence[str],
                 interfaces: Sequence[str], *, step: str = "start",
                 max_seconds: float = 120.0) -> None:
        arguments = ["--step", step, "--max-seconds", f"{max_seconds:g}"]
        for address in destinations:
            arguments += ["--dst", address]
        for interface in interfaces:
            arguments += ["--iface", interface]
        self.program = Background(transport, probe_argv(transport, egress_capture, arguments),
                                  what="packet capture", timeout=30.0)

    def __enter__(self) -> StepCapture:
        self.program.launch()
        return self

    def wait_ready(self) -> None:
        self.program.wait_ready()

    def __exit__(self, *exc_info: object) -> None:
        self.program.kill()

    def mark(self, step: str) -> None:
        self.program.mark(step)

    def finish(self) -> list[StepPacket]:
        lines = self.program.finish()
        if not lines:
            raise BackgroundError(f"{self.program.what} printed no report")
        return parse_step_capture(lines[-1])
