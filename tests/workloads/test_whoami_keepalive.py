"""The pods' whoami keeps HTTP/1.1 connections alive, as traefik/whoami (Go's net/http) does:
long-lived connections through an LB IP are only meaningful when the backend never closes them
on its own. A client that asks for the connection to end gets it ended after the answer."""

from __future__ import annotations

import contextlib
import http.client

import pytest

from tests.workloads.local_whoami import local_whoami

REQUESTS = 5


def remote_addr(body: str) -> str:
    return next(line for line in body.splitlines() if line.startswith("RemoteAddr: "))


def test_one_connection_carries_many_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    with local_whoami(monkeypatch) as (_, port), \
            contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) as client:
        client.connect()
        assert client.sock is not None
        local_port = client.sock.getsockname()[1]
        client.auto_open = 0  # a closed connection raises instead of reconnecting
        seen = []
        for _ in range(REQUESTS):
            client.request("GET", "/again")
            response = client.getresponse()
            body = response.read().decode()
            assert (response.status, response.will_close) == (200, False)
            seen.append(remote_addr(body))
    assert seen == [f"RemoteAddr: 127.0.0.1:{local_port}"] * REQUESTS


@pytest.mark.parametrize(("version", "headers"), [
    ("HTTP/1.1", {"Connection": "close"}),
    ("HTTP/1.0", {}),
], ids=["http1.1-connection-close", "http1.0"])
def test_the_connection_ends_after_the_answer_when_the_client_asks(
    monkeypatch: pytest.MonkeyPatch, version: str, headers: dict[str, str]
) -> None:
    with local_whoami(monkeypatch) as (_, port), \
            contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) as client:
        client._http_vsn_str = version  # type: ignore[attr-defined]
        client.request("GET", "/", headers=headers)
        response = client.getresponse()
        assert "Hostname: web-a" in response.read().decode()
        assert client.sock is not None
        assert client.sock.recv(1) == b"", "expected the server to close after its answer"
