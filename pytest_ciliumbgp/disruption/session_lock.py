"""The run-wide lock on the lab's BGP sessions, shared by every xdist worker of a run.

A check that restarts Cilium agents or switches graceful restart in the peer config resets BGP
sessions the whole lab depends on: another check watching the router at that moment would see
paths go away that its own change did not touch. Such checks hold the lock exclusively; every
other check of the suite holds it shared, so none of them runs while sessions are reset, and
they run in parallel with each other as before.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

NAME = "bgp-sessions"


@contextlib.contextmanager
def sessions_lock(run_dir: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold the lock in ``run_dir`` (the run's directory shared by its workers) for the block:
    alone when ``exclusive``, else together with the other shared holders."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / f"{NAME}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield  # released when the file is closed
