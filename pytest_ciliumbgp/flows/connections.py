"""Long-lived HTTP/1.1 keep-alive connections from the client host to a Service, held across
the steps of a test, and which of them broke.

:class:`HeldConnections` runs the shipped probe :mod:`pytest_ciliumbgp.probes.held_connections`
on the client host through its transport for as long as its ``with`` block lasts: the
connections are open and answered once the block is entered (``opened``), ``mark(step)`` names
each step of the test as it begins, and ``finish()`` stops them and says how each one ended.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.flows.background import Background
from pytest_ciliumbgp.probes import held_connections
from pytest_ciliumbgp.probes.shipping import probe_argv
from pytest_ciliumbgp.transport import Transport

REQUEST_TIMEOUT_S = held_connections.REQUEST_TIMEOUT_S


@dataclass(frozen=True)
class HeldConnection:
    """What one connection went through, as the client saw it."""

    connection: int
    #: 0 when it never connected
    local_port: int
    answers: int = 0
    pods: tuple[str, ...] = ()
    #: how it broke: reset (RST), closed, timeout, not connected (ENOTCONN), ...; "" if it did not
    error: str = ""
    detail: str = ""
    #: the test's step when it broke
    step: str = ""
    #: seconds from the probe's start to the break
    broke_after_s: float = 0.0

    @property
    def broke(self) -> bool:
        return bool(self.error)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> HeldConnection:
        return cls(int(doc["connection"]), int(doc["local_port"]), int(doc["answers"]),
                   tuple(str(pod) for pod in doc["pods"]), str(doc["error"]),
                   str(doc["detail"]), str(doc["step"]), float(doc["broke_after_s"]))


def parse_reports(lines: Sequence[str]) -> list[HeldConnection]:
    """The probe's JSON lines; anything else it printed (a warning) is skipped."""
    reports = []
    for line in lines:
        with contextlib.suppress(ValueError):
            doc: Any = json.loads(line)
            if isinstance(doc, dict) and "connection" in doc:
                reports.append(HeldConnection.from_doc(doc))
    return reports


class HeldConnections:
    """``count`` connections to ``address``:``port`` from the host behind ``transport``."""

    def __init__(self, transport: Transport, address: str, *, port: int = 80, count: int = 8,
                 step: str = "start", timeout: float = REQUEST_TIMEOUT_S) -> None:
        arguments = ["--address", address, "--port", str(port), "--count", str(count),
                     "--timeout", f"{timeout:g}", "--step", step]
        # Opening waits for every first answer, finishing for every request in flight.
        self.program = Background(transport, probe_argv(transport, held_connections, arguments),
                                  what=f"{count} connections to {address}:{port}",
                                  timeout=2 * timeout + 10.0)
        self.opened: list[HeldConnection] = []

    def __enter__(self) -> HeldConnections:
        self.program.start()
        self.opened = parse_reports(self.program.preamble)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.program.kill()

    def mark(self, step: str) -> None:
        self.program.mark(step)

    def finish(self) -> list[HeldConnection]:
        return parse_reports(self.program.finish())
