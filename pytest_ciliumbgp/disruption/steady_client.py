"""The steady client of a disruption measurement: while a test restarts or upgrades the Cilium
agents, the client host behind the router sends a request to the Service every 50 ms on a new
connection (:mod:`.steady_requests`) and holds keep-alive connections that send all along
(:mod:`pytest_ciliumbgp.flows.connections`). What it measured is a :class:`Disruption`.

    with SteadyClient(client, service.address, step="before") as steady:
        steady.mark("agent restarting")
        ...
        disruption = steady.finish()
    assert disruption.failed <= budget, disruption.summary()
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_ciliumbgp.flows.background import Background, BackgroundError
from pytest_ciliumbgp.flows.connections import HeldConnection, HeldConnections
from pytest_ciliumbgp.probes.shipping import probe_argv
from pytest_ciliumbgp.transport import Transport

from . import steady_requests

#: keep-alive connections held through the disruption: enough to see a node's share break,
#: few enough for two cores
HELD_CONNECTIONS = 6


class SteadyClientError(RuntimeError):
    """The client could not run or report; the message says what the client host said."""


@dataclass(frozen=True)
class RequestFailure:
    at_s: float
    step: str
    error: str
    detail: str

    def __str__(self) -> str:
        return f"{self.at_s:.2f} s ({self.step}): {self.error} {self.detail}".rstrip()


@dataclass(frozen=True)
class StepCount:
    step: str
    requests: int
    failed: int


@dataclass(frozen=True)
class Disruption:
    """What the steady client saw: its requests on new connections, and the keep-alive
    connections it held, of which those that broke."""

    requests: int
    failed_requests: int
    steps: tuple[StepCount, ...]
    failures: tuple[RequestFailure, ...]
    #: when the first and the last failed request started (seconds into the measurement)
    failing: tuple[float, float] | None
    pods: Mapping[str, int]
    held: tuple[HeldConnection, ...] = field(default=())

    @property
    def broken(self) -> tuple[HeldConnection, ...]:
        return tuple(connection for connection in self.held if connection.broke)

    @property
    def failed(self) -> int:
        """Failed requests in all: on new connections, and the one request on each held
        connection that broke (a held connection never reconnects)."""
        return self.failed_requests + len(self.broken)

    def within(self, budget: int) -> bool:
        return self.failed <= budget

    def summary(self) -> str:
        """One line for an assertion message or the terminal."""
        line = (f"{self.failed_requests} of {self.requests} requests failed, "
                f"{len(self.broken)} of {len(self.held)} held connections broke")
        if self.failing is not None:
            first, last = self.failing
            line += f", failures from {first:.1f} s to {last:.1f} s"
        return line

    def details(self, limit: int = 5) -> str:
        """The first failures and breaks, for an assertion message."""
        shown = [str(failure) for failure in self.failures[:limit]]
        shown += [f"connection {c.connection} (port {c.local_port}) {c.error} at "
                  f"{c.broke_after_s:.2f} s ({c.step})" for c in self.broken[:limit]]
        return "; ".join(shown)

    def as_document(self) -> dict[str, Any]:
        """Everything, for the report."""
        return {
            "requests": self.requests, "failed_requests": self.failed_requests,
            "failed_in_all": self.failed,
            "failing_s": list(self.failing) if self.failing is not None else None,
            "steps": [vars(step) for step in self.steps],
            "failures": [vars(failure) for failure in self.failures],
            "answered_by": dict(self.pods),
            "held_connections": [vars(connection) for connection in self.held],
        }


def parse_report(lines: Sequence[str], held: Sequence[HeldConnection] = ()) -> Disruption:
    """The steady_requests probe's JSON report (its last JSON line) and the held connections."""
    for line in reversed(lines):
        try:
            doc: Any = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "requests" in doc:
            return Disruption(
                requests=int(doc["requests"]), failed_requests=int(doc["failed"]),
                steps=tuple(StepCount(str(s["step"]), int(s["requests"]), int(s["failed"]))
                            for s in doc["steps"]),
                failures=tuple(RequestFailure(float(f["at_s"]), str(f["step"]),
                                              str(f["error"]), str(f["detail"]))
                               for f in doc["failures"]),
                failing=(float(doc["first_failure_s"]), float(doc["last_failure_s"]))
                if doc.get("first_failure_s") is not None else None,
                pods={str(pod): int(count) for pod, count in doc["pods"].items()},
                held=tuple(held))
    raise SteadyClientError(f"the steady client reported nothing readable: {lines[-3:]!r}")


class SteadyClient:
    """Requests every ``interval`` seconds and ``held`` keep-alive connections from the host
    behind ``transport`` to ``address``:``port``, for as long as the ``with`` block lasts."""

    def __init__(self, transport: Transport, address: str, *, port: int = 80,
                 interval: float = steady_requests.INTERVAL_S, held: int = HELD_CONNECTIONS,
                 step: str = "start", timeout: float = steady_requests.REQUEST_TIMEOUT_S,
                 ) -> None:
        arguments = ["--address", address, "--port", str(port), "--interval", f"{interval:g}",
                     "--timeout", f"{timeout:g}", "--step", step]
        self.requests = Background(transport, probe_argv(transport, steady_requests, arguments),
                                   what=f"steady requests to {address}:{port}",
                                   timeout=2 * timeout + 10.0)
        self.connections = HeldConnections(transport, address, port=port, count=held, step=step)

    def __enter__(self) -> SteadyClient:
        try:
            self.requests.start()
            self.connections.__enter__()
        except BackgroundError as error:
            self.requests.kill()
            raise SteadyClientError(str(error)) from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.requests.kill()
        self.connections.__exit__(*exc_info)

    @property
    def opened(self) -> list[HeldConnection]:
        """The held connections as they were once open (each answered once, or failed)."""
        return self.connections.opened

    def mark(self, step: str) -> None:
        """Name the step the test is at now; the requests and connections count by step."""
        try:
            self.requests.mark(step)
            self.connections.mark(step)
        except BackgroundError as error:
            raise SteadyClientError(str(error)) from None

    def finish(self) -> Disruption:
        """Stop sending and say what happened."""
        try:
            held = self.connections.finish()
            lines = self.requests.finish()
        except BackgroundError as error:
            raise SteadyClientError(str(error)) from None
        return parse_report(lines, held)
