"""The suite's own wiring: the run-wide lock on the lab's BGP sessions. (The upgrade gate,
``--cbgp-upgrade-to``, is part of the plugin: ``pytest_ciliumbgp.upgrade.plugin``.)

Checks that reset every BGP session (agent restarts, graceful restart switched, an upgrade)
take ``bgp_sessions_alone``; every other check shares the lock, so they never overlap with one
of those, under xdist either.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_ciliumbgp.disruption.session_lock import sessions_lock
from pytest_ciliumbgp.labs import Lab
from pytest_ciliumbgp.settings import RUN_DIR_KEY

ALONE = "bgp_sessions_alone"

@pytest.fixture
def bgp_sessions_alone(cbgp_lab: Lab, pytestconfig: pytest.Config) -> Iterator[None]:
    """This check resets the lab's BGP sessions: no other check runs meanwhile."""
    with sessions_lock(pytestconfig.stash[RUN_DIR_KEY], exclusive=True):
        yield


@pytest.fixture(autouse=True)
def _bgp_sessions_shared(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every other check runs while no session is being reset."""
    if ALONE in request.fixturenames:
        yield
        return
    request.getfixturevalue("cbgp_lab")
    with sessions_lock(request.config.stash[RUN_DIR_KEY], exclusive=False):
        yield
