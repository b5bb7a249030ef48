"""Clusters for the library's tests: the emulated API server of the embedded lab, and a fake
one whose discovery each test sets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ciliumbgp.kube.client import Cluster, connect
from tests.apiserver import Api
from tests.kube.fakeapi import CILIUM_KINDS, FakeApi, FakeApiServer

ALL_CILIUM = {"v2": list(CILIUM_KINDS), "v2alpha1": list(CILIUM_KINDS)}


@pytest.fixture
def fake_api() -> FakeApi:
    """Serves cilium.io v2 and v2alpha1 with every kind; change ``cilium`` before connecting."""
    return FakeApi(cilium=dict(ALL_CILIUM))


@pytest.fixture
def fake_server(fake_api: FakeApi) -> Iterator[FakeApiServer]:
    server = FakeApiServer(fake_api)
    yield server
    server.stop()


@pytest.fixture
def fake_cluster(fake_server: FakeApiServer, tmp_path: Path) -> Iterator[Cluster]:
    with connect(fake_server.kubeconfig(tmp_path), request_timeout=5) as cluster:
        yield cluster


@pytest.fixture
def emulated_cluster(api: Api) -> Iterator[Cluster]:
    """The embedded lab's API server (no controllers behind it), through its kubeconfig."""
    with connect(str(api.kubeconfig), request_timeout=5) as cluster:
        yield cluster


@pytest.fixture(params=["emulated-apiserver", "fake-apiserver"])
def cluster(request: pytest.FixtureRequest) -> Cluster:
    """A cluster for the object tests: the emulated API server, and the fake one."""
    name = "emulated_cluster" if request.param == "emulated-apiserver" else "fake_cluster"
    found: Cluster = request.getfixturevalue(name)
    return found
