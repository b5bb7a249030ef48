"""Send crafted TCP SYNs of given flows from this host (the client behind the router).

Shipped to the client host and run there by its python3 (see ``shipping``), so it imports only
the standard library and scapy and keeps to Python 3.8. It reads the request as JSON on stdin::

    {"flows": [["10.10.1.100", 20001, "172.16.1.1", 80]], "packets_per_flow": 3}

and prints ``{"sent": <packets>}``. The packets go out round by round (every flow once, then
again), so that a flow's packets are spread over the whole send. Nothing waits for answers: the
nodes answer the SYNs and this host's kernel resets them, which is fine.
"""

from __future__ import annotations

import json
import sys
from typing import Any

#: What a host without scapy says, on stderr, with this exit code.
NO_SCAPY_EXIT = 3
#: First sequence number; round r of a flow uses FIRST_SEQUENCE + r.
FIRST_SEQUENCE = 1_000_000


def packets(request: dict[str, Any]) -> list[Any]:
    """The SYNs to send, round by round."""
    from scapy.layers.inet import IP, TCP

    flows = [(str(src), int(sport), str(dst), int(dport))
             for src, sport, dst, dport in request["flows"]]
    rounds = int(request.get("packets_per_flow", 1))
    return [IP(src=src, dst=dst)
            / TCP(sport=sport, dport=dport, flags="S", seq=FIRST_SEQUENCE + round_)
            for round_ in range(rounds) for src, sport, dst, dport in flows]


def main() -> int:
    try:
        from scapy.sendrecv import send
    except ImportError:
        print(f"scapy is not installed for {sys.executable} on this host "
              "(Debian/Ubuntu: apt install python3-scapy)", file=sys.stderr)
        return NO_SCAPY_EXIT
    crafted = packets(json.load(sys.stdin))
    send(crafted, verbose=False)
    print(json.dumps({"sent": len(crafted)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
