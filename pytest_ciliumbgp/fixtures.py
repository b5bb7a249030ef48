"""The public fixtures of pytest-ciliumbgp, all prefixed ``cbgp_``.

Layered by scope: the session-wide settings, inventory, lab and router, then per-test values.
Each is thin and calls the libraries. A conftest may override ``cbgp_inventory`` (or any other)
to point the suite at another topology.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest

from pytest_ciliumbgp import lifecycle
from pytest_ciliumbgp.inventory import Inventory, Node
from pytest_ciliumbgp.labs import Lab, LabError
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.settings import (
    LAB_KEY,
    RUN_DIR_KEY,
    SETTINGS_KEY,
    WORKER_LAB_ERROR,
    WORKER_RUN_DIR,
    Settings,
)


@pytest.fixture(scope="session")
def cbgp_settings(pytestconfig: pytest.Config) -> Settings:
    """This run's settings: the lab (``--lab``), its inventory file (``--lab-file``),
    ``--keep-lab``, each with where its value came from, and the run id shared by xdist
    workers."""
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


@pytest.fixture
def cbgp_node(request: pytest.FixtureRequest) -> Node:
    """One node of the inventory. A test that takes it runs once per node, with the node's name
    as its id, e.g. ``test_session[k8s-w0]``."""
    node: Node = request.param
    return node


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
