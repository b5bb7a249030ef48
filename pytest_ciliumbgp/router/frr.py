"""Read FRR's view of the LoadBalancer IPs through ``vtysh ... json``.

The ``parse_*`` functions take the decoded JSON and are pure, so they are tested against output
captured from a real FRR (tests/data/frr). :class:`FrrRouter` runs the commands on the router
host through a :class:`~pytest_ciliumbgp.transport.Transport`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.router.kernel import parse_kernel_routes
from pytest_ciliumbgp.router.model import (
    ESTABLISHED,
    BgpPath,
    BgpPeer,
    BgpPrefix,
    KernelRoute,
    RibNextHop,
    RibRoute,
)
from pytest_ciliumbgp.transport import Transport, TransportError

SHOW_BGP_SUMMARY = "show bgp summary json"
SHOW_BGP_TABLE = "show ip bgp json"

__all__ = [
    "FrrRouter",
    "RouterError",
    "parse_bgp_prefix",
    "parse_bgp_summary",
    "parse_bgp_table",
    "parse_rib_route",
]


@contextmanager
def _reading(command: str) -> Iterator[None]:
    """Turn a surprise in the document's shape into a RouterError that names the command."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        detail = f"missing key {error}" if isinstance(error, KeyError) else str(error)
        raise RouterError(f"{command}: unexpected output ({detail})") from error


