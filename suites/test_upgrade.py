"""The upgrade gate's middle: Cilium is upgraded while a steady client uses an LB IP.

Runs with ``--cbgp-upgrade-to=VERSION`` only, between the suite's checks before the upgrade and
the same checks after it (see ``pytest_ciliumbgp.upgrade.plugin``); otherwise it skips. The
upgrade replaces every node's agent, one node after another. Under hash policy L4 the client's
requests and held connections spread over every node, so each node's restart meets some of
them. What they may lose is ``--cbgp-disruption-budget`` (default 0 requests): with graceful
restart the router keeps each node's paths while its agent is replaced and nothing is lost;
without it the router drops them, and the connections through that node break.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.disruption.steady_client import SteadyClient
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube.scenario import Pool, Scenario
from pytest_ciliumbgp.router.node_paths import NodePaths
from pytest_ciliumbgp.router.sysctl import HashPolicy
from pytest_ciliumbgp.settings import DISRUPTION_BUDGET, Settings
from pytest_ciliumbgp.transport import Transport
from pytest_ciliumbgp.upgrade.plugin import UpgradeGate

# The client sends this long before and after the upgrade, so both show in its counts.
HOLD_S = 1.0
CLUSTER_WHY = "every node under Cluster"


def test_cilium_upgrade_stays_within_the_disruption_budget(
    cbgp_upgrade: UpgradeGate, bgp_sessions_alone: None,
    cbgp_hash_policy: Callable[[HashPolicy], HashPolicy], cbgp_scenario: Scenario,
    cbgp_pool: Pool, cbgp_client: Transport, cbgp_inventory: Inventory,
    cbgp_paths: NodePaths, cbgp_settings: Settings,
    request: pytest.FixtureRequest,
) -> None:
    budget: int = cbgp_settings.disruption_budget.value
    cbgp_hash_policy(HashPolicy.L4)
    nodes = [node.name for node in cbgp_inventory.nodes]
    with report.step(f"Before: Service etp=Cluster with backends on {nodes}"):
        service = cbgp_scenario.service(cbgp_pool, policy="Cluster", backend_nodes=nodes)
        cbgp_paths.converge(service.prefix, nodes, CLUSTER_WHY)
    with SteadyClient(cbgp_client, service.address, step="before the upgrade") as steady:
        unanswered = [c for c in steady.opened if c.broke or not c.answers]
        assert not unanswered, (
            f"keep-alive connections to {service.address}: expected each answered before the "
            f"upgrade, unanswered: {', '.join(str(c.connection) for c in unanswered)}")
        time.sleep(HOLD_S)
        with report.step(f"During: upgrade Cilium to {cbgp_upgrade.version}"):
            steady.mark("upgrading")
            upgrade = cbgp_upgrade.run()
            report.attach_text("upgrade", str(upgrade))
        with report.step(f"After: the router holds {service.prefix} from every node"):
            steady.mark("upgraded")
            cbgp_paths.converge(service.prefix, nodes, CLUSTER_WHY)
            time.sleep(HOLD_S)
        disruption = steady.finish()
    cbgp_upgrade.measured(disruption)
    request.node.user_properties.append(("upgrade", str(upgrade)))
    request.node.user_properties.append(("disruption", disruption.summary()))
    report.attach_json("steady client during the upgrade", disruption.as_document())
    assert disruption.within(budget), (
        f"upgrade of Cilium ({upgrade}): expected at most {budget} failed requests "
        f"({DISRUPTION_BUDGET.flag}), the client behind the router saw {disruption.summary()}: "
        f"{disruption.details()}")
