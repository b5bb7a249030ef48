"""Requests from the client behind the router reach the LB IP over real TCP, and the backend
sees the source address the traffic policy promises.

Under ``externalTrafficPolicy: Local`` a node only serves its own backends and never SNATs: the
backend sees the client. Under ``Cluster`` the receiving node picks any backend and SNATs to
its own address when the backend runs elsewhere, so the backend sees the client exactly when it
runs on the node that received the packet. Every request uses a pinned source port, and the
node that received it is the next hop its SYN left the router by (captured on the router's
node-facing interfaces, under hash policy L4 so that one client's connections spread).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.flows.attribution import (
    FlowTable,
    RouterCapture,
    node_facing_interfaces,
    router_neighbours,
)
from pytest_ciliumbgp.flows.http import ProbeError, WhoamiAnswer, http_get
from pytest_ciliumbgp.flows.scapy_probe import Flow
from pytest_ciliumbgp.inventory import Host, Inventory
from pytest_ciliumbgp.kube import objects
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.scenario import LbService, Pool, Scenario
from pytest_ciliumbgp.router import FrrRouter
from pytest_ciliumbgp.router.node_paths import NodePaths
from pytest_ciliumbgp.router.sysctl import HashPolicy
from pytest_ciliumbgp.transport import Transport

# Requests per round. The lab's client is a network namespace on the router's machine: its
# TCP socket's random hash (sk_txhash) crosses the veth with the packet, and hash policy L4 uses
# an skb's L4 hash when present, so the router spreads real connections at random rather than
# by source port. With 30 requests every one of three next hops gets one but with probability
# 3 (2/3)^30 < 2e-5 of not, so both the SNAT and the no-SNAT case happen.
REQUESTS = 30
REQUEST_TIMEOUT_S = 2.0
PARALLEL_REQUESTS = 8
FIRST_PORT, LAST_PORT = 20_000, 59_999
# Backend placements by position in the inventory's node list: one node, or two of three, so
# that requests land both on nodes with and without a backend.
PLACEMENTS = {"one": slice(1, 2), "two": slice(-2, None)}


@dataclass(frozen=True)
class Request:
    """One GET, the node its flow reaches and what the backend answered (None: no answer)."""

    flow: Flow
    #: nodes the flow's SYNs left the router for, in order (one, unless a SYN was resent)
    receiving_nodes: tuple[str, ...]
    answer: WhoamiAnswer | None
    error: str = ""

    @property
    def via(self) -> str:
        return ", then ".join(self.receiving_nodes) or "no node"


@pytest.fixture
def l4_hash(cbgp_hash_policy: Callable[[HashPolicy], HashPolicy]) -> HashPolicy:
    """Hash policy L4 on the router for the test, so a flow's source port picks its node."""
    return cbgp_hash_policy(HashPolicy.L4)


def busy_ports(client: Transport) -> set[int]:
    """Local TCP ports the client holds in any state (TIME_WAIT too), which curl could not
    bind again."""
    busy = set()
    for line in client.check_output(["ss", "-Htan"]).splitlines():
        fields = line.split()
        if len(fields) >= 4:
            busy.add(int(fields[3].rpartition(":")[2]))
    return busy


def settle(paths: NodePaths, service: LbService, nodes: set[str], why: str) -> str | None:
    """Wait until the router holds the LB IP from exactly ``nodes``; the mismatch, if any, as
    a message (asserted after the requests, so they show what the mismatch does to clients)."""
    try:
        paths.converge(service.prefix, nodes, why)
    except AssertionError as mismatch:
        return str(mismatch)
    return None


def send_requests(router: FrrRouter, client: Transport, client_host: Host,
                  inventory: Inventory, service: LbService) -> list[Request]:
    """REQUESTS GETs from pinned source ports, each attributed to the node its SYN left the
    router for (captured on the router's node-facing interfaces)."""
    free = sorted(set(range(FIRST_PORT, LAST_PORT + 1)) - busy_ports(client))
    flows = [Flow(str(client_host.address), port, service.address, 80)
             for port in random.sample(free, REQUESTS)]

    def get(flow: Flow) -> WhoamiAnswer | str:
        try:
            return http_get(client, service.address, local_port=flow.sport,
                            timeout=REQUEST_TIMEOUT_S)
        except ProbeError as err:
            return str(err)

    with RouterCapture(router.transport, [service.address],
                       node_facing_interfaces(inventory)) as capture, \
            ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
        outcomes = dict(zip(flows, pool.map(get, flows), strict=True))
    table = FlowTable.attribute(capture.packets, router_neighbours(router.transport))
    names = {str(node.address): node.name for node in inventory.nodes}
    report.attach_text("flow table: flow -> next hop (node)", table.render(names))
    requests = []
    for flow in flows:
        receiving = tuple(names.get(hop, hop) for hop in table.hops.get(flow) or ())
        outcome = outcomes[flow]
        answer = outcome if isinstance(outcome, WhoamiAnswer) else None
        requests.append(Request(flow, receiving, answer, "" if answer else str(outcome)))
    report.attach_text("requests: flow -> receiving node -> answering pod, RemoteAddr", "".join(
        f"{r.flow} -> {r.via} -> "
        f"{f'{r.answer.hostname}, {r.answer.remote_ip}' if r.answer else r.error}\n"
        for r in requests))
    return requests


