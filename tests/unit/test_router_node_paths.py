"""NodePaths and stays_present without a router: a scripted FrrRouter answers each poll with the
next state of the prefix (BGP next hops, FIB next hops), and the checks are judged by what they
return, how long they waited and the operator's message they fail with."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Inventory, load_inventory
from pytest_ciliumbgp.router import (
    BgpPath,
    BgpPrefix,
    FrrRouter,
    KernelNextHop,
    KernelRoute,
    RouterError,
)
from pytest_ciliumbgp.router.node_paths import NodePaths, stays_present
from pytest_ciliumbgp.transport import CommandResult, Transport

REFERENCE = Path(__file__).resolve().parents[2] / "lab" / "netns" / "inventory.yaml"
PREFIX = "172.16.1.1/32"
CTR, W1, W0 = "192.168.10.100", "192.168.10.101", "192.168.20.100"
#: Short enough to keep the tests quick, long enough for a few 100 ms polls.
BUDGET = 0.5
#: One state of the prefix: (BGP ECMP next hops, FIB gateways); None: the router does not answer.
State = tuple[Iterable[str], Iterable[str]] | None


class RouteShowTransport(Transport):
    """Answers ``ip route show <prefix>`` (the view attached to the report) and nothing else."""

    scheme = "fake"

    def run(self, command: Sequence[str], *, input: str | None = None,
            timeout: float = 60.0) -> CommandResult:
        return CommandResult(tuple(command), 0, f"{PREFIX} proto bgp metric 20\n", "")


class ScriptedRouter(FrrRouter):
    """Each poll (a ``bgp_prefix`` then a ``kernel_route`` read) gets the next state of the
    script; the last state repeats."""

    def __init__(self, *script: State) -> None:
        super().__init__(RouteShowTransport())
        self.script = list(script)
        self.polls = 0
        self.view_fails = False

    def _state(self) -> State:
        return self.script[min(self.polls, len(self.script) - 1)]

    def bgp_prefix(self, prefix: str) -> BgpPrefix | None:
        state = self._state()
        if state is None:
            self.polls += 1
            raise RouterError("vtysh: bgpd is not running")
        hops = sorted(state[0])
        if not hops:
            return None
        return BgpPrefix(prefix, tuple(
            BgpPath(prefix, hop, "65001", "IGP", True, index == 0, index > 0, hop)
            for index, hop in enumerate(hops)))

    def kernel_route(self, prefix: str) -> KernelRoute | None:
        state = self._state()
        self.polls += 1
        assert state is not None
        hops = sorted(state[1])
        return KernelRoute(prefix, tuple(KernelNextHop(hop, "eth1") for hop in hops)) \
            if hops else None

    def vtysh_json(self, command: str) -> Any:
        if self.view_fails:
            raise RouterError(f"{command}: vtysh timed out")
        return {"prefix": PREFIX, "paths": []}


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(REFERENCE)


@pytest.fixture
def attached(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What the checks attach to the report, by attachment name."""
    found: dict[str, str] = {}
    monkeypatch.setattr(report, "attach_text", lambda name, body: found.__setitem__(name, body))
    monkeypatch.setattr(report, "attach_json",
                        lambda name, document: found.__setitem__(name, str(document)))
    return found


def paths(inventory: Inventory, *script: State) -> NodePaths:
    return NodePaths(ScriptedRouter(*script), inventory, BUDGET)


def test_addresses_and_names_translate_between_nodes_and_next_hops(inventory: Inventory) -> None:
    node_paths = paths(inventory, ((), ()))
    assert node_paths.addresses(["k8s-w0", "k8s-ctr"]) == {W0, CTR}
    assert node_paths.addresses([]) == frozenset()
    assert node_paths.names([W0, "10.9.9.9", CTR]) == ["10.9.9.9", "k8s-ctr", "k8s-w0"]


def test_addresses_refuses_a_name_that_is_no_node(inventory: Inventory) -> None:
    with pytest.raises(ValueError, match=r"not nodes of inventory .*\['k8s-w9'\]"):
        paths(inventory, ((), ())).addresses(["k8s-w0", "k8s-w9"])


def test_converge_returns_at_once_when_the_router_already_agrees(inventory: Inventory) -> None:
    seconds = paths(inventory, ({CTR, W0}, {CTR, W0})).converge(
        PREFIX, ["k8s-w0", "k8s-ctr"], "every node with a backend")
    assert 0 <= seconds < 0.1


def test_converge_waits_until_bgp_and_fib_both_agree(
    inventory: Inventory, attached: dict[str, str],
) -> None:
    # BGP has the new set one poll before the FIB does: that is not converged yet.
    node_paths = paths(inventory, ({CTR, W1, W0}, {CTR, W1, W0}), ({W0}, {CTR, W1, W0}),
                       ({W0}, {W0}))
    seconds = node_paths.converge(PREFIX, ["k8s-w0"], "only k8s-w0 has a backend")
    assert 0.15 < seconds < BUDGET
    assert attached[f"convergence: {PREFIX} from ['k8s-w0']"] == (
        f"{PREFIX} from ['k8s-w0'] (only k8s-w0 has a backend): {seconds:.1f} s")
    assert f"router: show bgp ipv4 unicast {PREFIX} json" in attached
    assert f"router: ip route show {PREFIX}" in attached


