"""The cilium DaemonSet's pods as an operator sees them: one per node, adopted by the agents
that run from the start; a deleted pod restarts its node's agent and is replaced; a new
template rolls node by node; host-network pods are not the kubelet's to run. Agents are fakes
here: what the controller asks of them is the point."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ciliumbgp.emulator.boot import cilium_daemonset
from pytest_ciliumbgp.emulator.cilium import agent_pods
from pytest_ciliumbgp.emulator.cilium.agent_pods import (
    REVISION_LABEL,
    CiliumAgentPods,
    max_unavailable,
)
from pytest_ciliumbgp.emulator.kubeapi.cilium_release import cilium_release
from pytest_ciliumbgp.emulator.kubeapi.patching import STRATEGIC_MERGE_PATCH
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.workloads.deployments import is_ready
from pytest_ciliumbgp.emulator.workloads.kubelet import Kubelet
from tests.workloads.conftest import THREE_NODES, add_nodes, pod_body

NODES = [node.name for node in THREE_NODES.nodes]


class FakeAgent:
    """Records what it was told; Ready as the test says."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.is_ready = True
        #: whether an agent is Ready at once after a start (else when the test says)
        self.ready_on_start = True

    def stop_agent(self) -> None:
        self.calls.append("stop")
        self.is_ready = False

    def start_agent(self) -> None:
        self.calls.append("start")
        self.is_ready = self.ready_on_start

    def ready(self) -> bool:
        return self.is_ready


@pytest.fixture
def agents() -> dict[str, FakeAgent]:
    return {name: FakeAgent() for name in NODES}


@pytest.fixture
def store() -> Store:
    made = Store()
    add_nodes(made)
    daemonset = cilium_daemonset(cilium_release(), len(NODES))
    daemonset.pop("status")
    made.create("daemonsets", daemonset, "kube-system")
    return made


@pytest.fixture
def controller(store: Store, agents: dict[str, FakeAgent],
               monkeypatch: pytest.MonkeyPatch) -> CiliumAgentPods:
    monkeypatch.setattr(agent_pods, "AGENT_STARTUP_S", 0.0)
    return CiliumAgentPods(store, THREE_NODES, agents)


def pods_by_node(store: Store) -> dict[str, dict[str, Any]]:
    return {pod["spec"]["nodeName"]: pod for pod in store.list("pods", "kube-system")
            if not pod["metadata"].get("deletionTimestamp")}


def settle(controller: CiliumAgentPods, passes: int = 4) -> None:
    for _ in range(passes):
        controller.reconcile()


def daemonset_status(store: Store) -> dict[str, Any]:
    status: dict[str, Any] = store.get("daemonsets", "cilium", "kube-system")["status"]
    return status


def test_every_node_gets_one_ready_pod_run_by_the_agent_already_there(
    controller: CiliumAgentPods, store: Store, agents: dict[str, FakeAgent],
) -> None:
    settle(controller)

    pods = pods_by_node(store)
    assert sorted(pods) == sorted(NODES)
    for node, pod in pods.items():
        assert pod["metadata"]["name"].startswith("cilium-")
        assert pod["spec"]["hostNetwork"] is True
        assert pod["status"]["podIP"] == pod["status"]["hostIP"] == str(
            next(n.address for n in THREE_NODES.nodes if n.name == node))
        assert is_ready(pod)
    assert all(agent.calls == [] for agent in agents.values()), "adopted, not restarted"
    status = daemonset_status(store)
    assert (status["desiredNumberScheduled"], status["numberReady"],
            status["updatedNumberScheduled"], status.get("numberUnavailable")) == (3, 3, 3, None)


def test_a_pod_is_not_ready_while_its_agent_is_not(
    controller: CiliumAgentPods, store: Store, agents: dict[str, FakeAgent],
) -> None:
    agents["k8s-w1"].is_ready = False
    settle(controller)

    assert not is_ready(pods_by_node(store)["k8s-w1"])
    assert daemonset_status(store)["numberUnavailable"] == 1


