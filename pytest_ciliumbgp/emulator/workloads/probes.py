"""Readiness probes as the kubelet runs them: ``httpGet`` over real HTTP from the node's network
namespace to the pod's address, with the probe's delay, period, timeout and thresholds."""

from __future__ import annotations

import http.client
from dataclasses import dataclass

from ..netns import NamespaceError, socket_in
from .podspec import Object, resolve_port

USER_AGENT = "kube-probe/1.33"


@dataclass
class Readiness:
    """One container's readiness probe and its tally. Like the kubelet, a container starts
    unready and turns ready after ``success_threshold`` successes in a row, unready again after
    ``failure_threshold`` failures in a row."""

    path: str
    port: int
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1
    ready: bool = False
    successes: int = 0
    failures: int = 0
    next_due: float = 0.0

    def start(self, now: float) -> None:
        self.next_due = now + self.initial_delay

    def due(self, now: float) -> bool:
        return now >= self.next_due

    def record(self, succeeded: bool, now: float) -> None:
        self.next_due = now + self.period
        if succeeded:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= self.success_threshold:
                self.ready = True
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= self.failure_threshold:
                self.ready = False


def readiness_of(container: Object) -> Readiness | None:
    """The container's ``readinessProbe.httpGet``; None without one (ready once running).
    Other probe kinds are not run: such a container counts as ready once running too."""
    probe = container.get("readinessProbe") or {}
    http_get = probe.get("httpGet")
    if not http_get:
        return None
    port = resolve_port(container, http_get.get("port", 80))
    if port is None:
        return None
    return Readiness(
        path=str(http_get.get("path") or "/"),
        port=port,
        initial_delay=float(probe.get("initialDelaySeconds") or 0),
        period=float(probe.get("periodSeconds") or 10),
        timeout=float(probe.get("timeoutSeconds") or 1),
        failure_threshold=int(probe.get("failureThreshold") or 3),
        success_threshold=int(probe.get("successThreshold") or 1),
    )


def http_probe(node_namespace: str, address: str, port: int, path: str,
               timeout: float) -> bool:
    """GET ``path`` from the node's namespace; 200-399 within ``timeout`` is a success."""
    try:
        sock = socket_in(node_namespace)
    except (OSError, NamespaceError):
        return False
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        sock.settimeout(timeout)
        sock.connect((address, port))
        connection.sock = sock
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "*/*",
                                                 "Connection": "close"})
        response = connection.getresponse()
        response.read()
        return 200 <= response.status < 400
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
        sock.close()
