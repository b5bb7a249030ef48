"""Which long-lived connections survived a change of the router's next hops, joined from what
the client saw (:mod:`~pytest_ciliumbgp.flows.connections`) and where the router sent each
connection's packets (:mod:`~pytest_ciliumbgp.flows.next_hop_trails`).

A connection whose packets kept one next hop had a node with its conntrack entry all along:
breaking it is a fault. One whose packets moved to another node reached a node that never saw
it, which may reset or drop it: that is how ECMP without resilient hashing behaves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_ciliumbgp.flows.connections import HeldConnection
from pytest_ciliumbgp.flows.next_hop_trails import Trails
from pytest_ciliumbgp.flows.scapy_probe import Flow


@dataclass(frozen=True)
class Survival:
    """One connection: what the client saw and which nodes its packets went to, per step."""

    held: HeldConnection
    flow: Flow
    #: step -> nodes the connection's packets (retransmissions aside) left the router for,
    #: in order
    nodes: Mapping[str, tuple[str, ...]]

    @property
    def seen(self) -> bool:
        """Whether the router was seen forwarding any of its packets."""
        return any(self.nodes.values())

    @property
    def changed(self) -> bool:
        return len({node for nodes in self.nodes.values() for node in nodes}) > 1

    @property
    def counts_against_budget(self) -> bool:
        """Broke although its packets always went to the same node."""
        return self.held.broke and self.seen and not self.changed

    def hops_in(self, step: str) -> str:
        return " > ".join(self.nodes.get(step, ())) or "-"

    def outcome(self) -> str:
        held = self.held
        if not held.broke:
            return f"survived ({held.answers} answers)"
        return (f"broke: {held.error} in step {held.step!r} after {held.answers} answers "
                f"({held.detail})")


def join(held: Sequence[HeldConnection], trails: Trails, client: str, address: str, port: int,
         names: Mapping[str, str]) -> list[Survival]:
    """Each held connection with its flow's trail; ``names`` turns next-hop addresses into
    node names."""
    joined = []
    for connection in held:
        flow = Flow(client, connection.local_port, address, port)
        nodes = {step: tuple(names.get(hop, hop) for hop in hops)
                 for step, hops in trails.by_step(flow).items()}
        joined.append(Survival(connection, flow, nodes))
    return joined


def render(survivals: Sequence[Survival], steps: Sequence[str]) -> str:
    """A table for the report: connection, local port, the nodes per step, outcome."""
    header = ["conn", "local port", *steps, "next hop", "outcome"]
    rows = [[str(s.held.connection), str(s.held.local_port),
             *(s.hops_in(step) for step in steps),
             "changed" if s.changed else ("kept" if s.seen else "not seen"), s.outcome()]
            for s in survivals]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)),
                        row[-1]]).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Tally:
    """The numbers of one run: connections, and how many broke, by whether their path moved."""

    connections: int
    kept: int
    kept_broke: int
    changed: int
    changed_broke: int
    not_seen: int

    @classmethod
    def of(cls, survivals: Sequence[Survival]) -> Tally:
        kept = [s for s in survivals if s.seen and not s.changed]
        changed = [s for s in survivals if s.changed]
        return cls(len(survivals), len(kept), sum(s.held.broke for s in kept), len(changed),
                   sum(s.held.broke for s in changed), sum(not s.seen for s in survivals))

    def render(self) -> str:
        return (f"{self.connections} connections: {self.kept} kept their next hop "
                f"({self.kept_broke} broke), {self.changed} changed it "
                f"({self.changed_broke} broke), {self.not_seen} not seen on the router\n")
