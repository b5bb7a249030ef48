"""One node's gobgpd, programmed the way Cilium's agent programs its embedded GoBGP: neighbors
with their timers, graceful restart and multihop; announced and withdrawn paths; session state.

Neighbors go through gobgpd's configuration file, reloaded on SIGHUP (gobgpd adds, replaces
and removes peers from the file's diff; the ``gobgp`` CLI cannot set timers or graceful restart).
Paths go through the ``gobgp`` CLI. The global section (ASN, router id) is the lab's and stays.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..netns import run_in
from ..speakers import global_section, gobgp_argv
from ..topology import namespace_pids
from .bgp_paths import PeerSettings, Route

GOBGP = gobgp_argv()

#: gobgp's numeric session states, as Cilium reports them in CiliumBGPNodeConfig status
SESSION_STATES = {0: "unknown", 1: "idle", 2: "connect", 3: "active", 4: "open_sent",
                  5: "open_confirm", 6: "established"}


class SpeakerError(RuntimeError):
    pass


@dataclass(frozen=True)
class NeighborState:
    address: str
    asn: int
    state: str
    established_since: int | None  # epoch seconds
    hold_time: int | None
    keepalive: int | None
    received: int


def neighbor_section(peer: PeerSettings) -> str:
    lines = [
        "[[neighbors]]",
        "  [neighbors.config]",
        f'    neighbor-address = "{peer.address}"',
        f"    peer-as = {peer.asn}",
        f'    description = "{peer.name}"',
        "  [neighbors.transport.config]",
        f"    remote-port = {peer.port}",
        "  [neighbors.timers.config]",
        f"    connect-retry = {peer.connect_retry_seconds}",
        f"    hold-time = {peer.hold_time_seconds}",
        f"    keepalive-interval = {peer.keepalive_seconds}",
    ]
    if peer.ebgp_multihop > 1:
        lines += ["  [neighbors.ebgp-multihop.config]", "    enabled = true",
                  f"    multihop-ttl = {peer.ebgp_multihop}"]
    if peer.graceful_restart:
        lines += ["  [neighbors.graceful-restart.config]", "    enabled = true",
                  f"    restart-time = {peer.restart_time_seconds}"]
    lines += ["  [[neighbors.afi-safis]]", "    [neighbors.afi-safis.config]",
              '      afi-safi-name = "ipv4-unicast"']
    if peer.graceful_restart:
        lines += ["    [neighbors.afi-safis.mp-graceful-restart.config]", "      enabled = true"]
    return "\n".join(lines) + "\n"


def route_argv(route: Route) -> list[str]:
    argv = [*GOBGP, "global", "rib", "add", "-a", "ipv4", str(route.prefix), "origin", "igp"]
    if route.communities:
        argv += ["community", ",".join(route.communities)]
    if route.large_communities:
        argv += ["large-community", ",".join(route.large_communities)]
    if route.local_preference is not None:
        argv += ["local-pref", str(route.local_preference)]
    return argv


class GoBgpSpeaker:
    """The gobgpd in ``namespace`` whose configuration file is ``config``."""

    def __init__(self, namespace: str, config: Path, asn: int, router_id: str) -> None:
        self.namespace = namespace
        self.config = config
        self.asn = asn
        self.router_id = router_id
        self._pid: int | None = None

    def _gobgp(self, *args: str) -> str:
        return run_in(self.namespace, [*GOBGP, *args]).stdout

    def pid(self) -> int | None:
        """gobgpd's pid; the namespace is searched only when the one known last has gone (the
        agent asks every pass, and a restarted speaker gets a new pid)."""
        if self._pid is not None and _is_gobgpd(self._pid):
            return self._pid
        self._pid = next((pid for pid in namespace_pids(self.namespace) if _is_gobgpd(pid)),
                         None)
        return self._pid

    def running(self) -> bool:
        return self.pid() is not None

    def configure(self, peers: Sequence[PeerSettings]) -> None:
        """Make the speaker's neighbors exactly ``peers``."""
        text = global_section(self.asn, self.router_id) + "".join(
            "\n" + neighbor_section(p) for p in sorted(peers, key=lambda p: p.address))
        partial = self.config.with_suffix(".tmp")
        partial.write_text(text)
        partial.replace(self.config)
        pid = self.pid()
        if pid is None:
            raise SpeakerError(f"no gobgpd runs in {self.namespace}")
        os.kill(pid, signal.SIGHUP)

    def reset(self, peer: PeerSettings, timeout: float = 3.0) -> None:
        """Restart ``peer``'s session once gobgpd has taken its new settings (a reload applies
        them asynchronously), so that new timers or capabilities are negotiated, as Cilium's
        agent hard-resets a peer whose timers or graceful restart change."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._configured_like(peer):
            time.sleep(0.05)
        self._gobgp("neighbor", peer.address, "reset")

    def _neighbor_documents(self) -> list[dict[str, Any]]:
        text = self._gobgp("neighbor", "-j").strip()
        documents: list[dict[str, Any]] = json.loads(text) if text else []
        return documents

    def _configured_like(self, peer: PeerSettings) -> bool:
        for found in self._neighbor_documents():
            if (found.get("conf") or {}).get("neighbor_address") != peer.address:
                continue
            timers = (found.get("timers") or {}).get("config") or {}
            restart = found.get("graceful_restart") or {}
            return (timers.get("hold_time") == peer.hold_time_seconds
                    and timers.get("keepalive_interval") == peer.keepalive_seconds
                    and bool(restart.get("enabled")) == peer.graceful_restart)
        return False

    def announced(self) -> set[ipaddress.IPv4Network]:
        """Prefixes this speaker originates (paths learned from peers are left out)."""
        text = self._gobgp("global", "rib", "-a", "ipv4", "-j").strip()
        table: dict[str, list[dict[str, Any]]] = json.loads(text) if text else {}
        return {ipaddress.IPv4Network(prefix) for prefix, paths in table.items()
                if any("neighbor-ip" not in p for p in paths)}

    def announce(self, route: Route) -> None:
        run_in(self.namespace, route_argv(route))

    def withdraw(self, prefixes: Iterable[ipaddress.IPv4Network]) -> None:
        for prefix in prefixes:
            self._gobgp("global", "rib", "del", "-a", "ipv4", str(prefix))

    def neighbors(self) -> list[NeighborState]:
        found = []
        for peer in self._neighbor_documents():
            state, timers = peer.get("state") or {}, (peer.get("timers") or {}).get("state") or {}
            code = int(state.get("session_state") or 0)
            uptime = (timers.get("uptime") or {}).get("seconds")
            received = sum(int((family.get("state") or {}).get("received") or 0)
                           for family in peer.get("afi_safis") or [])
            found.append(NeighborState(
                address=(peer.get("conf") or {}).get("neighbor_address", ""),
                asn=int((peer.get("conf") or {}).get("peer_asn") or 0),
                state=SESSION_STATES.get(code, "unknown"),
                established_since=int(uptime) if code == 6 and uptime else None,
                hold_time=timers.get("negotiated_hold_time"),
                keepalive=timers.get("keepalive_interval"),
                received=received,
            ))
        return found


def _is_gobgpd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "gobgpd"
    except OSError:
        return False
