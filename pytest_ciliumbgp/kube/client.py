"""A cluster reached through the official ``kubernetes`` client, with its errors in one line.

``connect()`` builds the client's ``ApiClient`` from a kubeconfig (no global client state, so
several clusters can be used at once); ``connect_in_cluster()`` from the pod's service account.
Every call goes through ``Cluster.call``/``Cluster.call_json``, which add the request timeout and
turn ApiException, refused connections and timeouts into a ``KubeError`` that names the API
server, what was asked and what happened.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from pytest_ciliumbgp.kube.errors import KubeError

DEFAULT_REQUEST_TIMEOUT = 10.0
JSON = dict[str, Any]
# The config loaders are untyped; these names give them a type.
_load_kube_config: Callable[..., None] = k8s_config.load_kube_config
_load_incluster_config: Callable[..., None] = k8s_config.load_incluster_config


class Cluster:
    """One Kubernetes API server and the typed APIs the suite uses on it: ``core`` (CoreV1Api),
    ``apps`` (AppsV1Api), ``custom`` (CustomObjectsApi), ``discovery`` (DiscoveryV1Api),
    ``apiextensions`` (ApiextensionsV1Api) and ``apis`` (ApisApi, the group discovery)."""

    def __init__(
        self,
        api_client: Any,
        *,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        source: str = "",
    ) -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout
        self.source = source
        self.core = k8s.CoreV1Api(api_client)
        self.apps = k8s.AppsV1Api(api_client)
        self.custom = k8s.CustomObjectsApi(api_client)
        self.discovery = k8s.DiscoveryV1Api(api_client)
        self.apiextensions = k8s.ApiextensionsV1Api(api_client)
        self.apis = k8s.ApisApi(api_client)

    @property
    def server(self) -> str:
        """The API server's URL, as the kubeconfig gives it."""
        return str(self.api_client.configuration.host)

    def __repr__(self) -> str:
        return f"Cluster({self.server}, from {self.source or 'an ApiClient'})"

    def call(self, action: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``method(*args, **kwargs)`` with the request timeout; a failure of the client becomes
        a KubeError that starts with ``action`` (``create Service default/web``)."""
        kwargs.setdefault("_request_timeout", self.request_timeout)
        try:
            return method(*args, **kwargs)
        except (k8s.ApiException, urllib3.exceptions.HTTPError) as err:
            raise translate_error(err, action, self.server, self.request_timeout) from err

    def call_json(self, action: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> JSON:
        """Like ``call``, but the answer is the server's JSON as a dict, not a client model: the
        objects keep every field the server sent (status, unknown fields) and read the same for
        core and custom kinds."""
        response = self.call(action, method, *args, _preload_content=False, **kwargs)
        try:
            answer = json.loads(response.data)
        except ValueError as err:
            raise KubeError(f"{action} on {self.server}: the answer is not JSON ({err})") from err
        if not isinstance(answer, dict):
            raise KubeError(
                f"{action} on {self.server}: expected a JSON object, got {answer!r:.80}"
            )
        return answer

    def server_version(self) -> str:
        """The API server's ``gitVersion`` (``/version``)."""
        info = self.call_json("read /version", k8s.VersionApi(self.api_client).get_code)
        return str(info.get("gitVersion", ""))

    def close(self) -> None:
        self.api_client.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    kubeconfig: str | os.PathLike[str] | None = None,
    *,
    context: str | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
) -> Cluster:
    """The cluster a kubeconfig points at (default: ``$KUBECONFIG``, then ``~/.kube/config``).
    A missing or unusable kubeconfig raises KubeError naming the file and the problem."""
    location = str(kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config")
    files = [Path(part).expanduser() for part in location.split(os.pathsep) if part]
    if not any(path.is_file() for path in files):
        raise KubeError(f"kubeconfig {location}: no such file")
    configuration = k8s.Configuration()
    try:
        _load_kube_config(
            config_file=os.pathsep.join(str(path) for path in files),
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except Exception as err:  # the loader raises anything from ConfigException to TypeError
        problem = _one_line(str(err)) or type(err).__name__
        raise KubeError(f"kubeconfig {location}: {problem}") from err
    return Cluster(
        k8s.ApiClient(configuration),
        request_timeout=request_timeout,
        source=f"kubeconfig {location}",
    )


def connect_in_cluster(*, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> Cluster:
    """The cluster this process runs in, through the pod's service account."""
    configuration = k8s.Configuration()
    try:
        _load_incluster_config(client_configuration=configuration)
    except k8s_config.ConfigException as err:
        raise KubeError(f"in-cluster config: {_one_line(str(err))}") from err
    return Cluster(
        k8s.ApiClient(configuration), request_timeout=request_timeout, source="in-cluster"
    )


def translate_error(err: Exception, action: str, server: str, timeout: float) -> KubeError:
    """One line for a failed call: ``create Service default/web on https://…: 422 Invalid: …``."""
    where = f"{action} on {server}"
    if isinstance(err, k8s.ApiException):
        reason, message = _status_reason_message(err)
        status = int(err.status) if err.status is not None else None
        return KubeError(
            _one_line(f"{where}: {status} {reason}: {message}"), status=status, reason=reason
        )
    return KubeError(_one_line(f"{where}: {_transport_problem(err, timeout)}"))


def _status_reason_message(err: Any) -> tuple[str, str]:
    """The Status object's reason and message when the body is one, else the HTTP reason and
    the start of the body."""
    http_reason = str(err.reason or "")
    body = err.body.decode(errors="replace") if isinstance(err.body, bytes) else str(err.body or "")
    try:
        status = json.loads(body)
    except ValueError:
        return http_reason, body[:200] or "(no body)"
    if not isinstance(status, dict):
        return http_reason, body[:200]
    return str(status.get("reason") or http_reason), str(status.get("message") or body[:200])


def _transport_problem(err: Exception, timeout: float) -> str:
    cause: BaseException = err
    if isinstance(err, urllib3.exceptions.MaxRetryError) and err.reason is not None:
        cause = err.reason
    text = str(cause)
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "cannot resolve the server's host name"
    # NewConnectionError is a ConnectTimeoutError too, so it is told apart first
    if isinstance(cause, urllib3.exceptions.NewConnectionError) and "refused" in text.lower():
        return "connection refused (is the API server running?)"
    if isinstance(cause, urllib3.exceptions.TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return f"TLS failed: {cause}"
    # urllib3 starts its messages with the connection object's repr; keep what follows
    return re.sub(r"^<[^>]*>:\s*", "", text) or type(cause).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())
