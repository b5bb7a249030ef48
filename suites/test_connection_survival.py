"""Long-lived connections through the LB IP survive a change of the router's next hops, unless
their own next hop changed.

An ``externalTrafficPolicy: Local`` Service is advertised by the nodes with a local backend, so
a backend added on another node, then removed, adds that node to the router's multipath route
and takes it away again. Linux's hash-threshold multipath then maps a share of the flows to
another node, which has no conntrack entry for them and resets (or drops) them: such a
connection may break, and is reported. A connection whose packets kept going to one node must
survive: its node still holds its conntrack entry and its backend. How many of those may break
is ``--cbgp-connection-break-budget`` (default 0).

Each connection's next hop is what the router did with its packets, captured on the router's
node-facing interfaces while the connections send, step by step. Under hash policy L3 every
connection of the one client shares one next hop, so they keep it or change it together; under
L4 they spread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.flows.attribution import node_facing_interfaces, router_neighbours
from pytest_ciliumbgp.flows.connections import HeldConnection, HeldConnections
from pytest_ciliumbgp.flows.next_hop_trails import StepCapture, Trails
from pytest_ciliumbgp.flows.survival import Survival, Tally, join, render
from pytest_ciliumbgp.inventory import Host, Inventory
from pytest_ciliumbgp.kube import objects
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.scenario import LbService, Pool, Scenario
from pytest_ciliumbgp.router import FrrRouter
from pytest_ciliumbgp.router.node_paths import NodePaths
from pytest_ciliumbgp.router.sysctl import HashPolicy
from pytest_ciliumbgp.settings import CONNECTION_BREAK_BUDGET, Settings
from pytest_ciliumbgp.transport import Transport

# Under L4 a connection keeps its node through both changes with probability 1/2 to 2/3 (by
# where the new next hop sorts), so with 12 both kinds nearly always occur; 12 threads stay
# light on 2 cores.
CONNECTIONS = 12
# Each step lasts this long once the router has converged: every connection sends 3 or more
# requests in it, so one moved to another node meets that node.
HOLD_S = 0.6
LOCAL_WHY = "nodes with a ready local backend"


@dataclass(frozen=True)
class Roles:
    """Nodes by the part they play, by position in the inventory (two or more nodes)."""

    kept: tuple[str, ...]  # run a backend throughout
    churned: str  # gets a backend, then loses it

    @classmethod
    def of(cls, inventory: Inventory) -> Roles:
        names = [node.name for node in inventory.nodes]
        if len(names) < 2:
            pytest.skip(f"inventory {inventory.name} has {len(names)} node; this check needs 2")
        return cls(kept=tuple(n for n in names if n != names[1]), churned=names[1])

    @property
    def steps(self) -> tuple[str, str, str]:
        kept = ", ".join(self.kept)
        return (f"backends on {kept}", f"backend added on {self.churned}",
                f"backend removed from {self.churned}")


@pytest.fixture(params=[HashPolicy.L3, HashPolicy.L4], ids=lambda p: f"hash={p.label}")
def router_hash_policy(request: pytest.FixtureRequest,
                       cbgp_hash_policy: Callable[[HashPolicy], HashPolicy]) -> HashPolicy:
    """The router's multipath hash policy, set before the connections open, restored after."""
    return cbgp_hash_policy(request.param)


def check_opened(opened: list[HeldConnection], service: LbService) -> None:
    __tracebackhide__ = True
    reported = {c.connection: c for c in opened}
    unanswered = [f"connection {c.connection} (port {c.local_port}): {c.error} {c.detail}"
                  for c in opened if c.broke or not c.answers]
    unanswered += [f"connection {index}: not reported" for index in range(CONNECTIONS)
                   if index not in reported]
    assert not unanswered, (
        f"{CONNECTIONS} keep-alive connections to {service.address}: expected each answered "
        "before the next hops change, unanswered: " + "; ".join(unanswered))


