"""A steady client: one HTTP GET to a Service every ``--interval`` seconds, each on a new
connection, from this host (the client behind the router), and which of them failed, and when.

Shipped to the client host and run there by its python3 (``pytest_ciliumbgp.probes.shipping``),
so it imports only the standard library and keeps to Python 3.8::

    python3 steady_requests.py --address 172.16.1.1 --interval 0.05

Requests start on a fixed schedule, each in its own thread, so one that hangs until its
timeout does not delay the next. Once the first request ended it prints ``ready``. Each line
read on stdin names the test's current step; when stdin closes it lets the requests in flight
end and prints one JSON document: ``requests`` and ``failed`` per step (in the order the steps
came), the failures themselves (``at_s`` from the start, ``step``, ``error``: ``refused``,
``reset``, ``timeout``, ``unreachable``, ``bad answer``, ...; ``detail``), when the first and
the last failed request started (``first_failure_s``, ``last_failure_s``) and how many answers
each pod gave.
"""

from __future__ import annotations

import argparse
import errno
import http.client
import json
import socket
import sys
import threading
import time
from typing import Any

READY = "ready"
INTERVAL_S = 0.05
REQUEST_TIMEOUT_S = 2.0
#: failures reported one by one; the counts cover them all
MAX_REPORTED_FAILURES = 200


def error_kind(error: BaseException) -> str:
    """How a request failed, in the words an operator uses."""
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed"
    if isinstance(error, ConnectionResetError):
        return "reset"
    if isinstance(error, (TimeoutError, socket.timeout)):  # one class from Python 3.10 on
        return "timeout"
    if isinstance(error, OSError) and error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
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


def one_request(address: str, port: int, timeout: float) -> str:
    """GET / on a new connection; the answering pod's name."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", "/", headers={"Connection": "close"})
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        if response.status != 200:
            raise http.client.HTTPException(f"HTTP {response.status} {response.reason}")
        return whoami_hostname(body)
    finally:
        connection.close()


class Tally:
    """What the requests saw, shared by their threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: (start time, step, error or "", detail or the answering pod), by request number
        self.outcomes: dict[int, tuple[float, str, str, str]] = {}

    def record(self, number: int, started: float, step: str, error: str, detail: str) -> None:
        with self.lock:
            self.outcomes[number] = (started, step, error, detail)

    def report(self, steps: list[str]) -> dict[str, Any]:
        with self.lock:
            ordered = [self.outcomes[n] for n in sorted(self.outcomes)]
        per_step: dict[str, dict[str, int]] = {step: {"requests": 0, "failed": 0}
                                               for step in steps}
        failures: list[dict[str, Any]] = []
        pods: dict[str, int] = {}
        for started, step, error, detail in ordered:
            counts = per_step.setdefault(step, {"requests": 0, "failed": 0})
            counts["requests"] += 1
            if error:
                counts["failed"] += 1
                if len(failures) < MAX_REPORTED_FAILURES:
                    failures.append({"at_s": round(started, 3), "step": step, "error": error,
                                     "detail": detail})
            else:
                pods[detail] = pods.get(detail, 0) + 1
        failed_at = [started for started, _, error, _ in ordered if error]
        return {"requests": len(ordered), "failed": len(failed_at),
                "steps": [{"step": step, **counts} for step, counts in per_step.items()],
                "failures": failures, "pods": pods,
                "first_failure_s": round(failed_at[0], 3) if failed_at else None,
                "last_failure_s": round(failed_at[-1], 3) if failed_at else None}


def run(address: str, port: int, interval: float, timeout: float, step: str,
        ) -> dict[str, Any]:
    began = time.monotonic()
    steps = [step]
    tally = Tally()
    stop = threading.Event()
    first_done = threading.Event()

    def request(number: int) -> None:
        started, current = time.monotonic() - began, steps[-1]
        try:
            pod = one_request(address, port, timeout)
        except Exception as error:  # every way a request can fail is counted, not raised
            tally.record(number, started, current, error_kind(error),
                         str(error) or type(error).__name__)
        else:
            tally.record(number, started, current, "", pod)
        first_done.set()

    def schedule() -> None:
        number = 0
        while not stop.is_set():
            threading.Thread(target=request, args=(number,), daemon=True).start()
            number += 1
            stop.wait(max(began + number * interval - time.monotonic(), 0.0))

    scheduler = threading.Thread(target=schedule, daemon=True)
    scheduler.start()
    first_done.wait(timeout + 1.0)
    print(READY, flush=True)
    for line in sys.stdin:
        if line.strip():
            steps.append(line.strip())
    stop.set()
    scheduler.join()
    deadline = time.monotonic() + timeout + 1.0  # the requests in flight end by answer or timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0.0))
    return tally.report(steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="steady_requests",
                                     description="a steady HTTP client of a Service")
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--interval", type=float, default=INTERVAL_S,
                        help="seconds between the starts of two requests")
    parser.add_argument("--timeout", type=float, default=REQUEST_TIMEOUT_S,
                        help="seconds a request may take")
    parser.add_argument("--step", default="start", help="name of the first step")
    options = parser.parse_args(argv)
    report = run(options.address, options.port, options.interval, options.timeout,
                 options.step)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
