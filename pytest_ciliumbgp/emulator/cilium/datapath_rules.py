"""One node's load-balancing datapath as an nftables ruleset: what Cilium's kube-proxy
replacement does in eBPF (default SNAT mode), written for the kernel's netfilter.

    table ip cbgp_lb
      set local_backends   backends on this node: traffic to them keeps the client's address
      chain no_backend     filter, prerouting, before DNAT: new connections to a frontend
                           without a usable backend here are dropped
      chain prerouting     nat, dstnat: frontend -> backend, picked at random per connection;
                           external traffic is tagged with its traffic policy in the ct mark
      chain postrouting    nat, srcnat: Cluster traffic to a backend on another node leaves
                           with the node's address, so the reply comes back through this node

Conntrack keeps every connection on the backend and NAT it started with, so rules may be
replaced at any time (``ruleset`` replaces the table in one transaction) without breaking
established connections. Nothing here touches the system: the text is applied elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

TABLE = "cbgp_lb"
CLUSTER = "Cluster"
LOCAL = "Local"
# ct mark of connections that came in from outside, by the Service's externalTrafficPolicy.
MARKS = {CLUSTER: 0x1, LOCAL: 0x2}
PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


@dataclass(frozen=True, order=True)
class Backend:
    address: str
    port: int
    #: on the node the ruleset is for
    local: bool


@dataclass(frozen=True, order=True)
class Frontend:
    """One address:port/protocol of a Service and the backends this node may send it to."""

    address: str
    protocol: str  # TCP, UDP or SCTP
    port: int
    #: "namespace/name:port-name", for the rule's comment
    service: str
    #: the traffic policy that chose ``backends`` (external or internal, by the address)
    policy: str
    #: LB IPs and externalIPs take external traffic; a ClusterIP is reached from pods
    external: bool
    backends: tuple[Backend, ...]


@dataclass(frozen=True)
class SnatFaults:
    """Regressions that SNAT connections Cilium leaves alone."""

    local_backend_under_cluster: bool = False
    under_local: bool = False


def _match(frontend: Frontend) -> str:
    return (f"ip daddr {frontend.address} {PROTOCOLS[frontend.protocol]} dport {frontend.port}")


def _comment(frontend: Frontend) -> str:
    return f'comment "{frontend.service}"'


def _dnat(frontend: Frontend) -> str:
    backends = sorted(frontend.backends)
    if len(backends) == 1:
        return f"dnat ip to {backends[0].address}:{backends[0].port}"
    choices = ", ".join(f"{index} : {backend.address} . {backend.port}"
                        for index, backend in enumerate(backends))
    return f"dnat ip to numgen random mod {len(backends)} map {{ {choices} }}"


def dnat_rule(frontend: Frontend) -> str:
    mark = f"ct mark set {MARKS[frontend.policy]:#x} " if frontend.external else ""
    return f"{_match(frontend)} {mark}{_dnat(frontend)} {_comment(frontend)}"


def drop_rule(frontend: Frontend) -> str:
    return f"{_match(frontend)} ct state new drop {_comment(frontend)}"


def snat_rules(node_address: str, faults: SnatFaults) -> list[str]:
    cluster = f"ct mark {MARKS[CLUSTER]:#x}"
    remote_only = "" if faults.local_backend_under_cluster else " ip daddr != @local_backends"
    rules = [f"{cluster}{remote_only} snat ip to {node_address}"]
    if faults.under_local:
        rules.append(f"ct mark {MARKS[LOCAL]:#x} snat ip to {node_address}")
    return rules


def _chain(name: str, hook: str, rules: Iterable[str]) -> list[str]:
    return [f"\tchain {name} {{", f"\t\t{hook}", *(f"\t\t{rule}" for rule in rules), "\t}"]


def ruleset(node_address: str, frontends: Iterable[Frontend],
            faults: SnatFaults | None = None) -> str:
    """``nft -f`` input that replaces the table with this node's rules in one transaction."""
    ordered = sorted(set(frontends))
    served = [f for f in ordered if f.backends]
    local = sorted({b.address for f in served for b in f.backends if b.local})
    elements = [f"\t\telements = {{ {', '.join(local)} }}"] if local else []
    lines = [
        f"add table ip {TABLE}",
        f"delete table ip {TABLE}",
        f"table ip {TABLE} {{",
        "\tset local_backends {", "\t\ttype ipv4_addr", *elements, "\t}",
        *_chain("no_backend", "type filter hook prerouting priority dstnat - 10; policy accept;",
                (drop_rule(f) for f in ordered if not f.backends)),
        *_chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;",
                (dnat_rule(f) for f in served)),
        *_chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;",
                snat_rules(node_address, faults or SnatFaults())),
        "}",
    ]
    return "\n".join(lines) + "\n"


def removal() -> str:
    """``nft -f`` input that removes the table, whether it exists or not."""
    return f"add table ip {TABLE}\ndelete table ip {TABLE}\n"
