"""The router spreads flows to an LB IP over its ECMP next hops and keeps each flow on one.

Crafted TCP SYNs leave the client host behind the router, the router forwards them, and each
packet is attributed to the next hop it left by (egress interface and destination MAC, named
through the router's neighbour table). Under hash policy 0 (L3) the router hashes addresses
only: flows differing only in ports share one next hop, flows from many source addresses
spread. Under policy 1 (L4) ports count too: one client's flows spread over every next hop.
Every packet of a flow leaves by one next hop under either policy. A large sample of kernel
route lookups (``ip -batch route get``) checks the same spread with ten thousand flows.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.evidence.charts import attach_flow_counts
from pytest_ciliumbgp.flows.attribution import (
    FlowTable,
    RouterCapture,
    facing_interface,
    node_facing_interfaces,
    router_neighbours,
)
from pytest_ciliumbgp.flows.route_get import route_next_hops
from pytest_ciliumbgp.flows.scapy_probe import Flow, send_syn_flows
from pytest_ciliumbgp.flows.statistics import chi_square_critical, chi_square_uniform
from pytest_ciliumbgp.inventory import Host, Inventory
from pytest_ciliumbgp.kube.scenario import LbService, Pool, Scenario
from pytest_ciliumbgp.router import FrrRouter
from pytest_ciliumbgp.router.node_paths import NodePaths
from pytest_ciliumbgp.router.sysctl import HashPolicy
from pytest_ciliumbgp.transport import Transport

PACKETS_PER_FLOW = 3
#: flows of one client differing only in source port (30 expected per next hop of three)
PORT_FLOWS = 90
#: one flow from each of these many extra client addresses (15 expected per next hop of three)
SOURCE_ADDRESSES = 45
ROUTE_GET_FLOWS = 12_000
# A correct lab may fail a spread assertion with probability at most ALPHA. Pearson's statistic
# of n flows over k equally likely next hops is asymptotically χ²(k - 1); the critical value is
# the x with P(χ²(k - 1) > x) = ALPHA, found by inverting the survival function (for k = 3,
# df = 2: P = exp(-x/2), so x = -2 ln 1e-4 = 18.42). With 30 and more flows the exact
# multinomial tail beyond it stays below 1e-4 (tests/flows/test_statistics.py checks 30..90).
ALPHA = 1e-4
FIRST_PORT, LAST_PORT = 20_000, 59_999


def node_names(inventory: Inventory) -> dict[str, str]:
    return {str(node.address): node.name for node in inventory.nodes}


def pinned_to_one_next_hop(table: FlowTable, names: dict[str, str], why: str) -> None:
    __tracebackhide__ = True
    per_hop = table.flows_per_next_hop()
    assert len(per_hop) == 1, (
        f"{len(table.hops)} flows: expected all on one next hop ({why}), router spread them "
        f"{render_counts(per_hop, names)}")


def spread_over_every_next_hop(table: FlowTable, names: dict[str, str], why: str) -> None:
    __tracebackhide__ = True
    per_hop = table.flows_per_next_hop()
    counts = [per_hop.get(address, 0) for address in names]
    statistic = chi_square_uniform(counts)
    critical = chi_square_critical(len(counts) - 1, ALPHA)
    spread = (f"{len(table.hops)} flows: expected an even spread over "
              f"{sorted(names.values())} ({why}; χ² ≤ {critical:.2f} at alpha={ALPHA:g}), "
              f"router spread them {render_counts(per_hop, names)} (χ² = {statistic:.2f})")
    assert set(per_hop) == set(names), spread
    assert statistic <= critical, spread


def render_counts(per_hop: Counter[str], names: dict[str, str]) -> str:
    return "{" + ", ".join(f"{names.get(hop, hop)}: {count}"
                           for hop, count in sorted(per_hop.items())) + "}"


def port_flows(client: str, address: str, count: int) -> list[Flow]:
    return [Flow(client, port, address, 80)
            for port in random.sample(range(FIRST_PORT, LAST_PORT + 1), count)]


def attach(title: str, table: FlowTable, names: dict[str, str]) -> None:
    report.attach_text(f"flow table ({title}): flow -> next hop (node)", table.render(names))
    report.attach_json(f"flows per next hop ({title})",
                       {names.get(hop, hop): count
                        for hop, count in sorted(table.flows_per_next_hop().items())})


#: flows per node that each test saw under each hash policy: {test: {policy: {node: flows}}}
FlowCounts = dict[str, dict[str, dict[str, int]]]


@pytest.fixture(scope="module")
def flow_counts() -> FlowCounts:
    """What this process's tests of the module counted, so that a test's chart can put its
    policy beside the other one (under xdist that may have run in another process: the chart
    then shows one policy)."""
    return {}


def chart(counts: FlowCounts, test: str, policy: HashPolicy, table: FlowTable,
          inventory: Inventory, title: str) -> None:
    """Attach a bar chart of this test's flows per node beside the other policy's, if seen."""
    names = node_names(inventory)
    seen = counts.setdefault(test, {})
    seen[f"hash={policy.label} ({int(policy)})"] = {
        names.get(hop, hop): count for hop, count in table.flows_per_next_hop().items()}
    attach_flow_counts(f"chart: flows per next hop by hash policy ({title})",
                       dict(sorted(seen.items())), [node.name for node in inventory.nodes], title)


@pytest.fixture
def ecmp_service(cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_inventory: Inventory,
                 cbgp_paths: NodePaths) -> LbService:
    """A Cluster Service with a backend on every node: the router has every node as a next hop."""
    nodes = [node.name for node in cbgp_inventory.nodes]
    with report.step(f"Service etp=Cluster with backends on {nodes}"):
        service = cbgp_scenario.service(cbgp_pool, policy="Cluster", backend_nodes=nodes)
    with report.step(f"Router holds {service.prefix} from every node"):
        cbgp_paths.converge(service.prefix, nodes, "every node under Cluster")
    return service


@pytest.fixture(params=[HashPolicy.L3, HashPolicy.L4], ids=lambda p: f"hash={p.label}")
def router_hash_policy(request: pytest.FixtureRequest,
                       cbgp_hash_policy: Callable[[HashPolicy], HashPolicy]) -> HashPolicy:
    """The router's multipath hash policy, set for the test and restored after it."""
    return cbgp_hash_policy(request.param)


