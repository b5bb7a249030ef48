"""The public fixtures of pytest-ciliumbgp, all prefixed ``cbgp_``.

Layered by scope: the session-wide settings, inventory, lab and router, then per-test values.
Each is thin and calls the libraries. A conftest may override ``cbgp_inventory`` (or any other)
to point the suite at another topology.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from pytest_ciliumbgp import lifecycle, report
from pytest_ciliumbgp.inventory import Host, Inventory, Node
from pytest_ciliumbgp.kube import objects, waits
from pytest_ciliumbgp.kube.client import Cluster, connect
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.pool_slices import PoolSlicer, worker_position
from pytest_ciliumbgp.kube.scenario import Ownership, Pool, Scenario
from pytest_ciliumbgp.kube.versions import CiliumApi, cilium_api
from pytest_ciliumbgp.labs import Lab, LabError
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.router.node_paths import NodePaths
from pytest_ciliumbgp.router.sysctl import HASH_POLICY_LOCK, HashPolicy, hash_policy
from pytest_ciliumbgp.settings import (
    LAB_KEY,
    RUN_DIR_KEY,
    SETTINGS_KEY,
    WORKER_LAB_ERROR,
    WORKER_RUN_DIR,
    Settings,
)
from pytest_ciliumbgp.transport import Transport


@pytest.fixture(scope="session")
def cbgp_settings(pytestconfig: pytest.Config) -> Settings:
    """This run's settings: the lab (``--lab``), its inventory file (``--lab-file``),
    ``--keep-lab``, ``--cbgp-convergence-budget``, each with where its value came from, and the
    run id shared by xdist workers."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def cbgp_inventory(cbgp_settings: Settings) -> Inventory:
    """The lab's inventory: router, nodes, clients, their addresses and ASNs, the LB pool and
    how each host is reached. Tests take their expectations from here, never from the system
    under test."""
    return cbgp_settings.inventory


