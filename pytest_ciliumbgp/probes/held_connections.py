"""Hold long-lived HTTP/1.1 keep-alive connections to a Service from this host (the client behind
the router) and say which of them broke, and when.

Shipped to the client host and run there by its python3 (see ``shipping``), so it imports only
the standard library and keeps to Python 3.8::

    python3 held_connections.py --address 172.16.1.1 --count 12

It opens ``--count`` connections and sends a GET on each every 100-200 ms. Once every connection
has its first answer (or failed to get one) it prints one JSON line per connection, then
``ready``. Each line read on stdin names the test's current step; when stdin closes it stops and
prints one JSON line per connection: ``connection``, ``local_port``, ``answers``, ``pods`` (the
whoami ``Hostname`` of each answer) and, for one that broke, ``error`` (``reset``: RST;
``closed``: the peer closed it; ``timeout``; ``not connected``: ENOTCONN or EPIPE; ...),
``detail``, ``step`` and ``broke_after_s``. A connection never reconnects: once broken it stays
broken, as an application's would.
"""

from __future__ import annotations

import argparse
import errno
import http.client
import json
import random
import socket
import sys
import threading
import time
from typing import Any

READY = "ready"
#: seconds between two requests of one connection, drawn anew each time
INTERVAL_S = (0.1, 0.2)
REQUEST_TIMEOUT_S = 3.0


def error_kind(error: BaseException) -> str:
    """How a connection broke, in the words of the issue: RST, ENOTCONN, timeout."""
    # RemoteDisconnected is a ConnectionResetError, but it means an orderly close (EOF).
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed"
    if isinstance(error, ConnectionResetError):
        return "reset"
    if isinstance(error, (TimeoutError, socket.timeout)):  # one class from Python 3.10 on
        return "timeout"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, (BrokenPipeError, http.client.NotConnected)):
        return "not connected"
    if isinstance(error, OSError) and error.errno == errno.ENOTCONN:
        return "not connected"
    if isinstance(error, (http.client.HTTPException, ValueError)):
        return "bad answer"
    if isinstance(error, OSError) and error.errno is not None:
        return errno.errorcode.get(error.errno, str(error.errno))
    return type(error).__name__


def whoami_hostname(body: str) -> str:
    """The ``Hostname:`` line of a whoami answer."""
    for line in body.splitlines():
        key, colon, value = line.partition(":")
        if colon and key == "Hostname":
            return value.strip()
    raise ValueError(f"not a whoami answer: {body[:200]!r}")


class Held:
    """One connection, held by its own thread, and what it has seen so far."""

    def __init__(self, index: int, address: str, port: int, timeout: float) -> None:
        self.index = index
        self.address = address
        self.port = port
        self.timeout = timeout
        self.local_port = 0
        self.answers = 0
        self.pods: set[str] = set()
        self.failure: tuple[str, str, str, float] | None = None
        self.answered_once = threading.Event()

    def hold(self, stop: threading.Event, steps: list[str], started: float) -> None:
        connection = http.client.HTTPConnection(self.address, self.port, timeout=self.timeout)
        try:
            connection.connect()
            self.local_port = int(connection.sock.getsockname()[1])
            connection.auto_open = 0  # a broken connection must stay broken, never reconnect
            while not stop.is_set():
                self.exchange(connection)
                self.answered_once.set()
                stop.wait(random.uniform(*INTERVAL_S))  # noqa: S311 - spreads requests only
        except Exception as error:  # every way a connection can end is reported, not raised
            self.failure = (error_kind(error), str(error) or type(error).__name__, steps[-1],
                            time.monotonic() - started)
        finally:
            self.answered_once.set()
            connection.close()

    def exchange(self, connection: http.client.HTTPConnection) -> None:
        connection.request("GET", "/")
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        if response.status != 200:
            raise http.client.HTTPException(f"HTTP {response.status} {response.reason}")
        self.pods.add(whoami_hostname(body))
        self.answers += 1
        if response.will_close:
            raise http.client.RemoteDisconnected("the server closed the connection after "
                                                 "its answer")

    def report(self) -> dict[str, Any]:
        kind, detail, step, after = self.failure or ("", "", "", 0.0)
        return {"connection": self.index, "local_port": self.local_port,
                "answers": self.answers, "pods": sorted(self.pods), "error": kind,
                "detail": detail, "step": step, "broke_after_s": round(after, 3)}


def hold_connections(address: str, port: int, count: int, timeout: float, step: str) -> None:
    started = time.monotonic()
    steps = [step]
    stop = threading.Event()
    held = [Held(index, address, port, timeout) for index in range(count)]
    threads = [threading.Thread(target=one.hold, args=(stop, steps, started), daemon=True)
               for one in held]
    for thread in threads:
        thread.start()
    opening_deadline = started + timeout + 1.0
    for one in held:
        one.answered_once.wait(max(opening_deadline - time.monotonic(), 0.0))
        print(json.dumps(one.report()), flush=True)
    print(READY, flush=True)
    for line in sys.stdin:
        if line.strip():
            steps.append(line.strip())
    stop.set()
    for thread in threads:  # a request in flight ends by its answer or its timeout
        thread.join(timeout + 1.0)
    for one in held:
        print(json.dumps(one.report()), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="held_connections",
                                     description="hold keep-alive HTTP connections to a Service")
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=REQUEST_TIMEOUT_S,
                        help="seconds a request may wait for its answer")
    parser.add_argument("--step", default="start", help="name of the first step")
    options = parser.parse_args(argv)
    hold_connections(options.address, options.port, options.count, options.timeout,
                     options.step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
