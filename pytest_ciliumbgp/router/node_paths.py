"""Expectations about which nodes the router holds a LoadBalancer IP from, stated in node names:
that it converges on a set of nodes (none: withdrawn) within a budget, or that it keeps that set
for a while (a withdrawal that must *not* happen is only shown by watching).

The checks raise ``AssertionError`` with the operator's message (expected nodes and why, what
the router has in BGP and in its FIB) and hide their own frames from pytest's traceback, so a
test calls them like an ``assert``. Each attaches the timing and the router's view of the prefix
to the report at the moment it decides.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube.errors import WaitTimeout
from pytest_ciliumbgp.router.convergence import POLL_S, Converged, wait_for_next_hops
from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.transport import TransportError


def stays_present(router: FrrRouter, prefix: str, expected: frozenset[str],
                  seconds: float) -> Converged | None:
    """Watch ``prefix`` for ``seconds``: None when both its BGP ECMP set and its FIB next hops
    were ``expected`` all along, else the first state that differed."""
    began = time.monotonic()
    while True:
        bgp, fib = router.bgp_prefix(prefix), router.kernel_route(prefix)
        state = Converged(prefix, bgp, fib, time.monotonic() - began)
        if state.bgp_next_hops != expected or state.fib_next_hops != expected:
            return state
        if state.seconds >= seconds:
            return None
        time.sleep(POLL_S)


@dataclass(frozen=True)
class NodePaths:
    """The router's paths to LB IPs, checked against nodes of the inventory."""

    router: FrrRouter
    inventory: Inventory
    #: how long the router may take to follow a change (the lab converges in < 1 s)
    budget: float

    def addresses(self, nodes: Iterable[str]) -> frozenset[str]:
        wanted = set(nodes)
        unknown = wanted - {node.name for node in self.inventory.nodes}
        if unknown:
            raise ValueError(f"not nodes of inventory {self.inventory.name}: {sorted(unknown)}")
        return frozenset(str(n.address) for n in self.inventory.nodes if n.name in wanted)

    def names(self, addresses: Iterable[str]) -> list[str]:
        """Node names for next-hop addresses (an address that is no node stays as it is)."""
        found = []
        for address in addresses:
            node = self.inventory.node_by_address(address)
            found.append(node.name if node else address)
        return sorted(found)

    def converge(self, prefix: str, nodes: Iterable[str], why: str, *,
                 since: float | None = None) -> float:
        """Wait until the router holds ``prefix`` from exactly ``nodes`` (none: withdrawn) in
        BGP and its FIB; return the seconds it took, counted from ``since`` (a
        ``time.monotonic()`` taken before the change) when given."""
        __tracebackhide__ = True
        expected = sorted(nodes)
        began = time.monotonic()
        start = began if since is None else since
        goal = f"from {expected}" if expected else "withdrawn"
        try:
            converged = wait_for_next_hops(self.router, prefix, self.addresses(expected),
                                           self.budget)
        except WaitTimeout as timeout:
            self._attach_view(prefix)
            seen = timeout.last_state
            raise AssertionError(
                f"{prefix} next hops: expected {expected or 'none'} ({why}) within "
                f"{self.budget:g} s, router has {self._render(seen)}") from None
        seconds = converged.seconds + (began - start)
        report.attach_text(f"convergence: {prefix} {goal}",
                           f"{prefix} {goal} ({why}): {seconds:.1f} s")
        self._attach_view(prefix)
        return seconds

    def stays(self, prefix: str, nodes: Iterable[str], why: str, seconds: float) -> None:
        """Watch ``prefix`` for ``seconds``: the router must hold it from exactly ``nodes``
        (none: absent) in BGP and its FIB the whole time."""
        __tracebackhide__ = True
        expected = sorted(nodes)
        changed = stays_present(self.router, prefix, self.addresses(expected), seconds)
        if changed is not None:
            self._attach_view(prefix)
            raise AssertionError(
                f"{prefix} next hops: expected {expected or 'none'} to stay for {seconds:g} s "
                f"({why}), router has {self._render(changed)} after {changed.seconds:.1f} s")
        report.attach_text(f"watched: {prefix}",
                           f"{prefix} stayed {expected or 'absent'} for {seconds:g} s ({why})")

    def _render(self, state: object) -> str:
        if not isinstance(state, Converged):
            return "nothing readable (router not answering)"
        return (f"{self.names(state.bgp_next_hops) or 'none'} in BGP and "
                f"{self.names(state.fib_next_hops) or 'none'} in its FIB")

    def _attach_view(self, prefix: str) -> None:
        # Evidence only: a router that does not answer must not hide the check's own message.
        try:
            bgp = self.router.vtysh_json(f"show bgp ipv4 unicast {prefix} json")
            fib = self.router.transport.run(["ip", "route", "show", prefix], timeout=10.0)
        except (RouterError, TransportError) as error:
            report.attach_text(f"router: view of {prefix}", f"not readable: {error}")
            return
        report.attach_json(f"router: show bgp ipv4 unicast {prefix} json", bgp)
        report.attach_text(f"router: ip route show {prefix}", fib.stdout or fib.stderr)