def _mapping(doc: Any, command: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise RouterError(f"{command}: expected a JSON object, got {type(doc).__name__}")
    return doc


def _normalise_prefix(prefix: str) -> str:
    """``172.16.1.1`` → ``172.16.1.1/32``; FRR and the kernel key host routes either way."""
    return str(ipaddress.ip_network(prefix, strict=False))


def parse_bgp_summary(doc: Any) -> dict[str, BgpPeer]:
    """IPv4 unicast peers of ``show bgp summary json``, keyed by peer address."""
    summary = _mapping(doc, SHOW_BGP_SUMMARY)
    with _reading(SHOW_BGP_SUMMARY):
        # No "ipv4Unicast" when bgpd runs without an IPv4 neighbor or without ``router bgp``.
        peers: Mapping[str, Any] = (summary.get("ipv4Unicast") or {}).get("peers") or {}
        return {address: _peer(address, peer) for address, peer in peers.items()}


def _peer(address: str, peer: Mapping[str, Any]) -> BgpPeer:
    state = str(peer["state"])
    return BgpPeer(
        address=address,
        remote_as=int(peer.get("remoteAs") or 0),
        state=state,
        prefixes_received=int(peer.get("pfxRcd") or 0),
        uptime=peer.get("peerUptime") if state == ESTABLISHED else None,
    )


def _is_best(value: Any) -> bool:
    # ``show ip bgp json`` says ``"bestpath": true``; the per-prefix view says
    # ``"bestpath": {"overall": true, "selectionReason": ...}``.
    if isinstance(value, Mapping):
        return bool(value.get("overall"))
    return bool(value)


def _next_hop(path: Mapping[str, Any]) -> str:
    hops: Sequence[Mapping[str, Any]] = path.get("nexthops") or ()
    used = [hop for hop in hops if hop.get("used")]
    chosen = (used or list(hops) or [{}])[0]
    return str(chosen.get("ip", ""))


def _communities(path: Mapping[str, Any]) -> tuple[str, ...]:
    community = path.get("community")
    if not community:
        return ()
    if isinstance(community, Mapping):
        listed = community.get("list")
        return tuple(listed) if listed else tuple(str(community.get("string", "")).split())
    return tuple(str(community).split())


def _local_pref(path: Mapping[str, Any]) -> int | None:
    # FRR writes "locPrf" in both views and only when the path carries LOCAL_PREF.
    value = path.get("locPrf", path.get("localPref"))
    return None if value is None else int(value)


def _table_path(prefix: str, path: Mapping[str, Any]) -> BgpPath:
    return BgpPath(
        prefix=prefix,
        next_hop=_next_hop(path),
        as_path=str(path.get("path", "")),
        origin=str(path.get("origin", "")),
        valid=bool(path.get("valid")),
        bestpath=_is_best(path.get("bestpath")),
        multipath=bool(path.get("multipath")),
        peer_id=path.get("peerId"),
        communities=_communities(path),
        local_pref=_local_pref(path),
    )


def _detail_path(prefix: str, path: Mapping[str, Any]) -> BgpPath:
    as_path = path.get("aspath")
    peer = path.get("peer") or {}
    return BgpPath(
        prefix=prefix,
        next_hop=_next_hop(path),
        as_path=str(as_path.get("string", "")) if isinstance(as_path, Mapping) else "",
        origin=str(path.get("origin", "")),
        valid=bool(path.get("valid")),
        bestpath=_is_best(path.get("bestpath")),
        multipath=bool(path.get("multipath")),
        peer_id=peer.get("peerId"),
        communities=_communities(path),
        local_pref=_local_pref(path),
    )


def parse_bgp_table(doc: Any) -> dict[str, BgpPrefix]:
    """Every prefix of ``show ip bgp json`` with its paths, keyed by prefix."""
    table = _mapping(doc, SHOW_BGP_TABLE)
    with _reading(SHOW_BGP_TABLE):
        routes: Mapping[str, Sequence[Mapping[str, Any]]] = table.get("routes") or {}
        return {
            prefix: BgpPrefix(prefix, tuple(_table_path(prefix, path) for path in paths))
            for prefix, paths in routes.items()
        }


def parse_bgp_prefix(doc: Any) -> BgpPrefix | None:
    """``show bgp ipv4 unicast <prefix> json``; None when the router has no path (``{}``)."""
    entry = _mapping(doc, "show bgp ipv4 unicast <prefix> json")
    if not entry.get("paths"):
        return None
    with _reading(f"show bgp ipv4 unicast {entry.get('prefix', '<prefix>')} json"):
        prefix = str(entry["prefix"])
        return BgpPrefix(prefix, tuple(_detail_path(prefix, path) for path in entry["paths"]))


def parse_rib_route(doc: Any, prefix: str) -> RibRoute | None:
    """Zebra's selected entry for ``prefix`` in ``show ip route <prefix> json``, or None.

    Without a route FRR answers ``{}`` for an exact prefix and, for an address, may answer with
    an empty list under another key (``{"0.0.0.0/0": []}``); both mean no route.
    """
    command = f"show ip route {prefix} json"
    entries = _mapping(doc, command)
    with _reading(command):
        candidates: Sequence[Mapping[str, Any]] = entries.get(_normalise_prefix(prefix)) or ()
        if not candidates:
            return None
        entry = next((e for e in candidates if e.get("selected")), candidates[0])
        return RibRoute(
            prefix=str(entry.get("prefix", _normalise_prefix(prefix))),
            protocol=str(entry["protocol"]),
            installed=bool(entry.get("installed")),
            next_hops=tuple(_rib_next_hop(hop) for hop in entry.get("nexthops") or ()),
        )


def _rib_next_hop(hop: Mapping[str, Any]) -> RibNextHop:
    return RibNextHop(
        ip=hop.get("ip"),
        interface=hop.get("interfaceName"),
        fib=bool(hop.get("fib")),
        active=bool(hop.get("active")),
    )


class FrrRouter:
    """FRR on the router host, read through ``vtysh`` and ``ip`` over a transport.

    ``vtysh`` is the argv prefix that reaches the right FRR instance, e.g.
    ``("vtysh", "-N", "lab")`` for a pathspace or ``("sudo", "vtysh")``.
    """

    def __init__(self, transport: Transport, vtysh: Sequence[str] = ("vtysh",)) -> None:
        self.transport = transport
        self.vtysh = tuple(vtysh)

    def __repr__(self) -> str:
        return f"FrrRouter({self.transport})"

    def vtysh_text(self, command: str) -> str:
        return self._run([*self.vtysh, "-c", command], command)

    def vtysh_json(self, command: str) -> Any:
        return self._decode(self.vtysh_text(command), command)

    def summary_text(self) -> str:
        """``show bgp summary`` as an operator reads it, for attaching to reports."""
        return self.vtysh_text("show bgp summary")

    def bgp_peers(self) -> dict[str, BgpPeer]:
        return parse_bgp_summary(self.vtysh_json(SHOW_BGP_SUMMARY))

    def bgp_routes(self) -> dict[str, BgpPrefix]:
        return parse_bgp_table(self.vtysh_json(SHOW_BGP_TABLE))

    def bgp_prefix(self, prefix: str) -> BgpPrefix | None:
        return parse_bgp_prefix(
            self.vtysh_json(f"show bgp ipv4 unicast {_normalise_prefix(prefix)} json")
        )

    def rib_route(self, prefix: str) -> RibRoute | None:
        command = f"show ip route {_normalise_prefix(prefix)} json"
        return parse_rib_route(self.vtysh_json(command), prefix)

    def kernel_route(self, prefix: str) -> KernelRoute | None:
        """The kernel FIB's route for exactly ``prefix`` in the main table, or None."""
        wanted = _normalise_prefix(prefix)
        command = ["ip", "-j", "route", "show", wanted]
        text = self._run(command, " ".join(command))
        routes = parse_kernel_routes(self._decode(text, " ".join(command)) if text.strip() else [])
        return next((route for route in routes if route.dst == wanted), None)

    def _run(self, argv: Sequence[str], command: str) -> str:
        try:
            result = self.transport.run(argv, timeout=30.0)
        except TransportError as error:
            raise RouterError(f"{command} on {self.transport}: {error}") from error
        if not result.ok:
            reason = _failure_reason(result.stdout, result.stderr)
            raise RouterError(f"{command} on {self.transport}: exited {result.rc}: {reason}")
        return result.stdout

    def _decode(self, text: str, command: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            first = text.strip().splitlines()[0] if text.strip() else "empty output"
            raise RouterError(
                f"{command} on {self.transport}: not JSON ({error.msg}): {first[:120]}"
            ) from error


def _failure_reason(stdout: str, stderr: str) -> str:
    # vtysh prints its own errors ("% Unknown command: ...") on stdout, while stderr may only
    # hold noise such as a missing vtysh.conf.
    said = [line.strip() for line in stdout.splitlines() if line.strip()]
    complaints = [line for line in said if line.startswith("%")]
    warned = [line.strip() for line in stderr.splitlines() if line.strip()]
    return (complaints or warned or said or ["no output"])[-1]
