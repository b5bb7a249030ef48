"""Objects the API server tests create and what they assert about Terminating Pods; the ``api``
fixture comes from tests/apiserver.py, ``api_1_17`` (the same server playing Cilium 1.17) is
here."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.cilium_release import cilium_release
from pytest_ciliumbgp.emulator.kubeapi.objectmeta import parse_time
from pytest_ciliumbgp.emulator.kubeapi.server import ApiServer
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.kubeapi.tls import ServingCertificate, kubeconfig
from tests.apiserver import Api, k8s

__all__ = ["Api", "assert_terminating", "k8s", "pod", "pool", "service", "workload"]


@pytest.fixture
def api_1_17(tmp_path: Path, serving_certificate: ServingCertificate) -> Iterator[Api]:
    """An API server that plays Cilium 1.17 (cilium.io/v2alpha1 only), with the official
    client configured from its kubeconfig."""
    token = secrets.token_hex(16)
    store = Store(cilium=cilium_release("1.17"))
    server = ApiServer(store, token, certificate=serving_certificate)
    server.start()
    path = tmp_path / "kubeconfig-1.17"  # beside the ``api`` fixture's, when a test takes both
    path.write_text(kubeconfig(server.url, token, serving_certificate.authority_data()))
    configuration = k8s.client.Configuration()
    k8s.config.load_kube_config(str(path), client_configuration=configuration)
    api_client = k8s.client.ApiClient(configuration)
    try:
        yield Api(store, server, api_client, path, token)
    finally:
        api_client.close()
        server.stop()


def pool(name: str, cidr: str = "172.16.1.0/24", version: str = "v2") -> dict[str, object]:
    return {"apiVersion": f"cilium.io/{version}", "kind": "CiliumLoadBalancerIPPool",
            "metadata": {"name": name}, "spec": {"blocks": [{"cidr": cidr}]}}


def service(name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}


def pod(name: str, node: str | None = "k8s-w1", **spec: object) -> dict[str, object]:
    """A Pod, on ``node`` as if scheduled there (None: never scheduled)."""
    placed = {"nodeName": node} if node else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "whoami:v1"}], **placed, **spec}}


def workload(kind: str, name: str, image: str = "whoami:v1", **spec: object) -> dict[str, Any]:
    """A Deployment, ReplicaSet or DaemonSet whose selector matches its template."""
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": name, "image": image}]}},
                     **spec}}


def _seconds_left(obj: dict[str, Any]) -> float:
    deadline = parse_time(obj["metadata"]["deletionTimestamp"])
    return (deadline - datetime.now(timezone.utc)).total_seconds()


def assert_terminating(obj: dict[str, Any], grace: int) -> None:
    __tracebackhide__ = True
    metadata = obj["metadata"]
    assert metadata.get("deletionGracePeriodSeconds") == grace, (
        f"{metadata['name']}: expected deletionGracePeriodSeconds={grace}, "
        f"seen {metadata.get('deletionGracePeriodSeconds')}")
    assert grace - 2 <= _seconds_left(obj) <= grace, (
        f"{metadata['name']}: expected deletionTimestamp about {grace} s from now, "
        f"seen {metadata['deletionTimestamp']}")
