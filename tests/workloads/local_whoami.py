"""A pod's whoami server on 127.0.0.1 of this machine instead of in a pod's network namespace,
for tests that need a real whoami to talk to but no lab."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pytest_ciliumbgp.emulator.workloads import whoami
from pytest_ciliumbgp.emulator.workloads.whoami import WhoamiServer

POD_IP = "172.31.9.9"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def local_whoami(monkeypatch: pytest.MonkeyPatch, hostname: str = "web-a") -> Iterator[
        tuple[WhoamiServer, int]]:
    """A started whoami named ``hostname`` and its port; stopped afterwards."""
    monkeypatch.setattr(whoami, "socket_in", lambda namespace: socket.socket())
    port = free_port()
    server = WhoamiServer(hostname, POD_IP, "no-namespace", [port])
    server.start()
    try:
        yield server, port
    finally:
        server.stop()
