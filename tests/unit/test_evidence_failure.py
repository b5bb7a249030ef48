"""What a failed test leaves in the report, read from the fixture values it holds: the router's
RIB for the test's LB IPs, FIB and BGP summary, the test's Services and the Cilium objects, each
read on its own so that one unreadable view costs nothing else."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.evidence import failure
from pytest_ciliumbgp.kube.client import Cluster, connect
from pytest_ciliumbgp.kube.pool_slices import PoolSlice, PoolSlicer
from pytest_ciliumbgp.kube.scenario import LbService, Ownership, Pool, Scenario
from pytest_ciliumbgp.kube.versions import cilium_api
from pytest_ciliumbgp.router.frr import FrrRouter
from tests.apiserver import Api
from tests.unit.scripted import ScriptedTransport

PREFIX = "172.16.1.1/32"
RIB = {"prefix": PREFIX, "paths": [{"valid": True, "nexthops": [{"ip": "192.168.10.101"}]}]}
SUMMARY = "IPv4 Unicast Summary:\nNeighbor        V  AS  State/PfxRcd\n192.168.10.101  4  65001  1"
FIB = "172.16.1.1 via 192.168.10.101 dev eth1 proto bgp metric 20\n"


class Recorded:
    """What the evidence attached, in order, inside which step."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.attached: dict[str, Any] = {}

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.steps.append(title)
        yield

    def text(self, name: str, body: str) -> None:
        self.attached[name] = body

    def json(self, name: str, document: Any) -> None:
        self.attached[name] = document


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    seen = Recorded()
    monkeypatch.setattr(report, "step", seen.step)
    monkeypatch.setattr(report, "attach_text", seen.text)
    monkeypatch.setattr(report, "attach_json", seen.json)
    return seen


def router(answers: dict[tuple[str, ...], str] | None = None, *,
           down: bool = False) -> tuple[FrrRouter, ScriptedTransport]:
    transport = ScriptedTransport(answers or {
        ("vtysh", "-c", f"show bgp ipv4 unicast {PREFIX} json"): json.dumps(RIB),
        ("vtysh", "-c", "show bgp summary"): SUMMARY,
        ("ip", "route", "show"): FIB,
    }, down=down)
    return FrrRouter(transport), transport


@pytest.fixture
def emulated_cluster(api: Api) -> Iterator[Cluster]:
    with connect(str(api.kubeconfig), request_timeout=5) as cluster:
        yield cluster


@pytest.fixture
def scenario(emulated_cluster: Cluster) -> Scenario:
    """A test's scenario on the emulated API server (no controllers: the LB IP is set here)."""
    made = Scenario(emulated_cluster, cilium_api(emulated_cluster),
                    Ownership.of("run1", "tests/test_x.py::test_y"), {"advertise": "bgp"})
    pool = made.pool(PoolSlicer(ipaddress.IPv4Network("172.16.1.0/24")).next())
    service = made.service(pool, advertise=False, wait_for_ip=False)
    emulated_cluster.call_json(
        "set the LB IP", emulated_cluster.core.patch_namespaced_service_status, service.name,
        "default", {"status": {"loadBalancer": {"ingress": [{"ip": "172.16.1.1"}]}}})
    return made


def test_everything_the_test_holds_is_attached_in_one_step(
    recorded: Recorded, scenario: Scenario, emulated_cluster: Cluster
) -> None:
    frr, _ = router()

    failure.attach_failure_state({"cbgp_router": frr, "cbgp_kube": emulated_cluster,
                                  "cbgp_scenario": scenario})

    assert recorded.steps == [failure.STEP_TITLE]
    assert list(recorded.attached) == [
        f"router: show bgp ipv4 unicast {PREFIX} json", "router: ip route (FIB)",
        "router: show bgp summary", failure.SERVICES_TITLE,
        "cilium: CiliumLoadBalancerIPPools (spec and status)",
        "cilium: CiliumBGPNodeConfigs (status)"]
    assert recorded.attached[f"router: show bgp ipv4 unicast {PREFIX} json"] == RIB
    assert recorded.attached["router: ip route (FIB)"] == FIB.rstrip("\n")
    assert recorded.attached["router: show bgp summary"] == SUMMARY
    [(ref, service)] = recorded.attached[failure.SERVICES_TITLE].items()
    assert ref.startswith("Service default/svc-")
    assert service["status"]["loadBalancer"] == {"ingress": [{"ip": "172.16.1.1"}]}
    assert service["spec"]["type"] == "LoadBalancer"
    pools = recorded.attached["cilium: CiliumLoadBalancerIPPools (spec and status)"]
    assert [pool["spec"]["blocks"] for pool in pools.values()] == [[{"cidr": "172.16.1.0/28"}]]
    assert recorded.attached["cilium: CiliumBGPNodeConfigs (status)"] == {}


def test_prefixes_also_come_from_the_services_a_test_holds(recorded: Recorded) -> None:
    frr, transport = router()
    pool = Pool("pool", PoolSlice(0, ipaddress.IPv4Network("172.16.1.0/28")), {})
    service = LbService("svc", "default", "Cluster", pool, address="172.16.1.1")

    failure.attach_failure_state({"cbgp_router": frr, "ecmp_service": service})

    assert ("vtysh", "-c", f"show bgp ipv4 unicast {PREFIX} json") in transport.ran
    assert recorded.attached[f"router: show bgp ipv4 unicast {PREFIX} json"] == RIB


def test_without_known_prefixes_the_whole_table_is_attached(recorded: Recorded) -> None:
    frr, _ = router({("vtysh", "-c", "show bgp ipv4 unicast json"): '{"routes": {}}'})

    failure.attach_failure_state({"cbgp_router": frr})

    assert recorded.attached["router: show bgp ipv4 unicast json"] == {"routes": {}}
    assert recorded.attached["router: show bgp summary"] == (
        "not readable: exited 1: vtysh: not scripted")


def test_an_unreachable_router_is_asked_once(recorded: Recorded) -> None:
    frr, transport = router(down=True)

    failure.attach_failure_state({"cbgp_router": frr})

    assert len(transport.ran) == 1
    assert recorded.attached["router: show bgp summary"] == (
        "not readable: not tried: router did not answer (vtysh: no answer within 10 s)")


def test_a_test_without_the_lab_gets_nothing(recorded: Recorded) -> None:
    failure.attach_failure_state({"tmp_path": "/tmp/x"})

    assert (recorded.steps, recorded.attached) == ([], {})


def test_an_unreachable_api_costs_only_the_cilium_views(
    recorded: Recorded, scenario: Scenario, tmp_path: Path
) -> None:
    frr, _ = router()
    kubeconfig = tmp_path / "gone"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n")

    with connect(str(kubeconfig), request_timeout=5) as gone:
        failure.attach_failure_state({"cbgp_router": frr, "cbgp_kube": gone,
                                      "cbgp_scenario": scenario})

    assert recorded.attached["router: show bgp summary"] == SUMMARY
    for name in (failure.SERVICES_TITLE, "cilium: CiliumBGPNodeConfigs (status)"):
        assert recorded.attached[name].startswith("not readable: ")
        assert recorded.attached[name].endswith("connection refused (is the API server running?)")
