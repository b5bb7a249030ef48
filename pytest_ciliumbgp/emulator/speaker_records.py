"""Keep the lab's record of its processes true when the lab daemon restarts a node's gobgpd.

``cbgp-lab up`` records every daemon it starts in the state file, so that ``status`` reports
them and ``down`` stops them. A gobgpd that an emulated agent restart starts later takes its
node's record over. The file is written under the lab's lock, taken without waiting long:
``cbgp-lab down`` holds that lock while it stops this very daemon, and a record missed then
is not needed (``down`` also removes whatever still runs in the lab's namespaces).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator
from pathlib import Path

from .processes import LabProcess
from .state import StateDir

log = logging.getLogger(__name__)


class ProcessRecords:
    """The process list in the state file of the lab whose state directory is ``state_dir``
    (``<state root>/<lab id>``, the parent of the speakers' directory)."""

    def __init__(self, state_dir: Path) -> None:
        self.state = StateDir(state_dir.name, state_dir.parent)
        # The lock file StateDir.locked() takes: one lock for every writer of the state file.
        self.lock_file = self.state.root / f"{state_dir.name}.lock"

    def replace(self, process: LabProcess, timeout: float = 2.0) -> None:
        """Record ``process`` in place of the one of the same name on the same host, unless
        the lab is not running or its lock stays taken for ``timeout`` seconds."""
        with _locked(self.lock_file, timeout) as locked:
            if not locked:
                log.warning("%s on %s (pid %d) not recorded: the lab's state is locked",
                            process.name, process.host, process.pid)
                return
            state = self.state.load()
            if state is None or state.phase != "running":
                return
            state.processes = [p for p in state.processes
                               if (p.name, p.host) != (process.name, process.host)]
            state.processes.append(process)
            self.state.save(state)


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[bool]:
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
                continue
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
            return
