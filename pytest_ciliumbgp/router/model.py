"""What the router knows about a LoadBalancer IP: BGP peers and paths, zebra's RIB entry and the
kernel's FIB route, as plain frozen values that compare and print well in assertion messages."""

from __future__ import annotations

from dataclasses import dataclass

ESTABLISHED = "Established"


@dataclass(frozen=True)
class BgpPeer:
    """One BGP neighbor of the router as ``show bgp summary`` lists it."""

    address: str
    remote_as: int
    state: str
    prefixes_received: int
    # Time since the session came up; None while it is not Established (FRR then reports the
    # time since it went down, or "never").
    uptime: str | None

    @property
    def established(self) -> bool:
        return self.state == ESTABLISHED


@dataclass(frozen=True)
class BgpPath:
    """One path the router received for a prefix."""

    prefix: str
    next_hop: str
    as_path: str
    origin: str
    valid: bool
    bestpath: bool
    multipath: bool
    peer_id: str | None
    communities: tuple[str, ...] = ()
    local_pref: int | None = None

    @property
    def is_ecmp_member(self) -> bool:
        """The path is one of the next hops the router installs for the prefix."""
        return self.valid and (self.bestpath or self.multipath)


@dataclass(frozen=True)
class BgpPrefix:
    """A prefix in the router's BGP table with every path it received for it."""

    prefix: str
    paths: tuple[BgpPath, ...]

    @property
    def ecmp_paths(self) -> tuple[BgpPath, ...]:
        return tuple(path for path in self.paths if path.is_ecmp_member)

    @property
    def ecmp_next_hops(self) -> frozenset[str]:
        return frozenset(path.next_hop for path in self.ecmp_paths)

    @property
    def bestpath(self) -> BgpPath | None:
        return next((path for path in self.paths if path.valid and path.bestpath), None)


@dataclass(frozen=True)
class RibNextHop:
    """A next hop of a zebra RIB entry; ``ip`` is None for a directly connected route."""

    ip: str | None
    interface: str | None
    fib: bool
    active: bool


@dataclass(frozen=True)
class RibRoute:
    """Zebra's entry for a prefix (``show ip route <prefix> json``)."""

    prefix: str
    protocol: str
    installed: bool
    next_hops: tuple[RibNextHop, ...]

    @property
    def fib_next_hops(self) -> frozenset[str]:
        """Gateways zebra has pushed to the kernel for this route."""
        return frozenset(hop.ip for hop in self.next_hops if hop.fib and hop.ip)


@dataclass(frozen=True)
class KernelNextHop:
    gateway: str
    dev: str
    weight: int = 1


@dataclass(frozen=True)
class KernelRoute:
    """A route in the kernel FIB (``ip -j route``); ``dst`` always carries its prefix length."""

    dst: str
    next_hops: tuple[KernelNextHop, ...]

    @property
    def gateways(self) -> frozenset[str]:
        return frozenset(hop.gateway for hop in self.next_hops if hop.gateway)
