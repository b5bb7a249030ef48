"""FrrRouter without a router: a fake transport answers with output captured from FRR 8.4."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pytest_ciliumbgp.router import FrrRouter, RouterError
from pytest_ciliumbgp.transport import CommandResult, Transport, TransportError

DATA = Path(__file__).parents[1] / "data"
VTYSH = ("vtysh", "-N", "lab")


class CannedTransport(Transport):
    """Answers each known argv with canned output and records what it was asked to run."""

    scheme = "canned"

    def __init__(self, answers: Mapping[tuple[str, ...], CommandResult | str]) -> None:
        self.answers = dict(answers)
        self.ran: list[tuple[str, ...]] = []

    def run(
        self, command: Sequence[str], *, input: str | None = None, timeout: float = 60.0
    ) -> CommandResult:
        argv = tuple(command)
        self.ran.append(argv)
        answer = self.answers.get(argv)
        if answer is None:
            return CommandResult(argv, 1, "", f"canned: nothing for {argv}")
        if isinstance(answer, CommandResult):
            return answer
        return CommandResult(argv, 0, answer, "")


def vtysh(command: str) -> tuple[str, ...]:
    return (*VTYSH, "-c", command)


def frr(name: str) -> str:
    return (DATA / "frr" / name).read_text()


def kernel(name: str) -> str:
    return (DATA / "kernel" / name).read_text()


@pytest.fixture
def transport() -> CannedTransport:
    return CannedTransport({
        vtysh("show bgp summary json"): frr("bgp_summary_peer_down.json"),
        vtysh("show bgp summary"): frr("bgp_summary_peer_down.txt"),
        vtysh("show ip bgp json"): frr("ip_bgp.json"),
        vtysh("show bgp ipv4 unicast 172.16.1.1/32 json"): frr("bgp_prefix_172-16-1-1_ecmp3.json"),
        vtysh("show bgp ipv4 unicast 172.16.1.9/32 json"):
            frr("bgp_prefix_172-16-1-9_withdrawn.json"),
        vtysh("show ip route 172.16.1.1/32 json"): frr("ip_route_172-16-1-1_ecmp3.json"),
        vtysh("show ip route 172.16.1.9/32 json"): frr("ip_route_172-16-1-9_absent.json"),
        ("ip", "-j", "route", "show", "172.16.1.1/32"): kernel("route_172-16-1-1_ecmp3.json"),
        ("ip", "-j", "route", "show", "172.16.1.2/32"): kernel("route_172-16-1-2_single.json"),
        ("ip", "-j", "route", "show", "172.16.1.9/32"): kernel("route_172-16-1-9_absent.json"),
    })


@pytest.fixture
def router(transport: CannedTransport) -> FrrRouter:
    return FrrRouter(transport, vtysh=VTYSH)


NODES = {"192.168.10.101", "192.168.10.102", "192.168.10.103"}


def test_bgp_peers(router: FrrRouter) -> None:
    peers = router.bgp_peers()
    assert {address for address, peer in peers.items() if peer.established} == {
        "192.168.10.101", "192.168.10.102",
    }
    assert router.transport.ran == [vtysh("show bgp summary json")]  # type: ignore[attr-defined]


def test_bgp_routes(router: FrrRouter) -> None:
    assert router.bgp_routes()["172.16.1.1/32"].ecmp_next_hops == NODES


@pytest.mark.parametrize("prefix", ["172.16.1.1/32", "172.16.1.1"])
def test_bgp_prefix_asks_for_the_exact_prefix(router: FrrRouter, prefix: str) -> None:
    entry = router.bgp_prefix(prefix)
    assert entry is not None
    assert entry.ecmp_next_hops == NODES


def test_withdrawn_prefix_is_none_everywhere(router: FrrRouter) -> None:
    assert router.bgp_prefix("172.16.1.9/32") is None
    assert router.rib_route("172.16.1.9") is None
    assert router.kernel_route("172.16.1.9") is None


def test_rib_route(router: FrrRouter) -> None:
    route = router.rib_route("172.16.1.1")
    assert route is not None
    assert route.fib_next_hops == NODES


@pytest.mark.parametrize(
    ("prefix", "gateways"),
    [("172.16.1.1", NODES), ("172.16.1.2/32", {"192.168.10.101"})],
    ids=["multipath", "single"],
)
def test_kernel_route(router: FrrRouter, prefix: str, gateways: set[str]) -> None:
    route = router.kernel_route(prefix)
    assert route is not None
    assert route.gateways == gateways


def test_kernel_route_empty_output_means_no_route() -> None:
    transport = CannedTransport({("ip", "-j", "route", "show", "172.16.1.1/32"): ""})
    assert FrrRouter(transport).kernel_route("172.16.1.1/32") is None


def test_summary_text_is_the_human_table(router: FrrRouter) -> None:
    text = router.summary_text()
    assert "192.168.10.103" in text
    assert "Active" in text


def test_default_vtysh_is_plain() -> None:
    transport = CannedTransport({("vtysh", "-c", "show ip bgp json"): frr("ip_bgp_empty.json")})
    assert FrrRouter(transport).bgp_routes() == {}


def test_vtysh_error_on_stdout_wins_over_stderr_noise() -> None:
    # As captured: vtysh prints "% Unknown command" on stdout and a vtysh.conf warning on stderr.
    argv = vtysh("show bgp summary json")
    transport = CannedTransport({argv: CommandResult(
        argv, 1, "% Unknown command: show bgp summary json\n",
        "% Can't open configuration file /etc/frr/lab/vtysh.conf due to 'No such file'.\n",
    )})
    with pytest.raises(RouterError) as caught:
        FrrRouter(transport, vtysh=VTYSH).bgp_peers()
    assert str(caught.value) == (
        "show bgp summary json on canned://: exited 1: % Unknown command: show bgp summary json"
    )


def test_daemon_unreachable() -> None:
    argv = ("vtysh", "-c", "show bgp summary json")
    transport = CannedTransport({argv: CommandResult(
        argv, 1, "", "Exiting: failed to connect to any daemons.\n")})
    with pytest.raises(RouterError, match="failed to connect to any daemons"):
        FrrRouter(transport).bgp_peers()


def test_output_that_is_not_json_is_one_line() -> None:
    transport = CannedTransport({
        vtysh("show ip bgp json"): "% No BGP process is configured\nmore\n",
    })
    with pytest.raises(RouterError) as caught:
        FrrRouter(transport, vtysh=VTYSH).bgp_routes()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("show ip bgp json on canned://: not JSON")
    assert message.endswith("% No BGP process is configured")


def test_transport_failure_becomes_router_error() -> None:
    class Unreachable(Transport):
        def run(
            self, command: Sequence[str], *, input: str | None = None, timeout: float = 60.0
        ) -> CommandResult:
            raise TransportError("ssh: no answer within 30 s")

    with pytest.raises(RouterError, match=r"^show bgp summary json on local://: ssh: no answer"):
        FrrRouter(Unreachable()).bgp_peers()


def test_vtysh_json_returns_the_decoded_document(router: FrrRouter) -> None:
    assert router.vtysh_json("show ip bgp json")["localAS"] == 65000
