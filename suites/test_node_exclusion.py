"""A node the CiliumBGPClusterConfig's nodeSelector leaves out advertises nothing.

The test leaves one node out of the lab's own cluster config(s) for its duration — a
``NotIn`` on the node's hostname added to each nodeSelector — and puts every config's spec back
as it was afterwards, whatever the outcome, then waits until the node's session is up again.
That resets a BGP session, so no other check runs meanwhile (``bgp_sessions_alone``). With
graceful restart on, the router may keep the node's paths, stale, for the restart time: the
agent's Cease is then a graceful one (RFC 8538).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.disruption.agents import graceful_restart_of, peer_config_of
from pytest_ciliumbgp.inventory import Inventory, Node
from pytest_ciliumbgp.kube import objects
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import WaitTimeout
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.scenario import Pool, Scenario
from pytest_ciliumbgp.kube.waits import wait_until
from pytest_ciliumbgp.router import FrrRouter, RouterError
from pytest_ciliumbgp.router.model import BgpPeer
from pytest_ciliumbgp.router.node_paths import NodePaths

# The lab's peer config holds a session 9 s without keepalives; a node that stops speaking
# cleanly closes it at once, one that just goes quiet takes the hold time.
SESSION_DOWN_S = 20.0
# After the restore the node reconnects on its connect-retry timer (5 s in the lab).
SESSION_UP_S = 60.0
HOSTNAME_LABEL = "kubernetes.io/hostname"
# Cilium's default gracefulRestart.restartTimeSeconds.
DEFAULT_RESTART_TIME_S = 120.0


def session_of(router: FrrRouter, node: Node) -> BgpPeer | None:
    try:
        return router.bgp_peers().get(str(node.address))
    except RouterError:
        return None


def wait_for_session(router: FrrRouter, node: Node, up: bool, timeout: float) -> BgpPeer | None:
    """The router's session from ``node`` once it is (``up``) or is not Established; raises
    WaitTimeout with the last one seen."""

    def probe() -> tuple[bool, BgpPeer | None]:
        peer = session_of(router, node)
        return (peer is not None and peer.established) == up, peer

    state = "Established" if up else "down"
    return wait_until(f"session from {node.name} is {state}", probe, timeout)


class NodeExclusion:
    """Leaves nodes out of the cluster's CiliumBGPClusterConfigs; ``restore`` puts each spec
    back exactly as it was."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.originals: dict[str, dict[str, Any]] = {}

    def exclude(self, node: Node) -> list[str]:
        """Add ``hostname NotIn [node]`` to every cluster config's nodeSelector; the names of
        the configs changed."""
        configs = objects.list_objects(self.cluster, "CiliumBGPClusterConfig")
        if not configs:
            pytest.skip("the cluster has no CiliumBGPClusterConfig to leave a node out of")
        for config in configs:
            name = str(config["metadata"]["name"])
            spec = config.get("spec") or {}
            self.originals.setdefault(name, copy.deepcopy(spec))
            selector = copy.deepcopy(spec.get("nodeSelector") or {})
            selector.setdefault("matchExpressions", []).append(
                {"key": HOSTNAME_LABEL, "operator": "NotIn", "values": [node.name]})
            objects.patch(self.cluster, self._ref(name), {"spec": {"nodeSelector": selector}})
        return sorted(self.originals)

    def restore(self) -> list[str]:
        """Put every changed spec back; the configs whose spec still differs afterwards."""
        differ = []
        for name, original in self.originals.items():
            current = objects.get(self.cluster, self._ref(name)).get("spec") or {}
            # A merge patch merges maps: keys the test added must be removed by name.
            wanted = original.get("nodeSelector")
            added = {key: None for key in current.get("nodeSelector") or {}}
            selector = None if wanted is None else {**added, **wanted}
            objects.patch(self.cluster, self._ref(name), {"spec": {"nodeSelector": selector}})
            if objects.get(self.cluster, self._ref(name)).get("spec") != original:
                differ.append(name)
        return differ

    @staticmethod
    def _ref(name: str) -> ObjectRef:
        return ObjectRef("CiliumBGPClusterConfig", name)


@pytest.fixture
def node_exclusion(cbgp_kube: Cluster, cbgp_router: FrrRouter,
                   cbgp_inventory: Inventory) -> Iterator[NodeExclusion]:
    """Leaves nodes out of the lab's cluster configs for one test; restores them afterwards and
    waits until every node's session is Established again, so later tests find the lab whole."""
    exclusion = NodeExclusion(cbgp_kube)
    try:
        yield exclusion
    finally:
        if exclusion.originals:
            differ = exclusion.restore()
            if differ:
                pytest.fail(f"CiliumBGPClusterConfig {', '.join(differ)}: spec not restored "
                            f"to {exclusion.originals}", pytrace=False)
            for node in cbgp_inventory.nodes:
                wait_for_session(cbgp_router, node, True, SESSION_UP_S)


def stale_retention(cluster: Cluster, node: Node) -> float:
    """How long the router may keep a de-configured node's paths, marked stale: its peer
    config's graceful-restart time when that is on (the agent's Cease carries the N bit, so the
    router treats it as a restart, RFC 8538), else nothing."""
    restart = graceful_restart_of(cluster, peer_config_of(cluster, node.name))
    if not restart.get("enabled"):
        return 0.0
    return float(restart.get("restartTimeSeconds") or DEFAULT_RESTART_TIME_S)


def test_excluded_node_advertises_nothing(
    node_exclusion: NodeExclusion, bgp_sessions_alone: None, cbgp_scenario: Scenario,
    cbgp_pool: Pool, cbgp_router: FrrRouter, cbgp_inventory: Inventory, cbgp_paths: NodePaths,
    cbgp_kube: Cluster,
) -> None:
    every_node = [node.name for node in cbgp_inventory.nodes]
    excluded = cbgp_inventory.nodes[-1]
    others = [name for name in every_node if name != excluded.name]
    # Backends everywhere: only the node selection can keep the excluded node quiet.
    with report.step(f"Cluster Service with backends on {every_node}"):
        service = cbgp_scenario.service(cbgp_pool, backend_nodes=every_node)
    with report.step(f"Router holds {service.prefix} from every node"):
        cbgp_paths.converge(service.prefix, every_node,
                            "every selected node under Cluster, before the exclusion")
    stale = stale_retention(cbgp_kube, excluded)
    with report.step(f"Leave {excluded.name} out of the cluster config's nodeSelector"):
        changed = node_exclusion.exclude(excluded)
    why = f"{excluded.name} is left out of CiliumBGPClusterConfig {', '.join(changed)}"
    if stale:
        why += f"; its paths may stay stale for the graceful-restart time, {stale:g} s"
    with report.step(f"Router holds {service.prefix} from {others} only"):
        replace(cbgp_paths, budget=cbgp_paths.budget + stale).converge(
            service.prefix, others, why)
    with report.step(f"Router's session from {excluded.name} goes down"):
        try:
            wait_for_session(cbgp_router, excluded, False, SESSION_DOWN_S)
            return
        except WaitTimeout as timeout:
            peer = timeout.last_state
    report.attach_text("router: show bgp summary", cbgp_router.summary_text())
    state = peer.state if isinstance(peer, BgpPeer) else "?"
    pytest.fail(f"session from {excluded.name} ({excluded.address}): expected down ({why}) "
                f"within {SESSION_DOWN_S:g} s, router has it {state}", pytrace=False)
