"""An emulated API server per test (HTTPS with a self-signed certificate, a random token) and
the official client configured from the kubeconfig it would hand to a user. Loaded as a plugin by
tests/conftest.py, so every test folder gets the same ``api`` fixture."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config
import kubernetes.watch
import pytest

from pytest_ciliumbgp.emulator.kubeapi.server import ApiServer
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.kubeapi.tls import ServingCertificate, kubeconfig, self_signed

# The client's annotations are partial (models built from dicts, untyped helpers): the tests
# use it dynamically, as the suite does.
k8s: Any = kubernetes


@dataclass
class Api:
    store: Store
    server: ApiServer
    client: Any
    kubeconfig: Path
    token: str

    def __getattr__(self, name: str) -> Any:
        # api.core, api.apps, api.custom… : the official API classes over this server.
        classes = {"core": "CoreV1Api", "apps": "AppsV1Api", "custom": "CustomObjectsApi",
                   "discovery": "DiscoveryV1Api", "apiextensions": "ApiextensionsV1Api",
                   "apis": "ApisApi", "version": "VersionApi"}
        if name not in classes:
            raise AttributeError(name)
        return getattr(k8s.client, classes[name])(self.client)


@pytest.fixture(scope="session")
def serving_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServingCertificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def api(tmp_path: Path, serving_certificate: ServingCertificate) -> Iterator[Api]:
    token = secrets.token_hex(16)
    store = Store()
    server = ApiServer(store, token, certificate=serving_certificate, bookmark_interval=0.3)
    server.start()
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig(server.url, token, serving_certificate.authority_data()))
    configuration = k8s.client.Configuration()
    k8s.config.load_kube_config(str(path), client_configuration=configuration)
    api_client = k8s.client.ApiClient(configuration)
    try:
        yield Api(store, server, api_client, path, token)
    finally:
        api_client.close()
        server.stop()
