"""The upgrade gate end to end on a lab of its own (``pytest --cbgp-upgrade-to=VERSION``): the
suite's checks before, the emulated agents rolled to the new image under a steady client, the
checks after. With graceful restart in the lab's peer config nothing is lost and the run is
green; without it the router drops each node's paths as its agent is replaced, and the run
fails under the default zero budget, while the checks before and after still pass."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from pytest_ciliumbgp.disruption.agents import agent_pods, pod_ready
from pytest_ciliumbgp.kube import ObjectRef, objects
from pytest_ciliumbgp.upgrade.rollout import agent_image, read_daemonset
from tests.lab.cluster import Lab
from tests.lab.conftest import ROOT, LabCli, lab_cli

pytestmark = pytest.mark.lab

PEER_CONFIG = ObjectRef("CiliumBGPPeerConfig", "cilium-peer")
GATE = "suites/test_upgrade.py::test_cilium_upgrade_stays_within_the_disruption_budget"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    for cli in lab_cli("cbgpt7", tmp_path_factory.mktemp("cbgpt7")):
        up = cli.run("up")
        assert up.returncode == 0, up.stderr
        with Lab.connected(cli) as running:
            yield running


def run_gate(cli: LabCli, version: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites/test_bgp_sessions.py", "suites/test_upgrade.py",
         "--lab=netns", "-p", "no:cacheprovider", "-rA", f"--cbgp-upgrade-to={version}"],
        env=cli.env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)


def test_the_gate_passes_with_graceful_restart_and_leaves_the_new_version(lab: Lab) -> None:
    result = run_gate(lab.cli, "1.18.3")

    assert result.returncode == 0, result.stdout[-4000:]
    assert "7 passed" in result.stdout
    for line in ("before: 3 passed", "after: 3 passed",
                 "during: quay.io/cilium/cilium:v1.18.2 -> quay.io/cilium/cilium:v1.18.3 by "
                 "image set, rolled out in "):
        assert line in result.stdout, result.stdout[-2000:]
    assert "; within the budget of 0 failed requests" in result.stdout
    assert agent_image(read_daemonset(lab.cluster)) == "quay.io/cilium/cilium:v1.18.3"
    pods = agent_pods(lab.cluster)
    assert sorted(pods) == sorted(node["name"] for node in lab.cli.status()["hosts"]
                                  if node["role"] == "node")
    for node, pod in pods.items():
        assert pod["spec"]["containers"][0]["image"] == "quay.io/cilium/cilium:v1.18.3", node
        assert pod_ready(pod), node


@pytest.fixture
def graceful_restart_off(lab: Lab) -> Iterator[None]:
    objects.patch(lab.cluster, PEER_CONFIG, {"spec": {"gracefulRestart": {"enabled": False}}})
    yield
    objects.patch(lab.cluster, PEER_CONFIG, {"spec": {"gracefulRestart": {"enabled": True}}})


def test_the_gate_fails_under_a_zero_budget_without_graceful_restart(
    lab: Lab, graceful_restart_off: None,
) -> None:
    result = run_gate(lab.cli, "1.18.4")

    assert result.returncode == 1, result.stdout[-4000:]
    assert "1 failed, 6 passed" in result.stdout
    assert f"FAILED {GATE}" in result.stdout
    assert "expected at most 0 failed requests (--cbgp-disruption-budget), the client behind " \
           "the router saw" in result.stdout
    assert "OVER the budget of 0 failed requests" in result.stdout
    assert "after: 3 passed" in result.stdout
