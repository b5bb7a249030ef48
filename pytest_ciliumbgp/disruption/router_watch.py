"""The router's side of an agent restart: whether a node's BGP session negotiated graceful
restart, and what the router did with the node's path to a prefix while the node's speaker was
away — kept it (marked stale, RFC 4724) or dropped it — in BGP and in its kernel FIB.

:class:`PathWatch` polls the router in a thread of its own for as long as its ``with`` block
lasts, so the test can restart the agent meanwhile; its :class:`Timeline` answers afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.transport import TransportError

POLL_S = 0.2


@dataclass(frozen=True)
class Session:
    """The router's BGP session with one neighbor."""

    address: str
    state: str
    #: both sides advertised the graceful restart capability
    graceful_restart: bool

    @property
    def established(self) -> bool:
        return self.state == "Established"


def parse_session(doc: Any, address: str) -> Session | None:
    """``show bgp neighbors <address> json``; None when the router has no such neighbor."""
    neighbor = doc.get(address) if isinstance(doc, Mapping) else None
    if not isinstance(neighbor, Mapping):
        return None
    capabilities = neighbor.get("neighborCapabilities") or {}
    return Session(address, str(neighbor.get("bgpState", "")),
                   capabilities.get("gracefulRestart") == "advertisedAndReceived")


def session(router: FrrRouter, address: str) -> Session | None:
    return parse_session(router.vtysh_json(f"show bgp neighbors {address} json"), address)


def parse_paths(doc: Any) -> dict[str, bool]:
    """``show bgp ipv4 unicast <prefix> json``: each path's next hop and whether it is stale."""
    paths = doc.get("paths") if isinstance(doc, Mapping) else None
    found: dict[str, bool] = {}
    for path in paths or []:
        hops = path.get("nexthops") or []
        hop = hops[0].get("ip") if hops else (path.get("peer") or {}).get("peerId")
        if hop:
            found[str(hop)] = bool(path.get("stale"))
    return found


@dataclass(frozen=True)
class Sample:
    """The router at one moment: BGP paths (next hop -> stale) and FIB next hops; ``error``
    when it did not answer."""

    at_s: float
    paths: Mapping[str, bool]
    fib: frozenset[str]
    error: str = ""


@dataclass(frozen=True)
class Timeline:
    """Samples of one prefix from the start of a watch to its end."""

    prefix: str
    samples: tuple[Sample, ...]

    def answered(self) -> Iterator[Sample]:
        return (sample for sample in self.samples if not sample.error)

    def first_without(self, hop: str) -> Sample | None:
        """The first moment ``hop``'s path was missing from BGP or the FIB."""
        return next((s for s in self.answered() if hop not in s.paths or hop not in s.fib),
                    None)

    def ever_stale(self, hop: str) -> bool:
        return any(s.paths.get(hop) for s in self.answered())

    def missing_span(self, hop: str) -> tuple[float, float] | None:
        """From the first moment ``hop``'s path was missing from BGP to the first moment after
        it that it was back; None when it never went (the end of the watch when it never came
        back)."""
        gone: float | None = None
        for sample in self.answered():
            if gone is None and hop not in sample.paths:
                gone = sample.at_s
            elif gone is not None and hop in sample.paths:
                return gone, sample.at_s
        return None if gone is None else (gone, self.samples[-1].at_s)

    def as_document(self, names: Mapping[str, str]) -> list[dict[str, Any]]:
        """The samples with next hops named by node, for the report."""
        def name(hop: str) -> str:
            return names.get(hop, hop)
        return [{"at_s": round(s.at_s, 2),
                 "bgp": {name(hop): "stale" if stale else "valid"
                         for hop, stale in sorted(s.paths.items())},
                 "fib": sorted(name(hop) for hop in s.fib), **({"error": s.error}
                                                               if s.error else {})}
                for s in self.samples]


class PathWatch:
    """Samples ``prefix`` on ``router`` every :data:`POLL_S` seconds in a thread, from the
    ``with`` block's start to its end."""

    def __init__(self, router: FrrRouter, prefix: str) -> None:
        self.router = router
        self.prefix = prefix
        self._samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True,
                                        name=f"path-watch-{prefix}")
        self._began = 0.0

    def __enter__(self) -> PathWatch:
        self._began = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def elapsed(self) -> float:
        """Seconds since the watch began, the time base of its samples."""
        return time.monotonic() - self._began

    def timeline(self) -> Timeline:
        """What was seen so far (all of it once the block ended)."""
        return Timeline(self.prefix, tuple(self._samples))

    def _poll(self) -> None:
        while True:
            at = time.monotonic() - self._began
            try:
                paths = parse_paths(self.router.vtysh_json(
                    f"show bgp ipv4 unicast {self.prefix} json"))
                route = self.router.kernel_route(self.prefix)
                fib = route.gateways if route is not None else frozenset()
                self._samples.append(Sample(at, paths, fib))
            except (RouterError, TransportError) as error:
                self._samples.append(Sample(at, {}, frozenset(), str(error)))
            if self._stop.wait(POLL_S):
                return