@pytest.fixture
def extra_client_addresses(cbgp_inventory: Inventory, cbgp_client_host: Host,
                           cbgp_client: Transport) -> Iterator[list[str]]:
    """Extra addresses on the client's interface, from its own network so the router routes
    the answers back; removed after the test."""
    interface = cbgp_client_host.interfaces[0]
    taken = {str(i.ip) for host in cbgp_inventory.hosts for i in host.interfaces}
    free = [str(ip) for ip in interface.address.network.hosts() if str(ip) not in taken]
    addresses = free[:SOURCE_ADDRESSES]
    prefix = interface.address.network.prefixlen
    commands = "".join(f"address add {a}/{prefix} dev {interface.name}\n" for a in addresses)
    cbgp_client.run(["ip", "-batch", "-"], input=commands).check()
    try:
        yield addresses
    finally:
        cbgp_client.run(["ip", "-force", "-batch", "-"],
                        input=commands.replace("address add", "address del"))


def send_and_attribute(flows: Sequence[Flow], address: str, router: FrrRouter,
                       client: Transport, inventory: Inventory) -> FlowTable:
    """Send the flows' SYNs from the client and attribute every packet the router forwarded;
    fails unless every flow was seen and each kept to one next hop."""
    __tracebackhide__ = True
    with RouterCapture(router.transport, [address], node_facing_interfaces(inventory)) as capture:
        send_syn_flows(client, flows, packets_per_flow=PACKETS_PER_FLOW)
    table = FlowTable.attribute(capture.packets, router_neighbours(router.transport))
    names = node_names(inventory)
    attach(f"{len(flows)} flows", table, names)
    unseen = table.unseen(flows)
    assert not unseen, (f"{len(unseen)} of {len(flows)} flows never left the router towards a "
                        f"node, e.g. {unseen[0]}")
    split = table.split_flows()
    assert not split, (
        f"{len(split)} of {len(flows)} flows: expected every packet of a flow on one next hop, "
        "router split " + "; ".join(f"{flow} over {render_counts(hops, names)}"
                                    for flow, hops in list(split.items())[:5]))
    return table


