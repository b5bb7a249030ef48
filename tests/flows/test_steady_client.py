"""The steady client end to end on this host (local transport, a server on 127.0.0.1): requests
and held connections are counted by step, a server that goes away shows as failed requests and
broken connections, and the report reads back as a Disruption."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from pytest_ciliumbgp.disruption.steady_client import (
    Disruption,
    SteadyClient,
    SteadyClientError,
    parse_report,
)
from pytest_ciliumbgp.disruption.steady_requests import Tally, error_kind
from pytest_ciliumbgp.transport import LocalTransport


class _Whoami(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = b"Hostname: pod-a\nRemoteAddr: 127.0.0.1:1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server:
    """A keep-alive HTTP server on 127.0.0.1 that can go away at once, connections and all."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, address = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection, address), daemon=True).start()

    @staticmethod
    def _serve(connection: socket.socket, address: Any) -> None:
        with contextlib.suppress(OSError):
            _Whoami(connection, address, None)  # type: ignore[arg-type]

    def go_away(self) -> None:
        self.listener.close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def server() -> Iterator[Server]:
    made = Server()
    yield made
    made.go_away()


def test_a_steady_server_loses_nothing(server: Server) -> None:
    with SteadyClient(LocalTransport(), "127.0.0.1", port=server.port, held=2,
                      step="steady") as steady:
        time.sleep(0.5)
        disruption = steady.finish()

    assert disruption.requests >= 5
    assert (disruption.failed, disruption.failing, len(disruption.held)) == (0, None, 2)
    assert dict(disruption.pods) == {"pod-a": disruption.requests}
    assert disruption.within(0)


def test_a_server_that_goes_away_costs_requests_and_connections(server: Server) -> None:
    with SteadyClient(LocalTransport(), "127.0.0.1", port=server.port, held=2,
                      step="up") as steady:
        assert all(c.answers and not c.broke for c in steady.opened)
        time.sleep(0.3)
        steady.mark("going")  # requests in flight while it goes may go either way
        server.go_away()
        time.sleep(0.2)
        steady.mark("gone")
        time.sleep(0.5)
        disruption = steady.finish()

    up, _, gone = disruption.steps
    assert (up.step, up.failed) == ("up", 0)
    assert up.requests > 0
    assert gone.step == "gone"
    assert gone.failed == gone.requests > 0
    assert {failure.error for failure in disruption.failures} == {"refused"}
    assert len(disruption.broken) == 2
    assert {c.step for c in disruption.broken} <= {"going", "gone"}
    assert disruption.failed == disruption.failed_requests + 2
    assert not disruption.within(disruption.failed - 1)
    assert "2 of 2 held connections broke" in disruption.summary()


def test_an_unreachable_service_is_measured_from_the_start() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with SteadyClient(LocalTransport(), "127.0.0.1", port=port, held=1, timeout=0.5) as steady:
        assert [c.error for c in steady.opened] == ["refused"]
        disruption = steady.finish()

    assert disruption.failed_requests == disruption.requests > 0


class _Missing(LocalTransport):
    def wrap(self, command: Sequence[str]) -> list[str]:
        return ["/nonexistent/cbgp-python", *command[1:]]


def test_a_client_that_cannot_run_says_so() -> None:
    with pytest.raises(SteadyClientError, match="cannot start /nonexistent/cbgp-python"), \
            SteadyClient(_Missing(), "127.0.0.1"):
        pass


def test_failures_are_counted_by_step_and_timed() -> None:
    tally = Tally()
    for number, (at, step, error) in enumerate([(0.0, "a", ""), (0.1, "b", "timeout"),
                                                (0.2, "b", ""), (0.3, "b", "refused")]):
        tally.record(number, at, step, error, "pod-a" if not error else "detail")

    report = tally.report(["a", "b"])
    disruption = parse_report(["noise", __import__("json").dumps(report)])

    assert isinstance(disruption, Disruption)
    assert [(s.step, s.requests, s.failed) for s in disruption.steps] == [("a", 1, 0),
                                                                            ("b", 3, 2)]
    assert disruption.failing == (0.1, 0.3)
    assert [f.error for f in disruption.failures] == ["timeout", "refused"]


@pytest.mark.parametrize(("error", "kind"), [
    (ConnectionRefusedError(), "refused"), (ConnectionResetError(), "reset"),
    (TimeoutError(), "timeout"), (OSError(113, "No route to host"), "unreachable"),
    (ValueError("not whoami"), "bad answer")])
def test_errors_read_in_the_operators_words(error: BaseException, kind: str) -> None:
    assert error_kind(error) == kind


def test_a_report_without_numbers_is_an_error() -> None:
    with pytest.raises(SteadyClientError, match="nothing readable"):
        parse_report(["ready", "Traceback ..."])
