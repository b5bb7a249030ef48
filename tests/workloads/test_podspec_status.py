"""The kubelet's pure parts: address allocation, what it reads from a Pod spec, the readiness
tally and the status it writes."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.workloads.podnet import (
    PodNetworkError,
    gateway,
    next_free_address,
    node_veth,
    pod_namespace,
)
from pytest_ciliumbgp.emulator.workloads.podspec import (
    grace_seconds,
    pre_stop_seconds,
    resolve_port,
    serving_ports,
)
from pytest_ciliumbgp.emulator.workloads.podstatus import ContainerState, image_id, pod_status
from pytest_ciliumbgp.emulator.workloads.probes import Readiness, readiness_of

from .conftest import pod_body

CIDR = ipaddress.IPv4Network("172.20.1.0/29")
A = ipaddress.IPv4Address


def test_names_from_lab_id_and_uid() -> None:
    uid = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    assert (pod_namespace("cbgp", uid), node_veth(uid)) == ("cbgp-p0a1b2c3d", "pv0a1b2c3d")
    assert gateway(CIDR) == A("172.20.1.1")


def test_allocation_skips_network_gateway_broadcast_and_used() -> None:
    assert next_free_address(CIDR, set()) == A("172.20.1.2")
    assert next_free_address(CIDR, {A("172.20.1.2"), A("172.20.1.3")}) == A("172.20.1.4")
    assert next_free_address(CIDR, set(), preferred=A("172.20.1.5")) == A("172.20.1.5")
    for unusable in ("172.20.1.1", "172.20.1.7", "172.20.2.9"):
        assert next_free_address(CIDR, set(), preferred=A(unusable)) == A("172.20.1.2")
    assert next_free_address(CIDR, {A("172.20.1.5")}, A("172.20.1.5")) == A("172.20.1.2")
    with pytest.raises(PodNetworkError, match="no free address"):
        next_free_address(CIDR, {A(f"172.20.1.{i}") for i in range(2, 7)})


def with_container(**container: Any) -> dict[str, Any]:
    body = pod_body("p")
    body["spec"]["containers"][0].update(container)
    return body


@pytest.mark.parametrize(("hook", "seconds"), [
    ({"exec": {"command": ["sleep", "5"]}}, 5.0),
    ({"exec": {"command": ["/bin/sleep", "2.5"]}}, 2.5),
    ({"exec": {"command": ["/bin/sh", "-c", "sleep 7"]}}, 7.0),
    ({"exec": {"command": ["sh", "-c", "sleep 3; nginx -s quit"]}}, 3.0),
    ({"sleep": {"seconds": 4}}, 4.0),
    ({"exec": {"command": ["nginx", "-s", "quit"]}}, 0.0),
    ({"httpGet": {"path": "/stop", "port": 80}}, 0.0),
], ids=["exec-sleep", "exec-path-sleep", "shell-sleep", "shell-sleep-then", "sleep-action",
        "other-exec", "http"])
def test_pre_stop_seconds(hook: dict[str, Any], seconds: float) -> None:
    assert pre_stop_seconds(with_container(lifecycle={"preStop": hook})) == seconds


def test_grace_seconds() -> None:
    body = pod_body("p", terminationGracePeriodSeconds=10)
    assert grace_seconds(body) == 10
    body["metadata"]["deletionGracePeriodSeconds"] = 3
    assert grace_seconds(body) == 3
    assert grace_seconds(pod_body("p")) == 30


def test_ports() -> None:
    assert serving_ports(pod_body("p")) == [80]
    assert serving_ports(with_container(ports=[])) == [80], "undeclared: whoami's port"
    two = with_container(ports=[{"name": "web", "containerPort": 8080},
                                {"name": "dns", "containerPort": 53, "protocol": "UDP"}])
    assert serving_ports(two) == [8080]
    container = two["spec"]["containers"][0]
    assert [resolve_port(container, p) for p in ("web", 9000, "9001", "nope")] == [
        8080, 9000, 9001, None]


def test_readiness_probe_defaults_and_named_port() -> None:
    container = with_container(readinessProbe={"httpGet": {"path": "/health", "port": "http"}})
    probe = readiness_of(container["spec"]["containers"][0])
    assert probe == Readiness(path="/health", port=80, initial_delay=0, period=10, timeout=1,
                              failure_threshold=3, success_threshold=1)
    assert readiness_of(pod_body("p")["spec"]["containers"][0]) is None
    exec_probe = with_container(readinessProbe={"exec": {"command": ["true"]}})
    assert readiness_of(exec_probe["spec"]["containers"][0]) is None


def test_readiness_thresholds() -> None:
    probe = Readiness("/health", 80, initial_delay=5, period=2, failure_threshold=2,
                      success_threshold=2)
    probe.start(100.0)
    assert not probe.due(104.9)
    assert probe.due(105.0)
    probe.record(True, 105.0)
    assert not probe.ready
    assert probe.next_due == 107.0
    probe.record(True, 107.0)
    assert probe.ready
    probe.record(False, 109.0)
    assert probe.ready, "one failure is below the failure threshold"
    probe.record(False, 111.0)
    assert not probe.ready


def test_image_id() -> None:
    assert image_id("traefik/whoami:v1.10.3").startswith("docker.io/traefik/whoami@sha256:")
    assert image_id("nginx").startswith("docker.io/library/nginx@sha256:")
    assert image_id("registry.k8s.io/pause:3.9").startswith("registry.k8s.io/pause@sha256:")
    assert image_id("localhost:5000/app:1").startswith("localhost:5000/app@sha256:")


def stored_pod(**status: Any) -> dict[str, Any]:
    body = pod_body("web", node="k8s-w1")
    body["metadata"]["uid"] = "0a1b2c3d-0000-0000-0000-000000000000"
    body["status"] = {"phase": "Pending", "qosClass": "BestEffort", **status}
    return body


def test_pending_status() -> None:
    status = pod_status(stored_pod(), {}, host_ip="192.168.10.101", start_time="T0",
                        pod_ip=None, now="T0")
    assert status["phase"] == "Pending"
    assert "podIP" not in status
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("PodReadyToStartContainers", "False"), ("Initialized", "True"), ("Ready", "False"),
        ("ContainersReady", "False"), ("PodScheduled", "True")]
    (container,) = status["containerStatuses"]
    assert container["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert (container["ready"], container["started"], container["restartCount"]) == (
        False, False, 0)


def test_running_status_shape_and_transition_times() -> None:
    earlier = pod_status(stored_pod(), {}, host_ip="192.168.10.101", start_time="T0",
                         pod_ip=None, now="T0")
    running = {"whoami": ContainerState("whoami", "T1", ready=False)}
    status = pod_status(stored_pod(**earlier), running, host_ip="192.168.10.101",
                        start_time="T0", pod_ip="172.20.1.2", now="T1")
    assert (status["phase"], status["podIP"], status["podIPs"], status["hostIP"],
            status["hostIPs"], status["startTime"], status["qosClass"]) == (
        "Running", "172.20.1.2", [{"ip": "172.20.1.2"}], "192.168.10.101",
        [{"ip": "192.168.10.101"}], "T0", "BestEffort")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["PodReadyToStartContainers"]["lastTransitionTime"] == "T1"
    assert conditions["Ready"]["lastTransitionTime"] == "T0", "still False since T0"
    assert (conditions["Ready"]["reason"], conditions["Ready"]["message"]) == (
        "ContainersNotReady", "containers with unready status: [whoami]")
    (container,) = status["containerStatuses"]
    assert container["state"] == {"running": {"startedAt": "T1"}}
    assert container["containerID"].startswith("containerd://")
    assert container["imageID"].startswith("docker.io/traefik/whoami@sha256:")
    assert (container["name"], container["image"], container["started"]) == (
        "whoami", "traefik/whoami:v1.10.3", True)

    ready = pod_status(stored_pod(**status), {"whoami": ContainerState("whoami", "T1", True)},
                       host_ip="192.168.10.101", start_time="T0", pod_ip="172.20.1.2",
                       now="T2")
    conditions = {c["type"]: c for c in ready["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["lastTransitionTime"]) == (
        "True", "T2")
    assert "reason" not in conditions["Ready"]
    assert conditions["Initialized"]["lastTransitionTime"] == "T0"


def test_terminated_container_is_not_ready() -> None:
    done = {"whoami": ContainerState("whoami", "T1", ready=False, finished_at="T5")}
    status = pod_status(stored_pod(), done, host_ip="192.168.10.101", start_time="T0",
                        pod_ip="172.20.1.2", now="T5")
    (container,) = status["containerStatuses"]
    assert container["state"]["terminated"]["finishedAt"] == "T5"
    assert (container["ready"], container["started"]) == (False, False)
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "False"
