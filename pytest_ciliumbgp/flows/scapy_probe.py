"""Crafted TCP SYN flows from a client host behind the router, so that the router forwards them
and hashes them the way it hashes real clients (packets the router originates itself may be
hashed on other keys).

Run on the client host with python3 and scapy; it reads the request as JSON on stdin::

    echo '{"flows": [["10.10.1.100", 20001, "172.16.1.1", 80]], "packets_per_flow": 3}' \\
        | python3 -m pytest_ciliumbgp.flows.scapy_probe

and prints ``{"sent": <packets>}``. The packets are sent round by round (every flow once, then
again), so that a flow's packets are spread over the whole send. Nothing waits for answers:
the nodes answer the SYNs and the client's kernel resets them, which is fine.

:func:`send_syn_flows` does the same from the test host, through the client's transport.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.transport import Transport, TransportError

MODULE = "pytest_ciliumbgp.flows.scapy_probe"


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
                   python: str = sys.executable, timeout: float = 60.0) -> int:
    """Send ``packets_per_flow`` SYNs of every flow from the host behind ``transport``; returns
    how many packets left the client."""
    argv = [python, "-m", MODULE]
    try:
        result = transport.run(argv, input=probe_request(flows, packets_per_flow),
                               timeout=timeout)
    except TransportError as err:
        raise FlowProbeError(f"scapy probe on {transport}: {err}") from None
    if result.rc != 0:
        detail = (result.stderr.strip().splitlines() or [f"exit {result.rc}"])[-1]
        raise FlowProbeError(f"scapy probe on {transport}: {detail}")
    return int(json.loads(result.stdout)["sent"])


def _send(request: dict[str, Any]) -> int:
    # scapy is imported here, on the client host, so the test host never needs it to import us
    from scapy.layers.inet import IP, TCP
    from scapy.sendrecv import send

    flows = [Flow.from_list(values) for values in request["flows"]]
    rounds = int(request.get("packets_per_flow", 1))
    packets = [IP(src=flow.src, dst=flow.dst)
               / TCP(sport=flow.sport, dport=flow.dport, flags="S", seq=1_000_000 + round_)
               for round_ in range(rounds) for flow in flows]
    send(packets, verbose=False)
    return len(packets)


def main() -> int:
    sent = _send(json.load(sys.stdin))
    print(json.dumps({"sent": sent}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
