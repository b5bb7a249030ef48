"""The graceful restart checks (``suites/test_graceful_restart.py``) end to end on a lab of their
own: green on the lab as it comes (its peer config has graceful restart on); once the peer
config has it off, the check of the cluster as configured fails under the default zero budget
and says why, and passes again with a budget that covers the loss. The lab's bookkeeping follows
the restarts: the new speakers are recorded and ``down`` removes them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from pytest_ciliumbgp.emulator.processes import start_time_of
from pytest_ciliumbgp.kube import ObjectRef, objects
from tests.lab.cluster import Lab
from tests.lab.conftest import ROOT, LabCli, lab_cli

pytestmark = pytest.mark.lab

PEER_CONFIG = ObjectRef("CiliumBGPPeerConfig", "cilium-peer")
AS_CONFIGURED = "test_agent_restart_stays_within_the_disruption_budget"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    for cli in lab_cli("cbgpt8", tmp_path_factory.mktemp("cbgpt8")):
        up = cli.run("up")
        assert up.returncode == 0, up.stderr
        with Lab.connected(cli) as running:
            yield running


def run_checks(cli: LabCli, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites/test_graceful_restart.py", "--lab=netns",
         "-p", "no:cacheprovider", "-rA", *args],
        env=cli.env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def speakers(cli: LabCli) -> dict[str, int]:
    return {host["name"]: process["pid"] for host in cli.status()["hosts"]
            for process in host["processes"] if process["name"] == "gobgpd"}


@pytest.fixture
def graceful_restart_off(lab: Lab) -> Iterator[None]:
    objects.patch(lab.cluster, PEER_CONFIG, {"spec": {"gracefulRestart": {"enabled": False}}})
    yield
    objects.patch(lab.cluster, PEER_CONFIG, {"spec": {"gracefulRestart": {"enabled": True}}})


def test_the_checks_pass_on_the_lab_as_it_comes(lab: Lab) -> None:
    before = speakers(lab.cli)

    result = run_checks(lab.cli)

    assert result.returncode == 0, result.stdout[-4000:]
    assert "3 passed" in result.stdout
    status = lab.cli.status()
    assert status["state"] == "running", "every restarted speaker is recorded and alive"
    restarted = {node for node, pid in speakers(lab.cli).items() if before.get(node) != pid}
    assert restarted, f"no node's speaker was restarted: {before}"


def test_without_graceful_restart_the_configured_check_fails_and_says_why(
    lab: Lab, graceful_restart_off: None,
) -> None:
    result = run_checks(lab.cli, "-k", AS_CONFIGURED)

    assert result.returncode == 1, result.stdout[-4000:]
    assert "1 failed" in result.stdout
    assert "(CiliumBGPPeerConfig cilium-peer: graceful restart off): expected at most 0 " \
           "failed requests (--cbgp-disruption-budget), the client behind the router saw" \
           in result.stdout


def test_a_budget_that_covers_the_loss_lets_it_pass(lab: Lab, graceful_restart_off: None,
                                                    ) -> None:
    result = run_checks(lab.cli, "-k", AS_CONFIGURED, "--cbgp-disruption-budget=100000")

    assert result.returncode == 0, result.stdout[-4000:]
    assert "1 passed" in result.stdout


def test_down_removes_the_restarted_speakers(lab: Lab) -> None:
    pids = set(speakers(lab.cli).values())

    down = lab.cli.run("down")

    assert down.returncode == 0, down.stderr
    assert lab.cli.namespaces() == []
    assert lab.cli.daemons() == []
    assert [pid for pid in pids if start_time_of(pid) is not None] == []
