"""Upgrading Cilium as it was installed: the agents' image set and rolled node by node (against
an emulated API server whose DaemonSet pods are run by fake agents), or ``helm upgrade`` for a
Helm release (a fake ``helm`` on PATH records what it was asked)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.boot import cilium_daemonset
from pytest_ciliumbgp.emulator.cilium import agent_pods
from pytest_ciliumbgp.emulator.cilium.agent_pods import CiliumAgentPods
from pytest_ciliumbgp.emulator.kubeapi.cilium_release import cilium_release
from pytest_ciliumbgp.kube.client import Cluster, connect
from pytest_ciliumbgp.upgrade.rollout import (
    HELM,
    IMAGE,
    UpgradeError,
    helm_release,
    helm_upgrade_argv,
    image_for,
    rolled_out,
    upgrade,
)
from tests.apiserver import Api
from tests.bgp.test_agent_pods import FakeAgent
from tests.workloads.conftest import THREE_NODES, add_nodes

NODES = [node.name for node in THREE_NODES.nodes]


@pytest.mark.parametrize(("image", "expected"), [
    ("quay.io/cilium/cilium:v1.18.2", "quay.io/cilium/cilium:v1.19.0"),
    ("quay.io/cilium/cilium:v1.18.2@sha256:abc", "quay.io/cilium/cilium:v1.19.0"),
    ("registry.local:5000/cilium/cilium:v1.18.2", "registry.local:5000/cilium/cilium:v1.19.0"),
    ("registry.local:5000/cilium/cilium", "registry.local:5000/cilium/cilium:v1.19.0"),
])
def test_the_image_gets_the_versions_tag(image: str, expected: str) -> None:
    assert image_for(image, "1.19.0") == expected


def test_a_helm_release_is_found_by_its_annotations() -> None:
    managed = {"metadata": {"annotations": {"meta.helm.sh/release-name": "cilium",
                                            "meta.helm.sh/release-namespace": "kube-system"}}}
    assert helm_release(managed) == ("cilium", "kube-system")
    assert helm_release({"metadata": {}}) is None


def test_helm_upgrade_keeps_the_values_and_names_the_kubeconfig() -> None:
    assert helm_upgrade_argv("cilium", "kube-system", "1.19.0", "/lab/kubeconfig") == [
        "helm", "upgrade", "cilium", "cilium/cilium", "--version", "1.19.0", "--reuse-values",
        "--namespace", "kube-system", "--kubeconfig", "/lab/kubeconfig"]


@pytest.mark.parametrize(("status", "generation", "done"), [
    ({"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3,
      "numberAvailable": 3}, 2, True),
    ({"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3,
      "numberAvailable": 3}, 2, False),
    ({"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 2,
      "numberAvailable": 3}, 2, False),
    ({"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3,
      "numberAvailable": 2}, 2, False),
])
def test_rolled_out_means_every_node_runs_a_ready_pod_of_the_new_template(
    status: dict[str, Any], generation: int, done: bool,
) -> None:
    assert rolled_out({"status": status}, generation) is done


@pytest.fixture
def cluster(api: Api) -> Iterator[Cluster]:
    made = connect(api.kubeconfig)
    yield made
    made.close()


def boot(api: Api, annotations: dict[str, str] | None = None) -> None:
    add_nodes(api.store)
    daemonset = cilium_daemonset(cilium_release(), len(NODES))
    daemonset.pop("status")
    daemonset["metadata"]["annotations"] = dict(annotations or {})
    api.store.create("daemonsets", daemonset, "kube-system")


@pytest.fixture
def agents(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, FakeAgent]]:
    monkeypatch.setattr(agent_pods, "AGENT_STARTUP_S", 0.0)
    boot(api)
    fakes = {name: FakeAgent() for name in NODES}
    controller = CiliumAgentPods(api.store, THREE_NODES, fakes)
    controller.start()
    yield fakes
    controller.stop()


def test_an_install_without_helm_gets_its_image_set_and_rolls(
    cluster: Cluster, agents: dict[str, FakeAgent],
) -> None:
    done = upgrade(cluster, "1.19.0", timeout=30)

    assert (done.from_image, done.to_image, done.method) == (
        "quay.io/cilium/cilium:v1.18.2", "quay.io/cilium/cilium:v1.19.0", IMAGE)
    assert all(agent.calls == ["stop", "start"] for agent in agents.values())


def test_a_rollout_that_does_not_finish_is_one_line(
    cluster: Cluster, agents: dict[str, FakeAgent],
) -> None:
    for agent in agents.values():
        agent.ready_on_start = False  # the new agents never come up

    with pytest.raises(UpgradeError, match=r"^gave up waiting until DaemonSet kube-system/cilium "
                                           r"rolled out after 2 s; last seen 1 of 3 pods "
                                           r"updated, 2 available$"):
        upgrade(cluster, "1.19.0", timeout=2)


@pytest.fixture
def fake_helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``helm`` on PATH that writes its arguments to ``helm.args`` and answers as told by
    ``helm.exit`` (exit code) and ``helm.err`` (stderr)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "helm"
    script.write_text("#!/bin/sh\n"
                      f'printf "%s\\n" "$@" > {tmp_path}/helm.args\n'
                      f"cat {tmp_path}/helm.err >&2 2>/dev/null\n"
                      f"exit $(cat {tmp_path}/helm.exit 2>/dev/null || echo 0)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


HELM_MANAGED = {"meta.helm.sh/release-name": "cilium",
                "meta.helm.sh/release-namespace": "kube-system"}


def test_a_helm_release_is_upgraded_with_helm(api: Api, cluster: Cluster,
                                              fake_helm: Path) -> None:
    boot(api, HELM_MANAGED)
    api.store.patch("daemonsets", "cilium", {"status": {
        "observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3,
        "updatedNumberScheduled": 3, "numberAvailable": 3, "numberReady": 3,
        "numberMisscheduled": 0}}, "kube-system", status=True)

    done = upgrade(cluster, "1.19.0", kubeconfig=str(api.kubeconfig), timeout=10)

    assert done.method == HELM
    assert (fake_helm / "helm.args").read_text().split("\n")[:-1] == [
        "upgrade", "cilium", "cilium/cilium", "--version", "1.19.0", "--reuse-values",
        "--namespace", "kube-system", "--kubeconfig", str(api.kubeconfig)]


def test_a_failing_helm_upgrade_is_one_line(api: Api, cluster: Cluster,
                                            fake_helm: Path) -> None:
    boot(api, HELM_MANAGED)
    (fake_helm / "helm.exit").write_text("1")
    (fake_helm / "helm.err").write_text("Error: UPGRADE FAILED: chart not found\n")

    with pytest.raises(UpgradeError, match=r"helm upgrade cilium cilium/cilium --version "
                                           r"1.19.0 .* exited 1: Error: UPGRADE FAILED: "
                                           r"chart not found$"):
        upgrade(cluster, "1.19.0", timeout=10)


def test_no_cilium_no_upgrade(cluster: Cluster) -> None:
    with pytest.raises(UpgradeError, match=r"^no Cilium agents to upgrade: read DaemonSet "
                                           r"kube-system/cilium"):
        upgrade(cluster, "1.19.0", timeout=10)
