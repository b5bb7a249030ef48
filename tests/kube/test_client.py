"""Connecting, and the one-line errors for what goes wrong on the way."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from pytest_ciliumbgp.kube.client import Cluster, connect, connect_in_cluster, translate_error
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.objects import ObjectRef, get
from tests.kube.fakeapi import write_kubeconfig


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """Accepts connections into its backlog and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_missing_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(KubeError, match=rf"^kubeconfig {tmp_path}/nope: no such file$"):
        connect(tmp_path / "nope")


@pytest.mark.parametrize(
    "content",
    ["clusters: [: oops", "apiVersion: v1\nkind: Config\nclusters: []\n", "just text"],
    ids=["yaml-error", "no-context", "not-a-mapping"],
)
def test_unusable_kubeconfig(tmp_path: Path, content: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(content)
    with pytest.raises(KubeError) as caught:
        connect(path)
    message = str(caught.value)
    assert message.startswith(f"kubeconfig {path}: ")
    assert "\n" not in message


def test_kubeconfig_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_kubeconfig(tmp_path / "k", "https://127.0.0.1:6443", "t")
    monkeypatch.setenv("KUBECONFIG", str(path))
    with connect() as cluster:
        assert cluster.server == "https://127.0.0.1:6443"
        assert repr(cluster) == f"Cluster(https://127.0.0.1:6443, from kubeconfig {path})"
        assert isinstance(cluster.custom, k8s.CustomObjectsApi)


def test_not_in_a_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeError, match=r"^in-cluster config: "):
        connect_in_cluster()


def test_connection_refused(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        connect(write_kubeconfig(tmp_path / "k", url, "t")) as cluster,
        pytest.raises(KubeError) as caught,
    ):
        cluster.server_version()
    assert str(caught.value) == (
        f"read /version on {url}: connection refused (is the API server running?)"
    )
    assert caught.value.status is None


def test_no_answer_in_time(tmp_path: Path, listening_socket: socket.socket) -> None:
    url = f"http://127.0.0.1:{listening_socket.getsockname()[1]}"
    kubeconfig = write_kubeconfig(tmp_path / "k", url, "t")
    with (
        connect(kubeconfig, request_timeout=0.2) as cluster,
        pytest.raises(KubeError, match=rf"^read /version on {url}: no answer within 0.2 s$"),
    ):
        cluster.server_version()


def test_api_error_is_one_line_with_status_reason_and_message(fake_cluster: Cluster) -> None:
    with pytest.raises(KubeError) as caught:
        get(fake_cluster, ObjectRef("Service", "nope", "default"))
    assert str(caught.value) == (
        f'read Service default/nope on {fake_cluster.server}: 404 NotFound: services "nope" '
        "not found"
    )
    assert caught.value.not_found
    assert caught.value.reason == "NotFound"


def test_error_without_a_status_body() -> None:
    err = k8s.ApiException(status=502, reason="Bad Gateway")
    err.body = "<html>\n upstream \n</html>"
    assert str(translate_error(err, "list pods", "https://h", 10)) == (
        "list pods on https://h: 502 Bad Gateway: <html> upstream </html>"
    )
