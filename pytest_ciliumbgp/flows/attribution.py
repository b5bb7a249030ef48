"""Which next hop each forwarded packet left the router by.

On the router, the shipped probe :mod:`pytest_ciliumbgp.probes.egress_capture` sniffs the
node-facing interfaces for TCP SYNs to the LB IPs it is given that the router itself sends out
— forwarded packets, seen on egress — and prints each one's flow, egress interface and
destination MAC as JSON once its stdin closes and it has drained what the kernel queued for it.
:class:`RouterCapture` runs that capture (``--syn-only``: one packet per connection is all
attribution needs, and the fewer packets scapy dissects the better it keeps up on a busy
router) from the test host through the router's transport. The egress interface and
destination MAC name the next hop through the router's neighbour table (``ip -j neigh``); the
rest is pure: parse, attribute, tabulate.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from pytest_ciliumbgp.flows.scapy_probe import Flow
from pytest_ciliumbgp.inventory import Host, Interface, Inventory
from pytest_ciliumbgp.probes import egress_capture
from pytest_ciliumbgp.probes.shipping import probe_argv
from pytest_ciliumbgp.transport import Transport


class CaptureError(RuntimeError):
    """The capture on the router did not start or did not report."""


@dataclass(frozen=True)
class EgressPacket:
    """One forwarded packet as it left the router."""

    flow: Flow
    interface: str
    mac: str


@dataclass(frozen=True)
class NextHop:
    """A next hop as the neighbour table names it: its address on the router's interface."""

    address: str
    interface: str
    mac: str


# Inventory: which router interfaces face the nodes and the clients


def node_facing_interfaces(inventory: Inventory) -> list[str]:
    """The router's interfaces on a network where some node has an address."""
    node_networks = {i.network for node in inventory.nodes for i in node.interfaces}
    return [i.name for i in inventory.router.interfaces if i.network in node_networks]


def facing_interface(inventory: Inventory, host: Host) -> Interface:
    """The router's interface on ``host``'s first network (where its packets come in)."""
    network = host.interfaces[0].network
    for interface in inventory.router.interfaces:
        if interface.network == network:
            return interface
    raise KeyError(f"router of inventory {inventory.name!r} has no interface on {network}")


def router_neighbours(transport: Transport) -> dict[tuple[str, str], NextHop]:
    """The neighbour table of the host behind ``transport``."""
    return parse_neighbours(json.loads(transport.check_output(["ip", "-j", "neigh"])))


# Pure parsing and attribution


def parse_capture(text: str) -> list[EgressPacket]:
    """The JSON list the capture prints."""
    return [EgressPacket(Flow.from_list(entry["flow"]), str(entry["iface"]),
                         str(entry["mac"]).lower())
            for entry in json.loads(text)]


def parse_neighbours(doc: Any) -> dict[tuple[str, str], NextHop]:
    """``ip -j neigh`` as (interface, MAC) → next hop; entries without a MAC are skipped."""
    found: dict[tuple[str, str], NextHop] = {}
    for entry in doc:
        mac = str(entry.get("lladdr") or "").lower()
        if mac and "dst" in entry and "dev" in entry:
            found[(entry["dev"], mac)] = NextHop(str(entry["dst"]), str(entry["dev"]), mac)
    return found


@dataclass
class FlowTable:
    """Which next hops each flow's packets left by (addresses; ``?dev/mac`` when the neighbour
    table does not know the MAC)."""

    hops: dict[Flow, Counter[str]] = field(default_factory=dict)

    @classmethod
    def attribute(cls, packets: Iterable[EgressPacket],
                  neighbours: Mapping[tuple[str, str], NextHop]) -> FlowTable:
        table = cls()
        for packet in packets:
            hop = neighbours.get((packet.interface, packet.mac))
            name = hop.address if hop else f"?{packet.interface}/{packet.mac}"
            table.hops.setdefault(packet.flow, Counter())[name] += 1
        return table

    @classmethod
    def of_routes(cls, routes: Mapping[Flow, str]) -> FlowTable:
        """One lookup per flow (``ip route get``) as a table."""
        return cls({flow: Counter({hop: 1}) for flow, hop in routes.items()})

    def split_flows(self) -> dict[Flow, Counter[str]]:
        """Flows whose packets left by more than one next hop."""
        return {flow: hops for flow, hops in self.hops.items() if len(hops) > 1}

    def unseen(self, flows: Iterable[Flow]) -> list[Flow]:
        return [flow for flow in flows if flow not in self.hops]

    def next_hop(self, flow: Flow) -> str:
        """The next hop most of the flow's packets took."""
        return self.hops[flow].most_common(1)[0][0]

    def flows_per_next_hop(self) -> Counter[str]:
        return Counter(self.next_hop(flow) for flow in self.hops)

    def packets_per_next_hop(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for hops in self.hops.values():
            total.update(hops)
        return total

    def render(self, names: Mapping[str, str]) -> str:
        """``flow -> next hop (node) xN`` lines, for the report."""
        lines = []
        for flow in sorted(self.hops):
            hops = ", ".join(f"{hop} ({names.get(hop, '?')}) x{count}"
                             for hop, count in sorted(self.hops[flow].items()))
            lines.append(f"{flow} -> {hops}")
        return "\n".join(lines) + "\n"


# The capture, started from the test host


class RouterCapture:
    """Capture on the router while the block runs; afterwards ``.packets`` holds what left.

    The capture runs as a process behind ``transport`` whose stdin is kept open: it says
    ``ready`` once sniffing, and reports when stdin closes. A capture that may have missed
    packets (the router too busy to drain them in time) raises :class:`CaptureError` rather
    than leave flows unattributed.
    """

    def __init__(self, transport: Transport, destinations: Sequence[str],
                 interfaces: Sequence[str], *, timeout: float = 30.0) -> None:
        arguments = ["--syn-only", "--max-seconds", f"{timeout:g}"]
        for address in destinations:
            arguments += ["--dst", address]
        for interface in interfaces:
            arguments += ["--iface", interface]
        self.argv = transport.wrap(probe_argv(transport, egress_capture, arguments))
        self.transport = transport
        self.timeout = timeout
        self.packets: list[EgressPacket] = []
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> RouterCapture:
        try:
            # In the transport's own directory: vagrant needs its project's.
            self._process = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True, cwd=self.transport.workdir())
        except OSError as err:
            raise CaptureError(f"capture on {self.transport} did not start: {self.argv[0]}: "
                               f"{err.strerror}") from None
        first = _first_line(self._process, self.timeout)
        if first.strip() != egress_capture.READY:
            self._process.kill()
            _, stderr = self._process.communicate()
            detail = (stderr.strip().splitlines() or ["no output"])[-1]
            raise CaptureError(f"capture on {self.transport} did not start: {detail}")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        process = self._process
        assert process is not None
        try:
            stdout, stderr = process.communicate(input="", timeout=self.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            if kind is None:
                raise CaptureError(f"capture on {self.transport}: no report within "
                                   f"{self.timeout:g} s") from None
            return
        if process.returncode != 0:
            if kind is None:
                detail = (stderr.strip().splitlines() or [f"exit {process.returncode}"])[-1]
                raise CaptureError(f"capture on {self.transport}: {detail}")
            return
        self.packets = parse_capture(stdout)


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line ``process`` prints, or "" when it prints none within ``timeout``."""
    lines: list[str] = []
    stream = process.stdout
    assert stream is not None
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""