def test_converge_counts_from_since(inventory: Inventory) -> None:
    since = time.monotonic() - 2.0
    seconds = paths(inventory, ((), ())).converge(PREFIX, [], "Service deleted", since=since)
    assert 2.0 <= seconds < 2.1


def test_converge_on_no_node_waits_for_the_withdrawal(
    inventory: Inventory, attached: dict[str, str],
) -> None:
    node_paths = paths(inventory, ({W1}, {W1}), ((), {W1}), ((), ()))
    node_paths.converge(PREFIX, (), "the Service is deleted")
    assert attached[f"convergence: {PREFIX} withdrawn"].startswith(
        f"{PREFIX} withdrawn (the Service is deleted): ")


def test_converge_fails_in_node_names_when_the_budget_runs_out(
    inventory: Inventory, attached: dict[str, str],
) -> None:
    node_paths = paths(inventory, ({CTR, W1, W0}, {CTR, W1}))
    began = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        node_paths.converge(PREFIX, ["k8s-w1", "k8s-w0"], "nodes with a ready local backend")
    assert BUDGET <= time.monotonic() - began < BUDGET + 0.5
    assert str(failure.value) == (
        f"{PREFIX} next hops: expected ['k8s-w0', 'k8s-w1'] (nodes with a ready local backend) "
        f"within {BUDGET:g} s, router has ['k8s-ctr', 'k8s-w0', 'k8s-w1'] in BGP and "
        "['k8s-ctr', 'k8s-w1'] in its FIB")
    assert f"router: show bgp ipv4 unicast {PREFIX} json" in attached


def test_converge_to_withdrawn_fails_while_a_node_still_advertises(inventory: Inventory) -> None:
    with pytest.raises(AssertionError, match=(
            r"expected none \(the Service is deleted\) within 0.5 s, router has \['k8s-w1'\] in "
            r"BGP and none in its FIB$")):
        paths(inventory, ({W1}, ())).converge(PREFIX, [], "the Service is deleted")


def test_converge_says_so_when_the_router_does_not_answer(
    inventory: Inventory, attached: dict[str, str],
) -> None:
    node_paths = paths(inventory, None)
    node_paths.router.view_fails = True  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match=(
            r"expected \['k8s-w0'\] \(why\) within 0.5 s, router has nothing readable "
            r"\(router not answering\)$")):
        node_paths.converge(PREFIX, ["k8s-w0"], "why")
    assert attached[f"router: view of {PREFIX}"].startswith("not readable: ")


def test_stays_passes_when_the_router_keeps_the_nodes(
    inventory: Inventory, attached: dict[str, str],
) -> None:
    node_paths = paths(inventory, ({CTR, W0}, {CTR, W0}))
    began = time.monotonic()
    node_paths.stays(PREFIX, ["k8s-ctr", "k8s-w0"], "a second Service still uses it", 0.3)
    assert time.monotonic() - began >= 0.3
    assert attached[f"watched: {PREFIX}"] == (
        f"{PREFIX} stayed ['k8s-ctr', 'k8s-w0'] for 0.3 s (a second Service still uses it)")


def test_stays_fails_at_the_first_change(inventory: Inventory) -> None:
    node_paths = paths(inventory, ({CTR, W0}, {CTR, W0}), ({CTR, W0}, {CTR, W0}), ((), ()))
    with pytest.raises(AssertionError) as failure:
        node_paths.stays(PREFIX, ["k8s-ctr", "k8s-w0"], "a second Service still uses it", 3.0)
    message = str(failure.value)
    assert message.startswith(
        f"{PREFIX} next hops: expected ['k8s-ctr', 'k8s-w0'] to stay for 3 s (a second Service "
        "still uses it), router has none in BGP and none in its FIB after 0.")
    assert node_paths.router.polls == 3  # type: ignore[attr-defined]


def test_stays_with_no_node_is_an_absence_check(
    inventory: Inventory, attached: dict[str, str],
) -> None:
    paths(inventory, ((), ())).stays(PREFIX, [], "no ready local backend", 0.2)
    assert attached[f"watched: {PREFIX}"] == (
        f"{PREFIX} stayed absent for 0.2 s (no ready local backend)")
    appearing = paths(inventory, ((), ()), ((), {W1}))
    with pytest.raises(AssertionError, match=(
            r"expected none to stay for 0.2 s \(no ready local backend\), router has none in BGP "
            r"and \['k8s-w1'\] in its FIB after ")):
        appearing.stays(PREFIX, [], "no ready local backend", 0.2)


def test_stays_present_returns_none_or_the_first_differing_state() -> None:
    assert stays_present(ScriptedRouter(({CTR}, {CTR})), PREFIX, frozenset({CTR}), 0.2) is None
    router = ScriptedRouter(({CTR}, {CTR}), ({CTR, W1}, {CTR}))
    changed = stays_present(router, PREFIX, frozenset({CTR}), 2.0)
    assert changed is not None
    assert (changed.bgp_next_hops, changed.fib_next_hops) == (frozenset({CTR, W1}),
                                                              frozenset({CTR}))
    assert 0.05 < changed.seconds < 0.5