def expected_remote(request: Request, service: LbService, inventory: Inventory,
                    client_host: Host) -> tuple[str, str]:
    """The RemoteAddr the backend must see, and why."""
    assert request.answer is not None
    client = str(client_host.address)
    if service.policy == "Local":
        return client, "Local never SNATs"
    pods = {backend.name: backend.node for backend in service.backends}
    answering = pods.get(request.answer.hostname, f"unknown pod {request.answer.hostname}")
    receiving = request.receiving_nodes[0]
    if answering == receiving:
        return client, f"Cluster, backend {answering} local to the receiving node"
    node = inventory.host(receiving)
    return str(node.address), (f"Cluster, receiving node {receiving} SNATs to "
                               f"reach the backend on {answering}")


def check_requests(requests: list[Request], service: LbService, inventory: Inventory,
                   client_host: Host) -> None:
    __tracebackhide__ = True
    unanswered = [r for r in requests if r.answer is None]
    assert not unanswered, (
        f"{len(unanswered)} of {len(requests)} requests to {service.address} "
        f"(etp={service.policy}, backends on {sorted(service.backend_nodes)}): expected every "
        "request answered, unanswered: " + "; ".join(
            f"{r.flow} via {r.via}: {r.error}" for r in unanswered))
    unattributed = [r for r in requests if len(r.receiving_nodes) != 1]
    assert not unattributed, (
        f"{len(unattributed)} of {len(requests)} requests: expected each connection's SYN to "
        "leave the router once, for one node, router sent " + "; ".join(
            f"{r.flow} to {r.via}" for r in unattributed))
    nodes, why = advertisers(inventory, service)
    missed = nodes - {r.receiving_nodes[0] for r in requests}
    assert not missed, (f"{len(requests)} requests: expected some through each of "
                        f"{sorted(nodes)} ({why}), none went to {sorted(missed)}")
    wrong = []
    for request in requests:
        assert request.answer is not None
        remote, why = expected_remote(request, service, inventory, client_host)
        if request.answer.remote_ip != remote:
            wrong.append(f"{request.flow} via {request.via} answered by "
                         f"{request.answer.hostname}: expected RemoteAddr {remote} ({why}), "
                         f"backend saw {request.answer.remote_ip}")
    assert not wrong, f"{len(wrong)} of {len(requests)} requests: " + "; ".join(wrong)


def advertisers(inventory: Inventory, service: LbService) -> tuple[set[str], str]:
    if service.policy == "Cluster":
        return {node.name for node in inventory.nodes}, "every node under Cluster"
    return set(service.backend_nodes), "nodes with a ready local backend"


def requests_keep_their_promise(router: FrrRouter, paths: NodePaths, client: Transport,
                                client_host: Host, inventory: Inventory,
                                service: LbService) -> None:
    __tracebackhide__ = True
    nodes, why = advertisers(inventory, service)
    with report.step(f"Router holds {service.prefix} from {sorted(nodes)}"):
        mismatch = settle(paths, service, nodes, why)
    with report.step(f"{REQUESTS} x GET http://{service.address}/ from pinned source ports, "
                     f"etp={service.policy}"):
        requests = send_requests(router, client, client_host, inventory, service)
    report.attach_json(f"router: show bgp ipv4 unicast {service.prefix} json",
                       router.vtysh_json(f"show bgp ipv4 unicast {service.prefix} json"))
    check_requests(requests, service, inventory, client_host)
    assert mismatch is None, mismatch


@pytest.mark.xdist_group("hash-policy")
@pytest.mark.parametrize("placement", list(PLACEMENTS), ids=lambda p: f"backends={p}")
@pytest.mark.parametrize("policy", ["Cluster", "Local"], ids=lambda p: f"etp={p}")
def test_backend_sees_the_promised_source_address(
    policy: str, placement: str, l4_hash: HashPolicy, cbgp_scenario: Scenario, cbgp_pool: Pool,
    cbgp_router: FrrRouter, cbgp_client: Transport, cbgp_client_host: Host,
    cbgp_inventory: Inventory, cbgp_paths: NodePaths,
) -> None:
    backends = [node.name for node in cbgp_inventory.nodes][PLACEMENTS[placement]]
    with report.step(f"Service etp={policy} with backends on {backends}"):
        service = cbgp_scenario.service(cbgp_pool, policy=policy, backend_nodes=backends)
    requests_keep_their_promise(cbgp_router, cbgp_paths, cbgp_client, cbgp_client_host,
                                cbgp_inventory, service)


@pytest.mark.xdist_group("hash-policy")
def test_traffic_policy_toggle_flips_advertisers_and_snat(
    l4_hash: HashPolicy, cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster,
    cbgp_router: FrrRouter, cbgp_client: Transport, cbgp_client_host: Host,
    cbgp_inventory: Inventory, cbgp_paths: NodePaths,
) -> None:
    """Cluster → Local → Cluster on one Service with a backend on one node: the advertising
    nodes and the SNAT behaviour follow each change."""
    backends = [node.name for node in cbgp_inventory.nodes][PLACEMENTS["one"]]
    with report.step(f"Service etp=Cluster with backends on {backends}"):
        service = cbgp_scenario.service(cbgp_pool, policy="Cluster", backend_nodes=backends)
    for policy in ("Cluster", "Local", "Cluster"):
        if policy != service.policy:
            with report.step(f"Patch {service.name} to externalTrafficPolicy {policy}"):
                objects.patch(cbgp_kube, service.ref, {"spec": {"externalTrafficPolicy": policy}})
            service.policy = policy
        requests_keep_their_promise(cbgp_router, cbgp_paths, cbgp_client, cbgp_client_host,
                                    cbgp_inventory, service)