def hold_through_churn(roles: Roles, service: LbService, capture: StepCapture,
                       scenario: Scenario, cluster: Cluster, client: Transport,
                       paths: NodePaths) -> list[HeldConnection]:
    """Hold the connections while a backend is added on the churned node and removed again,
    each step marked on the client and in the capture; returns how each connection ended."""
    before, added, removed = roles.steps
    capture.wait_ready()
    with HeldConnections(client, service.address, count=CONNECTIONS, step=before) as held:
        check_opened(held.opened, service)
        time.sleep(HOLD_S)
        with report.step(f"Add a backend on {roles.churned}"):
            capture.mark(added)
            held.mark(added)
            since = time.monotonic()
            backend = scenario.backends(service.app_labels, [roles.churned])[0]
            paths.converge(service.prefix, {*roles.kept, roles.churned},
                           f"{LOCAL_WHY}: {roles.churned} runs one now", since=since)
            time.sleep(HOLD_S)
        with report.step(f"Delete the backend on {roles.churned}"):
            capture.mark(removed)
            held.mark(removed)
            since = time.monotonic()
            objects.delete(cluster, ObjectRef("Pod", backend.name, service.namespace))
            paths.converge(service.prefix, roles.kept,
                           f"{LOCAL_WHY}: {roles.churned} has none left", since=since)
            time.sleep(HOLD_S)
        return held.finish()


def check_seen(survivals: list[Survival]) -> None:
    """Every connection was seen leaving the router: a connection the capture missed could
    not be judged."""
    __tracebackhide__ = True
    unseen = [s for s in survivals if not s.seen]
    assert not unseen, (
        f"{len(unseen)} of {len(survivals)} connections: expected the router to forward their "
        "packets to some node, capture saw none of " + ", ".join(str(s.flow) for s in unseen))


@pytest.mark.xdist_group("hash-policy")
def test_connections_on_an_unchanged_next_hop_survive_next_hop_churn(
    router_hash_policy: HashPolicy, cbgp_scenario: Scenario, cbgp_pool: Pool,
    cbgp_kube: Cluster, cbgp_router: FrrRouter, cbgp_client: Transport,
    cbgp_client_host: Host, cbgp_inventory: Inventory, cbgp_paths: NodePaths,
    cbgp_settings: Settings,
) -> None:
    roles = Roles.of(cbgp_inventory)
    budget: int = cbgp_settings.connection_break_budget.value
    # The capture watches the test's pool slice, so scapy loads while the Service is made.
    with StepCapture(cbgp_router.transport, [cbgp_pool.slice.cidr],
                     node_facing_interfaces(cbgp_inventory), step=roles.steps[0]) as capture:
        with report.step(f"Service etp=Local with backends on {list(roles.kept)}"):
            service = cbgp_scenario.service(cbgp_pool, policy="Local", backend_nodes=roles.kept)
            cbgp_paths.converge(service.prefix, roles.kept, LOCAL_WHY)
        with report.step(f"{CONNECTIONS} keep-alive connections to {service.address} from "
                         f"{cbgp_client_host.name}, hash={router_hash_policy.label}"):
            ended = hold_through_churn(roles, service, capture, cbgp_scenario, cbgp_kube,
                                       cbgp_client, cbgp_paths)
        packets = capture.finish()
    trails = Trails.attribute(packets, router_neighbours(cbgp_router.transport))
    names = {str(node.address): node.name for node in cbgp_inventory.nodes}
    survivals = join(ended, trails, str(cbgp_client_host.address), service.address, 80, names)
    tally = Tally.of(survivals)
    report.attach_text(f"connections through next-hop churn, hash={router_hash_policy.label}",
                       render(survivals, roles.steps) + "\n" + tally.render())
    check_seen(survivals)
    over = [s for s in survivals if s.counts_against_budget]
    assert len(over) <= budget, (
        f"{len(over)} of {tally.kept} connections whose next hop did not change broke while "
        f"{roles.churned}'s backend came and went (hash={router_hash_policy.label}); expected "
        f"at most {budget} ({CONNECTION_BREAK_BUDGET.flag}): " + "; ".join(
            f"{s.flow} via {'/'.join(sorted({n for ns in s.nodes.values() for n in ns}))}: "
            f"{s.outcome()}" for s in over))
