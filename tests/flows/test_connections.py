"""Held keep-alive connections: the shipped probe's pieces, and the probe run on this machine
against a real whoami through the local transport (no lab)."""

from __future__ import annotations

import errno
import http.client
import json
import time

import pytest

from pytest_ciliumbgp.flows.connections import HeldConnection, HeldConnections, parse_reports
from pytest_ciliumbgp.probes.held_connections import error_kind, whoami_hostname
from pytest_ciliumbgp.transport import LocalTransport
from tests.workloads.local_whoami import free_port, local_whoami

# Long enough for every connection to send two more requests (one every 0.1-0.2 s).
HOLD_S = 0.5


@pytest.mark.parametrize(("error", "kind"), [
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "reset"),
    (http.client.RemoteDisconnected("Remote end closed connection"), "closed"),
    (TimeoutError("timed out"), "timeout"),
    (OSError(errno.ENOTCONN, "Transport endpoint is not connected"), "not connected"),
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), "not connected"),
    (http.client.NotConnected(), "not connected"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "refused"),
    (http.client.BadStatusLine("garbage"), "bad answer"),
    (ValueError("not a whoami answer"), "bad answer"),
    (OSError(errno.EHOSTUNREACH, "No route to host"), "EHOSTUNREACH"),
    (RuntimeError("odd"), "RuntimeError"),
], ids=lambda value: value if isinstance(value, str) else type(value).__name__)
def test_error_kinds(error: BaseException, kind: str) -> None:
    assert error_kind(error) == kind


def test_whoami_hostname_is_read_from_the_answer() -> None:
    body = "Hostname: web-1\nIP: 127.0.0.1\nRemoteAddr: 10.10.1.100:40000\nGET / HTTP/1.1\r\n"
    assert whoami_hostname(body) == "web-1"
    with pytest.raises(ValueError, match="not a whoami answer"):
        whoami_hostname("<html>nginx</html>")


def test_reports_are_parsed_and_other_lines_skipped() -> None:
    doc = {"connection": 2, "local_port": 40123, "answers": 7, "pods": ["web-1"],
           "error": "reset", "detail": "[Errno 104] Connection reset by peer",
           "step": "backend added on k8s-w1", "broke_after_s": 2.5}
    reports = parse_reports(["warning: something", json.dumps(doc), "[1, 2]"])
    assert reports == [HeldConnection(2, 40123, 7, ("web-1",), "reset",
                                      "[Errno 104] Connection reset by peer",
                                      "backend added on k8s-w1", 2.5)]
    assert reports[0].broke
    assert not HeldConnection(0, 40000, answers=3).broke


def test_connections_held_through_steps_survive_a_steady_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with local_whoami(monkeypatch, "web-steady") as (_, port), \
            HeldConnections(LocalTransport(), "127.0.0.1", port=port, count=3,
                            step="first") as held:
        assert [(c.connection, c.answers >= 1, c.broke, c.pods) for c in held.opened] == [
            (index, True, False, ("web-steady",)) for index in range(3)]
        held.mark("second")
        time.sleep(HOLD_S)
        ended = held.finish()
    assert [(c.connection, c.broke, c.pods) for c in ended] == [
        (index, False, ("web-steady",)) for index in range(3)]
    assert len({c.local_port for c in ended}) == 3
    assert all(c.local_port > 0 and c.answers >= 2 for c in ended)
    opened_ports = {c.connection: c.local_port for c in held.opened}
    assert {c.connection: c.local_port for c in ended} == opened_ports, "never reconnected"


def test_a_stopped_server_breaks_every_connection_in_the_step_it_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with local_whoami(monkeypatch, "web-gone") as (server, port), \
            HeldConnections(LocalTransport(), "127.0.0.1", port=port, count=2,
                            step="serving") as held:
        held.mark("server stopped")
        server.stop()
        time.sleep(HOLD_S)
        ended = held.finish()
    assert [(c.broke, c.step) for c in ended] == [(True, "server stopped")] * 2
    # whoami shuts its connections down (FIN); a request already on its way gets an RST
    assert {c.error for c in ended} <= {"closed", "reset", "not connected"}


def test_nothing_listening_is_refused_before_ready() -> None:
    with HeldConnections(LocalTransport(), "127.0.0.1", port=free_port(), count=1) as held:
        assert [(c.local_port, c.error, c.step) for c in held.opened] == [(0, "refused", "start")]
        assert held.finish()[0].answers == 0
