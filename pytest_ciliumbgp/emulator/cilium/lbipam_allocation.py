"""The allocation decision, computed whole from pools and Services so that it is deterministic
and survives restarts: Services keep the addresses they validly hold, then the others are
served oldest first (creationTimestamp, then namespace and name), each from the lowest free
address of the first matching pool by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .lbipam_pools import Address, Pool
from .lbipam_services import ServiceView

SATISFIED = "satisfied"
NO_POOL = "no_pool"
OUT_OF_IPS = "out_of_ips"
POOL_SELECTOR_MISMATCH = "pool_selector_mismatch"
ALREADY_ALLOCATED = "already_allocated"
ALREADY_ALLOCATED_INCOMPATIBLE = "already_allocated_incompatible_service"

NO_POOL_MESSAGE = "There are no enabled CiliumLoadBalancerIPPools that match this service"


@dataclass(frozen=True)
class Outcome:
    addresses: tuple[Address, ...]
    reason: str
    message: str = ""

    @property
    def satisfied(self) -> bool:
        return self.reason == SATISFIED


@dataclass
class Allocation:
    outcomes: dict[tuple[str, str], Outcome] = field(default_factory=dict)
    holders: dict[Address, list[ServiceView]] = field(default_factory=dict)
    pool_of: dict[Address, str] = field(default_factory=dict)

    def used_in(self, pool: str) -> int:
        return sum(1 for name in self.pool_of.values() if name == pool)

    def take(self, service: ServiceView, picks: list[tuple[Address, Pool]]) -> None:
        for address, pool in picks:
            self.holders.setdefault(address, []).append(service)
            self.pool_of.setdefault(address, pool.name)
        self.outcomes[service.key] = Outcome(tuple(a for a, _ in picks), SATISFIED)

    def refusal(self, service: ServiceView, address: Address) -> Outcome | None:
        """Why ``service`` may not use ``address`` that others hold, or None if it may."""
        others = self.holders.get(address, [])
        if not all(service.same_sharing_key(other) for other in others):
            return Outcome((), ALREADY_ALLOCATED,
                           f"The IP '{address}' is already allocated to another service")
        if not all(service.can_share_with(other) for other in others):
            return Outcome((), ALREADY_ALLOCATED_INCOMPATIBLE,
                           f"The IP '{address}' is already allocated to an incompatible service")
        return None


def allocate(pools: Iterable[Pool], conflicting: set[str], services: Iterable[ServiceView],
             *, use_conflicting: bool = False) -> Allocation:
    """Outcomes for handled Services; pools marked conflicting allocate nothing unless
    ``use_conflicting`` (a fault) says otherwise."""
    usable = [p for p in sorted(pools, key=lambda p: p.name)
              if use_conflicting or p.name not in conflicting]
    order = sorted(services, key=lambda s: (s.created, s.namespace, s.name))
    allocation = Allocation()
    for service in order:
        picks = _still_valid(allocation, usable, service)
        if picks is not None:
            allocation.take(service, picks)
    for service in order:
        if service.key not in allocation.outcomes:
            _serve(allocation, [p for p in usable if not p.disabled], service)
    return allocation


def _still_valid(allocation: Allocation, usable: list[Pool], service: ServiceView,
                 ) -> list[tuple[Address, Pool]] | None:
    # A disabled pool keeps what it gave; a pool that stopped selecting the Service, was
    # deleted or became conflicting takes it back.
    if not service.holds:
        return None
    if service.requested and set(service.holds) != set(service.requested):
        return None
    if not service.requested and sorted(a.version for a in service.holds) != sorted(
            service.families):
        return None
    picks: list[tuple[Address, Pool]] = []
    for address in service.holds:
        pool = next((p for p in usable if p.holds(address)
                     and p.selects(service.name, service.namespace, service.labels)), None)
        if pool is None or allocation.refusal(service, address) is not None:
            return None
        picks.append((address, pool))
    return picks


def _serve(allocation: Allocation, enabled: list[Pool], service: ServiceView) -> None:
    if service.requested:
        _serve_requested(allocation, enabled, service)
        return
    matching = [p for p in enabled if p.selects(service.name, service.namespace, service.labels)]
    picks: list[tuple[Address, Pool]] = []
    for version in service.families:
        family = [p for p in matching if any(r.version == version for r in p.ranges)]
        if not family:
            allocation.outcomes[service.key] = Outcome((), NO_POOL, NO_POOL_MESSAGE)
            return
        pick = _shared_pick(allocation, family, service, version) or _free_pick(
            allocation, family, version)
        if pick is None:
            allocation.outcomes[service.key] = Outcome(
                (), OUT_OF_IPS, "All matching CiliumLoadBalancerIPPools are out of IPs")
            return
        picks.append(pick)
    allocation.take(service, picks)


def _shared_pick(allocation: Allocation, family: list[Pool], service: ServiceView,
                 version: int) -> tuple[Address, Pool] | None:
    if not service.sharing_key:
        return None
    for pool in family:
        for address in sorted((a for a in allocation.holders
                               if a.version == version and pool.holds(a)), key=int):
            if allocation.refusal(service, address) is None:
                return address, pool
    return None


def _free_pick(allocation: Allocation, family: list[Pool], version: int,
               ) -> tuple[Address, Pool] | None:
    used = set(allocation.holders)
    for pool in family:
        address = next(pool.free(version, used), None)
        if address is not None:
            return address, pool
    return None


def _serve_requested(allocation: Allocation, enabled: list[Pool], service: ServiceView) -> None:
    picks: list[tuple[Address, Pool]] = []
    for address in service.requested:
        holding = [p for p in enabled if p.holds(address)]
        pool = next((p for p in holding
                     if p.selects(service.name, service.namespace, service.labels)), None)
        refusal: Outcome | None = None
        if not holding:
            refusal = Outcome((), NO_POOL, f"The requested IP '{address}' is not in any "
                                           "enabled CiliumLoadBalancerIPPool")
        elif pool is None:
            refusal = Outcome((), POOL_SELECTOR_MISMATCH,
                              f"The pool holding the requested IP '{address}' does not select "
                              "this service")
        else:
            refusal = allocation.refusal(service, address)
        if refusal is not None or pool is None:
            allocation.outcomes[service.key] = refusal or Outcome((), NO_POOL, NO_POOL_MESSAGE)
            return
        picks.append((address, pool))
    allocation.take(service, picks)
