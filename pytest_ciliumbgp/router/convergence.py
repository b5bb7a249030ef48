"""Wait for the router to converge on what a test expects — the set of next hops it holds for a
prefix in BGP and in the kernel FIB — and say how long that took (≤ 100 ms resolution)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pytest_ciliumbgp.kube.waits import wait_until
from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.router.model import BgpPrefix, KernelRoute

POLL_S = 0.1


@dataclass(frozen=True)
class Converged:
    prefix: str
    bgp: BgpPrefix | None
    fib: KernelRoute | None
    seconds: float

    @property
    def bgp_next_hops(self) -> frozenset[str]:
        return self.bgp.ecmp_next_hops if self.bgp else frozenset()

    @property
    def fib_next_hops(self) -> frozenset[str]:
        return self.fib.gateways if self.fib else frozenset()


def _show(state: Converged | None) -> str:
    if state is None:
        return "nothing (router not answering)"
    return (f"BGP next hops {sorted(state.bgp_next_hops) or 'none'}, "
            f"FIB next hops {sorted(state.fib_next_hops) or 'none'}")


def wait_for_next_hops(router: FrrRouter, prefix: str, expected: frozenset[str],
                       timeout: float) -> Converged:
    """Until both the BGP ECMP set and the kernel FIB of ``prefix`` are exactly ``expected``
    (empty: the prefix is gone from both). Raises ``WaitTimeout`` showing the last state."""
    began = time.monotonic()

    def probe() -> tuple[bool, Converged | None]:
        try:
            bgp, fib = router.bgp_prefix(prefix), router.kernel_route(prefix)
        except RouterError:
            return False, None
        state = Converged(prefix, bgp, fib, time.monotonic() - began)
        return state.bgp_next_hops == expected and state.fib_next_hops == expected, state

    words = ", ".join(sorted(expected)) if expected else "none (withdrawn)"
    seen = wait_until(f"router next hops for {prefix} are {words}", probe, timeout, POLL_S,
                      show=_show)
    assert seen is not None
    return seen

