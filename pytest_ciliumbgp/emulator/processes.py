"""Start lab daemons inside network namespaces and stop exactly those, by pid.

A pid alone is not proof of ownership (pids are reused), so every recorded process carries its
kernel start time; a pid whose start time differs is someone else's and is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LabProcess:
    name: str
    host: str
    pid: int
    start_time: int

    def alive(self) -> bool:
        return start_time_of(self.pid) == self.start_time

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> LabProcess:
        return cls(str(doc["name"]), str(doc["host"]), int(doc["pid"]), int(doc["start_time"]))


def start_time_of(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces or parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


INTERRUPTS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def spawn(
    name: str,
    host: str,
    namespace: str | None,
    argv: Sequence[str],
    log_path: Path,
    record: Callable[[LabProcess], None],
) -> LabProcess:
    """Run ``argv`` in ``namespace`` (None: the root one) detached from our session, output
    appended to ``log_path``.

    The process is handed to ``record`` before any interrupt can reach us, so a Ctrl-C in the
    middle of a start never leaves a daemon that nobody knows about.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        with log_path.open("ab") as log:
            child = subprocess.Popen(
                ["ip", "netns", "exec", namespace, *argv] if namespace else list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # The daemon must not inherit our blocked interrupts: we stop it with SIGTERM.
                preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, previous),
            )
        start_time = start_time_of(child.pid)
        if start_time is None:
            raise RuntimeError(f"{name} on {host} exited at once; see {log_path}")
        process = LabProcess(name, host, child.pid, start_time)
        record(process)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return process


def stop_all(processes: Iterable[LabProcess], *, grace: float = 2.0) -> None:
    """SIGTERM every still-living process of ours, then SIGKILL what is left after ``grace``."""
    living = [p for p in processes if p.alive()]
    for process in living:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while living and time.monotonic() < deadline:
        _reap(living)
        living = [p for p in living if p.alive()]
        if living:
            time.sleep(0.02)
    for process in living:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    _reap(living)


def kill_pids(pids: Iterable[int]) -> None:
    """SIGKILL pids found inside one of our namespaces (strays with no record)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _reap(processes: Iterable[LabProcess]) -> None:
    # Children of this very process would linger as zombies; collect them if they are ours.
    for process in processes:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(process.pid, os.WNOHANG)