@pytest.mark.xdist_group("hash-policy")
def test_flows_differing_only_in_ports(
    router_hash_policy: HashPolicy, ecmp_service: LbService, cbgp_router: FrrRouter,
    cbgp_client: Transport, cbgp_client_host: Host, cbgp_inventory: Inventory,
    flow_counts: FlowCounts,
) -> None:
    """Under L3 one client's flows all take one next hop; under L4 they spread evenly over
    every node. Either way each flow keeps to one next hop."""
    flows = port_flows(str(cbgp_client_host.address), ecmp_service.address, PORT_FLOWS)
    names = node_names(cbgp_inventory)
    with report.step(f"{len(flows)} flows from {cbgp_client_host.address}, ports varied, "
                     f"{PACKETS_PER_FLOW} SYNs each, hash={router_hash_policy.label}"):
        table = send_and_attribute(flows, ecmp_service.address, cbgp_router, cbgp_client,
                                   cbgp_inventory)
    chart(flow_counts, "ports", router_hash_policy, table, cbgp_inventory,
          f"{len(flows)} scapy flows from {cbgp_client_host.address}, ports varied")
    if router_hash_policy is HashPolicy.L3:
        pinned_to_one_next_hop(table, names, "hash policy L3 ignores ports")
    else:
        spread_over_every_next_hop(table, names, "hash policy L4 hashes ports")


@pytest.mark.xdist_group("hash-policy")
@pytest.mark.parametrize("router_hash_policy", [HashPolicy.L3], indirect=True,
                         ids=lambda p: f"hash={p.label}")
def test_flows_from_many_source_addresses_spread(
    router_hash_policy: HashPolicy, ecmp_service: LbService, cbgp_router: FrrRouter,
    cbgp_client: Transport, extra_client_addresses: list[str], cbgp_inventory: Inventory,
) -> None:
    """Under L3 the source address picks the next hop: many clients spread over every node."""
    ports = random.sample(range(FIRST_PORT, LAST_PORT + 1), len(extra_client_addresses))
    flows = [Flow(source, port, ecmp_service.address, 80)
             for source, port in zip(extra_client_addresses, ports, strict=True)]
    with report.step(f"{len(flows)} flows from {len(flows)} client addresses, "
                     f"{PACKETS_PER_FLOW} SYNs each, hash={router_hash_policy.label}"):
        table = send_and_attribute(flows, ecmp_service.address, cbgp_router, cbgp_client,
                                   cbgp_inventory)
    spread_over_every_next_hop(table, node_names(cbgp_inventory),
                               "hash policy L3 hashes source addresses")


@pytest.mark.xdist_group("hash-policy")
def test_route_lookups_of_many_flows(
    router_hash_policy: HashPolicy, ecmp_service: LbService, cbgp_router: FrrRouter,
    cbgp_client_host: Host, cbgp_inventory: Inventory, flow_counts: FlowCounts,
) -> None:
    """Ten thousand forwarding lookups of one client's flows: one next hop under L3, an even
    spread over every node under L4."""
    flows = [Flow(str(cbgp_client_host.address), port, ecmp_service.address, 80)
             for port in range(FIRST_PORT, FIRST_PORT + ROUTE_GET_FLOWS)]
    iif = facing_interface(cbgp_inventory, cbgp_client_host).name
    names = node_names(cbgp_inventory)
    with report.step(f"ip -batch route get of {len(flows)} flows arriving on {iif}, "
                     f"hash={router_hash_policy.label}"):
        table = FlowTable.of_routes(route_next_hops(cbgp_router.transport, flows, iif))
    report.attach_json(f"route get: flows per next hop ({len(flows)} flows)",
                       {names.get(hop, hop): count
                        for hop, count in sorted(table.flows_per_next_hop().items())})
    chart(flow_counts, "route get", router_hash_policy, table, cbgp_inventory,
          f"ip route get of {len(flows)} flows from {cbgp_client_host.address}, ports varied")
    if router_hash_policy is HashPolicy.L3:
        pinned_to_one_next_hop(table, names, "hash policy L3 ignores ports")
    else:
        spread_over_every_next_hop(table, names, "hash policy L4 hashes ports")
