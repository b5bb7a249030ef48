"""The kubelet on real network namespaces: two "nodes" ``<lab>-n1`` and ``<lab>-n2`` joined by a
veth, each routing the other's PodCIDR. Every namespace these tests make starts with ``cbgpw``
and is removed afterwards, even when a test fails."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.workloads.deployments import Deployments
from pytest_ciliumbgp.emulator.workloads.kubelet import Kubelet
from pytest_ciliumbgp.emulator.workloads.scheduler import Scheduler
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube.manifests.workloads import backend_deployment, backend_pod

from .conftest import PODS, add_nodes, condition, eventually, small_inventory

pytestmark = pytest.mark.lab

NODES = {"n1": ("192.168.77.1", "172.31.1.0/24"), "n2": ("192.168.77.2", "172.31.2.0/24")}
APP = {"app": "webpod"}


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


def namespaces(prefix: str) -> set[str]:
    listed = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True,
                            check=True).stdout
    return {entry["name"] for entry in json.loads(listed or "[]")
            if entry["name"].startswith(prefix)}


@dataclass
class Lab:
    lab_id: str
    inventory: Inventory
    store: Store
    kubelet: Kubelet

    def node_namespace(self, node: str) -> str:
        return f"{self.lab_id}-{node}"

    def pod_namespaces(self) -> set[str]:
        return namespaces(f"{self.lab_id}-p")

    def run(self, node: str, *argv: str) -> str:
        done = subprocess.run(["ip", "netns", "exec", self.node_namespace(node), *argv],
                              capture_output=True, text=True, timeout=10, check=False)
        assert done.returncode == 0, f"{' '.join(argv)} on {node}: {done.stderr.strip()}"
        return done.stdout

    def curl(self, node: str, url: str, *options: str) -> str:
        return self.run(node, "curl", "-sS", "-m", "3", *options, url)

    def pod(self, name: str) -> dict[str, Any] | None:
        return self.store.find(PODS, name, "default")

    def ready(self, name: str) -> bool:
        pod = self.pod(name)
        found = condition(pod, "Ready") if pod else None
        return found is not None and found["status"] == "True"


@pytest.fixture
def lab(store: Store) -> Iterator[Lab]:
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("curl"):
        pytest.skip("needs root, ip and curl")
    lab_id = f"cbgpw{secrets.token_hex(3)}"
    inventory = small_inventory(NODES)
    kubelet = Kubelet(store, lab_id=lab_id, inventory=inventory)
    try:
        for node in NODES:
            _ip("netns", "add", f"{lab_id}-{node}")
        n1, n2 = f"{lab_id}-n1", f"{lab_id}-n2"
        _ip("-n", n1, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", n2)
        for node, (address, _) in NODES.items():
            namespace = f"{lab_id}-{node}"
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth1")
            _ip("-n", namespace, "link", "set", "eth1", "up")
            _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", n1, "route", "add", NODES["n2"][1], "via", NODES["n2"][0])
        _ip("-n", n2, "route", "add", NODES["n1"][1], "via", NODES["n1"][0])
        kubelet.start()
        yield Lab(lab_id, inventory, store, kubelet)
    finally:
        kubelet.stop()
        for namespace in namespaces(f"{lab_id}-"):
            subprocess.run(["ip", "netns", "delete", namespace], check=False)


def whoami_pod(name: str, node: str, **options: Any) -> dict[str, Any]:
    return backend_pod(name, node, APP, **options)


def test_pod_runs_with_address_and_answers_like_whoami(lab: Lab) -> None:
    lab.store.create(PODS, whoami_pod("web", "n1"), "default")
    eventually(lambda: lab.ready("web"), "pod web Ready")
    pod = lab.pod("web")
    assert pod is not None
    status = pod["status"]
    pod_ip = status["podIP"]
    assert pod_ip not in ("172.31.1.0", "172.31.1.1")
    assert pod_ip.startswith("172.31.1."), f"pod address {pod_ip}: expected in 172.31.1.0/24"
    assert (status["phase"], status["hostIP"], status["podIPs"]) == (
        "Running", "192.168.77.1", [{"ip": pod_ip}])
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodScheduled": "True", "PodReadyToStartContainers": "True", "Initialized": "True",
        "ContainersReady": "True", "Ready": "True"}
    (container,) = status["containerStatuses"]
    assert (container["ready"], container["started"], container["restartCount"]) == (
        True, True, 0)
    assert "startedAt" in container["state"]["running"]

    local = lab.curl("n1", f"http://{pod_ip}/")
    assert "Hostname: web\n" in local
    assert f"IP: {pod_ip}\n" in local
    assert "RemoteAddr: 172.31.1.1:" in local, f"from its node: the gateway; got {local!r}"
    assert "\nGET / HTTP/1.1\n" in local  # read as text: \r\n arrives as \n
    assert "User-Agent: curl/" in local
    remote = lab.curl("n2", f"http://{pod_ip}/")
    assert "RemoteAddr: 192.168.77.2:" in remote, f"from the other node: its address; {remote!r}"


def test_health_drives_readiness(lab: Lab) -> None:
    lab.store.create(PODS, whoami_pod("web", "n1"), "default")
    eventually(lambda: lab.ready("web"), "pod web Ready")
    pod_ip = lab.pod("web")["status"]["podIP"]  # type: ignore[index]
    lab.curl("n1", f"http://{pod_ip}/health", "-X", "POST", "-d", "500")
    assert lab.run("n1", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                   f"http://{pod_ip}/health") == "500"
    # The manifest probes every second and fails after one failure.
    took = eventually(lambda: not lab.ready("web"), "pod web unready after /health 500", 3.0)
    assert took <= 1.0 * 1 + 1.0, f"unready after {took:.1f} s: expected within ~1 s"
    lab.curl("n1", f"http://{pod_ip}/health", "-X", "POST", "-d", "200")
    eventually(lambda: lab.ready("web"), "pod web Ready again after /health 200", 3.0)


def test_graceful_deletion_waits_for_pre_stop(lab: Lab) -> None:
    body = whoami_pod("web", "n1", termination_grace_period_seconds=10)
    body["spec"]["containers"][0]["lifecycle"] = {
        "preStop": {"exec": {"command": ["/bin/sh", "-c", "sleep 2"]}}}
    lab.store.create(PODS, body, "default")
    eventually(lambda: lab.ready("web"), "pod web Ready")
    pod_ip = lab.pod("web")["status"]["podIP"]  # type: ignore[index]
    (namespace,) = lab.pod_namespaces()
    lab.store.delete(PODS, "web", "default")
    deleted = time.monotonic()
    time.sleep(1.0)
    pod = lab.pod("web")
    assert pod is not None, "gone before its preStop sleep ended"
    assert pod["metadata"].get("deletionTimestamp"), "Terminating"
    assert "Hostname: web" in lab.curl("n1", f"http://{pod_ip}/"), "serves while terminating"
    eventually(lambda: lab.pod("web") is None, "pod web gone after its preStop sleep", 5.0)
    elapsed = time.monotonic() - deleted
    assert 1.8 <= elapsed <= 3.5, f"gone after {elapsed:.1f} s: expected ~2 s (preStop sleep)"
    assert namespace not in namespaces(lab.lab_id), f"namespace {namespace} left behind"
    assert lab.kubelet.running() == {}


def test_pre_stop_is_bounded_by_the_grace_period(lab: Lab) -> None:
    lab.store.create(PODS, whoami_pod("web", "n2", pre_stop_sleep_seconds=30), "default")
    eventually(lambda: lab.ready("web"), "pod web Ready")
    lab.store.delete(PODS, "web", "default", grace_period_seconds=1)
    took = eventually(lambda: lab.pod("web") is None, "pod web gone after its grace period", 4)
    assert took < 3


def test_addresses_force_deletion_and_stop(lab: Lab) -> None:
    for name in ("a", "b", "c"):
        lab.store.create(PODS, whoami_pod(name, "n2"), "default")
    eventually(lambda: all(lab.ready(n) for n in "abc"), "pods a, b, c Ready")
    addresses = {n: lab.pod(n)["status"]["podIP"] for n in "abc"}  # type: ignore[index]
    assert sorted(addresses.values()) == ["172.31.2.2", "172.31.2.3", "172.31.2.4"]
    lab.store.delete(PODS, "b", "default", grace_period_seconds=0)
    eventually(lambda: len(lab.pod_namespaces()) == 2, "force-deleted pod b torn down")
    lab.store.create(PODS, whoami_pod("d", "n2"), "default")
    eventually(lambda: lab.ready("d"), "pod d Ready")
    assert lab.pod("d")["status"]["podIP"] == addresses["b"], "the freed address is reused"  # type: ignore[index]
    lab.kubelet.stop()
    assert lab.pod_namespaces() == set(), "stop() removes every pod namespace"
    links = lab.run("n2", "ip", "-o", "link")
    assert " pv" not in links, f"node-side veths left behind: {links}"


def test_deployment_spread_by_scheduler_runs_ready(lab: Lab) -> None:
    add_nodes(lab.store, lab.inventory)
    scheduler, deployments = Scheduler(lab.store), Deployments(lab.store)
    scheduler.start()
    deployments.start()
    try:
        lab.store.create("deployments", backend_deployment("webpod", APP, replicas=2,
                                                           one_per_node=True), "default")

        def ready_replicas() -> int:
            status = lab.store.get("deployments", "webpod", "default").get("status") or {}
            return int(status.get("readyReplicas") or 0)

        eventually(lambda: ready_replicas() == 2, "2 ready replicas", 10)
        nodes = {p["spec"]["nodeName"] for p in lab.store.list(PODS, "default")}
        assert nodes == {"n1", "n2"}, "one pod per node (anti-affinity)"
    finally:
        deployments.stop()
        scheduler.stop()
