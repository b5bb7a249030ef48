"""A program that runs on a lab host while a test goes through several steps.

:class:`Transport` runs one command to completion; holding connections open or capturing on the
router needs a process that outlives each step. The programs started here share one small
protocol: they print ``ready`` on a line of their own once they are set up (what they print
before it is kept), read one mark per line on stdin (the test's step: programs tag what they
see with it) and report on stdout when stdin closes.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import IO

from pytest_ciliumbgp.transport import Transport

READY = "ready"


class BackgroundError(RuntimeError):
    """The program did not start, did not finish or failed; the message says what it said."""


class Background:
    """``command`` running behind ``transport`` from ``start()`` (or ``with``) to ``finish()``."""

    def __init__(self, transport: Transport, command: Sequence[str], *, what: str,
                 timeout: float = 30.0) -> None:
        self.argv = transport.wrap(command)
        self.workdir = transport.workdir()
        self.what = f"{what} on {transport}"
        self.timeout = timeout
        #: what the program printed before ``ready``
        self.preamble: list[str] = []
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._errors: list[str] = []
        self._readers: list[threading.Thread] = []
        self._ready = False

    def start(self) -> Background:
        """Launch the program and wait until it is ready."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> None:
        """Start the program without waiting for it: a slow start (scapy takes a second or two
        to load) can overlap the test's own setup until :meth:`wait_ready`."""
        try:
            process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, cwd=self.workdir)
        except OSError as err:
            raise BackgroundError(f"{self.what}: cannot start {self.argv[0]}: "
                                  f"{err.strerror}") from None
        self._process = process
        # Both pipes are drained all along: a full pipe would stall the program mid-test.
        self._readers = [threading.Thread(target=self._read_out, args=(process.stdout,),
                                          daemon=True),
                         threading.Thread(target=self._read_err, args=(process.stderr,),
                                          daemon=True)]
        for reader in self._readers:
            reader.start()

    def wait_ready(self) -> None:
        """Return once the program said ``ready`` (at once if it already did)."""
        process = self._running()
        deadline = time.monotonic() + self.timeout
        while not self._ready:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                self.kill()
                raise BackgroundError(f"{self.what} did not start: nothing said within "
                                      f"{self.timeout:g} s") from None
            if line is None:  # its output ended: it is ending, with its exit code to say why
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(self.timeout)
                self.kill()
                raise BackgroundError(f"{self.what} did not start: {self._last_error()}")
            if line.strip() == READY:
                self._ready = True
            else:
                self.preamble.append(line.rstrip("\n"))

    def mark(self, step: str) -> None:
        """Tell the program which step the test is at now."""
        self.wait_ready()
        process = self._running()
        assert process.stdin is not None
        try:
            process.stdin.write(step.replace("\n", " ") + "\n")
            process.stdin.flush()
        except OSError:
            raise BackgroundError(f"{self.what} stopped early: {self._last_error()}") from None

    def finish(self) -> list[str]:
        """Close stdin and return what the program printed after ``ready``, once it ended."""
        self.wait_ready()
        process = self._running()
        assert process.stdin is not None
        with contextlib.suppress(OSError):  # the program ended already: its exit code says why
            process.stdin.close()
        try:
            process.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BackgroundError(f"{self.what}: no report within {self.timeout:g} s") from None
        self.kill()  # only to close the pipes: it has ended
        lines = []
        while not self._lines.empty() and (line := self._lines.get_nowait()) is not None:
            lines.append(line.rstrip("\n"))
        if process.returncode != 0:
            raise BackgroundError(f"{self.what} exited {process.returncode}: "
                                  f"{self._last_error()}")
        return lines

    def kill(self) -> None:
        """End the program now, whatever it was doing (idempotent)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait()
        self._join_readers()
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> Background:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.kill()

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise BackgroundError(f"{self.what} was never started")
        return self._process

    def _read_out(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)  # end of output

    def _read_err(self, stream: IO[str]) -> None:
        for line in stream:
            self._errors.append(line.rstrip("\n"))

    def _join_readers(self) -> None:
        for reader in self._readers:
            reader.join(self.timeout)

    def _last_error(self) -> str:
        detail = [line for line in self._errors if line.strip()]
        if detail:
            return detail[-1].strip()
        process = self._process
        return f"exit {process.poll() if process is not None else None}"