@pytest.fixture(scope="session")
def cbgp_lab(
    cbgp_settings: Settings,
    cbgp_inventory: Inventory,
    pytestconfig: pytest.Config,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Lab:
    """The running lab named by ``--lab``. A lab that already runs is adopted and left running;
    one this run starts is stopped when the run ends, unless ``--keep-lab``. xdist workers share
    one start. A lab that cannot run ends the session (exit code 4) with one line saying why."""
    lab = cbgp_settings.lab_class(cbgp_inventory)
    run_dir = _run_dir(pytestconfig, tmp_path_factory)
    unusable: str | None = None
    try:
        lifecycle.acquire(lab, run_dir, cbgp_settings.run_id)
    except LabError as err:
        unusable = f"cbgp: {err}"
    if unusable is not None:  # outside the except block, so no chained traceback is shown
        _give_up(request.session, unusable)
    pytestconfig.stash[RUN_DIR_KEY] = run_dir
    pytestconfig.stash[LAB_KEY] = lab
    if hasattr(pytestconfig, "workeroutput"):
        pytestconfig.workeroutput[WORKER_RUN_DIR] = str(run_dir)
    return lab


@pytest.fixture(scope="session")
def cbgp_router(cbgp_lab: Lab) -> FrrRouter:
    """The lab's FRR router (``vtysh`` through the router host's transport), read the way an
    operator reads it: BGP peers, prefixes and paths, RIB and kernel routes."""
    return cbgp_lab.router()


@pytest.fixture(scope="session")
def cbgp_paths(cbgp_router: FrrRouter, cbgp_inventory: Inventory,
               cbgp_settings: Settings) -> NodePaths:
    """The router's paths to LB IPs, checked in node names of the inventory:
    ``converge(prefix, nodes, why)`` waits until the router holds ``prefix`` from exactly
    ``nodes`` (none: withdrawn) in BGP and its FIB within ``budget`` seconds
    (``--cbgp-convergence-budget``) and returns how long that took; ``stays(prefix, nodes, why,
    seconds)`` watches that it keeps exactly those nodes (none: absent). Both fail like an
    ``assert``, with expected and seen nodes, and attach the router's view of the prefix."""
    return NodePaths(cbgp_router, cbgp_inventory, cbgp_settings.convergence_budget.value)


@pytest.fixture
def cbgp_node(request: pytest.FixtureRequest) -> Node:
    """One node of the inventory. A test that takes it runs once per node, with the node's name
    as its id, e.g. ``test_session[k8s-w0]``."""
    node: Node = request.param
    return node


@pytest.fixture(scope="session")
def cbgp_kube(cbgp_lab: Lab, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The lab's Kubernetes API (official client). An unusable kubeconfig or an unreachable API
    server ends the session with one line saying which."""
    failed: str | None = None
    try:
        cluster = connect(cbgp_lab.kubeconfig())
        cluster.server_version()
    except KubeError as err:
        failed = f"cbgp: Kubernetes API of lab {cbgp_lab.name} not usable: {err}"
    if failed is not None:
        _give_up(request.session, failed)
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def cbgp_cilium(cbgp_kube: Cluster, request: pytest.FixtureRequest) -> CiliumApi:
    """The Cilium API the cluster serves (``cilium.io/v2`` from 1.18, ``v2alpha1`` before),
    found by discovery. Missing CRDs end the session with one line naming them."""
    failed: str | None = None
    try:
        return cilium_api(cbgp_kube)
    except KubeError as err:
        failed = f"cbgp: {err}"
    _give_up(request.session, failed)


@pytest.fixture(scope="session")
def cbgp_advertise_labels(cbgp_kube: Cluster, cbgp_cilium: CiliumApi) -> dict[str, str]:
    """The labels that make the cluster's CiliumBGPPeerConfig pick up an advertisement: the
    ``matchLabels`` of the first IPv4 unicast family's advertisement selector."""
    for peer_config in objects.list_objects(cbgp_kube, "CiliumBGPPeerConfig"):
        for family in (peer_config.get("spec") or {}).get("families") or []:
            labels = (family.get("advertisements") or {}).get("matchLabels")
            if family.get("afi") == "ipv4" and labels:
                return dict(labels)
    pytest.skip("no CiliumBGPPeerConfig selects advertisements by matchLabels for IPv4 unicast; "
                "apply the lab's BGP peer config first")


@pytest.fixture(scope="session")
def cbgp_pool_slices(cbgp_inventory: Inventory) -> PoolSlicer:
    """Hands each test its own /28 of the inventory's LB range; xdist workers get disjoint
    slices, so parallel tests never share an address."""
    worker, workers = worker_position(os.environ.get("PYTEST_XDIST_WORKER"),
                                      os.environ.get("PYTEST_XDIST_WORKER_COUNT"))
    return PoolSlicer(cbgp_inventory.lb_pool, worker, workers)


@pytest.fixture(scope="session")
def cbgp_owned(cbgp_kube: Cluster, cbgp_settings: Settings) -> Iterator[list[str]]:
    """The test ids this process made objects for. At the end of the session anything still
    carrying one of them (a cleanup that failed) is removed and fails the run."""
    test_ids: list[str] = []
    yield test_ids
    left = [ref for test_id in test_ids
            for ref in objects.leftovers(cbgp_kube, cbgp_settings.run_id, test_id)]
    if left:
        for test_id in test_ids:
            objects.delete_owned(cbgp_kube, cbgp_settings.run_id, test_id)
        pytest.fail(f"objects of run {cbgp_settings.run_id} left behind after the session: "
                    f"{', '.join(map(str, left))}", pytrace=False)


@pytest.fixture
def cbgp_scenario(
    cbgp_kube: Cluster,
    cbgp_cilium: CiliumApi,
    cbgp_settings: Settings,
    cbgp_advertise_labels: dict[str, str],
    cbgp_owned: list[str],
    request: pytest.FixtureRequest,
) -> Iterator[Scenario]:
    """Builds this test's pools, Services, backends and advertisements, each stamped with the
    run's and the test's ownership labels; everything is deleted after the test (and waited
    for), whatever its outcome. The applied manifests are attached to the report."""
    ownership = Ownership.of(cbgp_settings.run_id, request.node.nodeid)
    cbgp_owned.append(ownership.test_id)
    scenario = Scenario(cbgp_kube, cbgp_cilium, ownership, cbgp_advertise_labels)
    try:
        yield scenario
    finally:
        if scenario.applied:
            report.attach_yaml("applied manifests", scenario.applied)
        objects.delete_owned(cbgp_kube, ownership.run_id, ownership.test_id)
        waits.wait_for_no_leftovers(cbgp_kube, ownership.run_id, ownership.test_id)


@pytest.fixture
def cbgp_pool(cbgp_scenario: Scenario, cbgp_pool_slices: PoolSlicer) -> Pool:
    """A CiliumLoadBalancerIPPool on this test's slice of the LB range, selecting only Services
    labelled with its name (``Scenario.service`` does that)."""
    return cbgp_scenario.pool(cbgp_pool_slices.next())


@pytest.fixture(scope="session")
def cbgp_client(cbgp_lab: Lab, cbgp_inventory: Inventory) -> Transport:
    """The first client host of the inventory (behind the router): where HTTP probes and
    crafted flows start."""
    if not cbgp_inventory.clients:
        pytest.skip(f"inventory {cbgp_inventory.name} has no client host behind the router")
    return cbgp_lab.transport(cbgp_inventory.clients[0].name)


@pytest.fixture(scope="session")
def cbgp_client_host(cbgp_inventory: Inventory) -> Host:
    """The inventory's entry of the first client host (its name, addresses, interfaces), for
    the addresses flows start from; ``cbgp_client`` is how to run commands there."""
    if not cbgp_inventory.clients:
        pytest.skip(f"inventory {cbgp_inventory.name} has no client host behind the router")
    return cbgp_inventory.clients[0]


@pytest.fixture
def cbgp_hash_policy(
    cbgp_router: FrrRouter, cbgp_lab: Lab, pytestconfig: pytest.Config
) -> Iterator[Callable[[HashPolicy], HashPolicy]]:
    """Sets the router's ``net.ipv4.fib_multipath_hash_policy`` for this test:
    ``cbgp_hash_policy(HashPolicy.L4)``. The policy is router-wide, so the first call takes a
    lock that every xdist worker of the run shares (one test at a time changes it), and the
    previous policy is restored after the test whatever its outcome."""
    with contextlib.ExitStack() as stack:
        locked = False

        def set_policy(policy: HashPolicy) -> HashPolicy:
            nonlocal locked
            if not locked:
                stack.enter_context(lifecycle.exclusive(_run_dir_of(pytestconfig),
                                                        HASH_POLICY_LOCK))
                locked = True
            stack.enter_context(hash_policy(cbgp_router.transport, policy))
            return policy

        yield set_policy


def _run_dir_of(config: pytest.Config) -> Path:
    run_dir: Path = config.stash[RUN_DIR_KEY]
    return run_dir


def _give_up(session: pytest.Session, message: str) -> NoReturn:
    """End the run with exit code 4 and ``message`` as its one line."""
    config = session.config
    if hasattr(config, "workeroutput"):
        # pytest.exit inside an xdist worker crashes the controller: fail this test without a
        # traceback, stop the worker, and let the controller end the run with the message.
        config.workeroutput[WORKER_LAB_ERROR] = message
        session.shouldstop = message
        pytest.fail(message, pytrace=False)
    pytest.exit(message, returncode=pytest.ExitCode.USAGE_ERROR)


def _run_dir(config: pytest.Config, factory: pytest.TempPathFactory) -> Path:
    # An xdist worker's base temp dir sits inside the controller's: the run shares that one.
    basetemp = factory.getbasetemp()
    return basetemp.parent if hasattr(config, "workerinput") else basetemp
