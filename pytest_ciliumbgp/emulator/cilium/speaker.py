"""One node's gobgpd, programmed the way Cilium's agent programs its embedded GoBGP: neighbors
with their timers, graceful restart and multihop; announced and withdrawn paths; session state;
stopped and started again when the agent restarts.

Neighbors go through gobgpd's configuration file, reloaded on SIGHUP (gobgpd adds, replaces
and removes peers from the file's diff; the ``gobgp`` CLI cannot set timers or graceful restart).
Paths go through the ``gobgp`` CLI. The global section (ASN, router id) is the lab's and stays.

Graceful restart is negotiated as Cilium does it (``pkg/bgpv1/gobgp/peer.go``): the restart
time, the Notification (N) bit, and the Restart State / Forwarding State bits when the speaker
(re)starts. With the N bit, the Cease NOTIFICATION a stopping agent sends is not a Hard Reset,
so the router keeps the paths, marked stale, until the new session's End-of-RIB (RFC 8538).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import speakers
from ..netns import run_in
from ..processes import LabProcess, start_time_of
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


def neighbor_section(peer: PeerSettings, *, admin_down: bool = False) -> str:
    """gobgpd's TOML for one peer; ``admin_down`` keeps its session from starting until the
    neighbor is enabled."""
    lines = [
        "[[neighbors]]",
        "  [neighbors.config]",
        f'    neighbor-address = "{peer.address}"',
        f"    peer-as = {peer.asn}",
        f'    description = "{peer.name}"',
    ]
    if admin_down:
        lines.append("    admin-down = true")
    lines += [
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
                  f"    restart-time = {peer.restart_time_seconds}",
                  "    notification-enabled = true"]
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


def speaker_config(asn: int, router_id: str, peers: Sequence[PeerSettings], *,
                   admin_down: bool = False) -> str:
    """gobgpd's whole TOML: the lab's global section, then ``peers`` in address order."""
    return global_section(asn, router_id) + "".join(
        "\n" + neighbor_section(p, admin_down=admin_down)
        for p in sorted(peers, key=lambda p: p.address))


class GoBgpSpeaker:
    """The gobgpd of node ``host`` in ``namespace`` whose configuration file is ``config``;
    a gobgpd this object starts is handed to ``record`` (the lab's list of its processes)."""

    def __init__(self, namespace: str, config: Path, asn: int, router_id: str, *,
                 host: str = "", record: Callable[[LabProcess], None] | None = None) -> None:
        self.namespace = namespace
        self.config = config
        self.asn = asn
        self.router_id = router_id
        self.host = host
        self.record = record or (lambda process: None)
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
        self._write_config(peers)
        pid = self.pid()
        if pid is None:
            raise SpeakerError(f"no gobgpd runs in {self.namespace}")
        os.kill(pid, signal.SIGHUP)

    def _write_config(self, peers: Sequence[PeerSettings], *, admin_down: bool = False) -> None:
        partial = self.config.with_suffix(".tmp")
        partial.write_text(speaker_config(self.asn, self.router_id, peers, admin_down=admin_down))
        partial.replace(self.config)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop gobgpd the way a cilium-agent that goes away stops its BGP server: SIGTERM, on
        which it sends every peer a Cease (Peer De-configured) NOTIFICATION. A router that
        negotiated graceful restart and the N bit keeps the paths, marked stale; without
        graceful restart it drops them at once."""
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _ended(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _ended(pid, timeout)
        self._pid = None

    def start(self, peers: Sequence[PeerSettings], routes: Iterable[Route]) -> LabProcess:
        """Start a fresh gobgpd as a restarting agent does: a restarting speaker (R and F bits
        for peers with graceful restart), ``routes`` announced before any session may come up
        (its peers start administratively down and are enabled after), since the router takes
        the End-of-RIB of a new session as the complete table and drops every stale path the
        speaker did not send again."""
        self._write_config(peers, admin_down=True)
        process = speakers.launch(self.host, self.namespace, self.config, self.record,
                                  restarting=True)
        self._pid = process.pid
        for route in routes:
            self.announce(route)
        for peer in peers:
            self._gobgp("neighbor", peer.address, "enable")
        # The file says what runs from now on; gobgpd reads it again only on the next reload.
        self._write_config(peers)
        return process

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


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a gobgpd this daemon started and that ended is our child, reaped
    here so that it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return start_time_of(pid) is not None


def _ended(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end."""
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _is_gobgpd(pid: int) -> bool:
    try:
        named = Path(f"/proc/{pid}/comm").read_text().strip() == "gobgpd"
    except OSError:
        return False
    return named and _alive(pid)