def test_deleting_a_pod_restarts_its_nodes_agent_in_a_new_pod(
    controller: CiliumAgentPods, store: Store, agents: dict[str, FakeAgent],
) -> None:
    settle(controller)
    old = pods_by_node(store)["k8s-w1"]

    _, removed = store.delete("pods", old["metadata"]["name"], "kube-system")
    assert not removed, "a pod on a node waits for its node to stop it"
    settle(controller)

    new = pods_by_node(store)["k8s-w1"]
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert store.find("pods", old["metadata"]["name"], "kube-system") is None
    assert agents["k8s-w1"].calls == ["stop", "start"]
    assert is_ready(new)
    assert agents["k8s-ctr"].calls == agents["k8s-w0"].calls == []


def test_the_new_agent_waits_for_its_startup_time(
    controller: CiliumAgentPods, store: Store, agents: dict[str, FakeAgent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settle(controller)
    monkeypatch.setattr(agent_pods, "AGENT_STARTUP_S", 3600.0)
    store.delete("pods", pods_by_node(store)["k8s-w0"]["metadata"]["name"], "kube-system")
    settle(controller)

    assert agents["k8s-w0"].calls == ["stop"]
    pending = pods_by_node(store)["k8s-w0"]
    assert pending["status"]["phase"] == "Pending"
    assert not is_ready(pending)


def test_a_new_template_rolls_one_node_at_a_time(
    controller: CiliumAgentPods, store: Store, agents: dict[str, FakeAgent],
) -> None:
    settle(controller)
    image = "quay.io/cilium/cilium:v1.18.9"
    store.patch("daemonsets", "cilium", {"spec": {"template": {"spec": {"containers": [
        {"name": "cilium-agent", "image": image}]}}}}, "kube-system",
        patch_type=STRATEGIC_MERGE_PATCH)
    for agent in agents.values():
        agent.ready_on_start = False  # a restarted agent is Ready when the test says so

    settle(controller)
    restarted = [node for node, agent in agents.items() if agent.calls]
    assert len(restarted) == 1, f"maxUnavailable 1: one node at a time, got {restarted}"

    rolled = set(restarted)
    for _ in NODES:
        for node in rolled:
            agents[node].is_ready = True
        settle(controller)
        rolled = {node for node, agent in agents.items() if agent.calls}
    pods = pods_by_node(store)
    assert {pod["spec"]["containers"][0]["image"] for pod in pods.values()} == {image}
    assert all(agent.calls == ["stop", "start"] for agent in agents.values())
    status = daemonset_status(store)
    assert (status["updatedNumberScheduled"], status["numberAvailable"],
            status["observedGeneration"]) == (3, 3, 2)
    revisions = {pod["metadata"]["labels"][REVISION_LABEL] for pod in pods.values()}
    assert len(revisions) == 1


def test_on_delete_strategy_leaves_old_pods_until_deleted(
    controller: CiliumAgentPods, store: Store, agents: dict[str, FakeAgent],
) -> None:
    settle(controller)
    store.patch("daemonsets", "cilium", {"spec": {
        "updateStrategy": {"type": "OnDelete", "rollingUpdate": None},
        "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}},
    }}, "kube-system")
    settle(controller)

    assert all(agent.calls == [] for agent in agents.values())
    assert daemonset_status(store).get("updatedNumberScheduled") is None


@pytest.mark.parametrize(("value", "nodes", "expected"), [
    (None, 3, 1), (2, 3, 2), ("50%", 3, 1), ("100%", 3, 3), ("10%", 3, 1)])
def test_max_unavailable(value: object, nodes: int, expected: int) -> None:
    daemonset: dict[str, Any] = {"spec": {}}
    if value is not None:
        daemonset["spec"]["updateStrategy"] = {"rollingUpdate": {"maxUnavailable": value}}
    assert max_unavailable(daemonset, nodes) == expected


def test_the_kubelet_leaves_host_network_pods_to_their_controller(
    store: Store, monkeypatch: pytest.MonkeyPatch,
) -> None:
    kubelet = Kubelet(store, lab_id="cbgptest", inventory=THREE_NODES)
    started: list[str] = []
    monkeypatch.setattr(kubelet, "_start", lambda uid, pod, in_use: started.append(
        pod["metadata"]["name"]))
    store.create("pods", pod_body("agent", node="k8s-w1", hostNetwork=True), "default")
    store.create("pods", pod_body("web", node="k8s-w1"), "default")

    kubelet.reconcile()

    assert started == ["web"]
