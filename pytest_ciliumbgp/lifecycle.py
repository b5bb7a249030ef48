"""Who starts the lab and who stops it, when several xdist workers share one run.

The first process that needs the lab takes a file lock in the run's directory, asks the lab to
run and, when that call started it, writes the run id to a marker file next to the lock. The
other workers wait on the lock and adopt the running lab. At the end the controller (or the only
process) stops the lab only if the marker names this run: a lab found running is never stopped.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pytest_ciliumbgp.labs import Lab

LAB_LOCK = "cbgp-lab"  # the lock file is <run dir>/cbgp-lab.lock
MARKER_FILE = "cbgp-lab.started-by"


def acquire(lab: Lab, run_dir: Path, run_id: str) -> bool:
    """Make ``lab`` run; return True when this call started it (and record that)."""
    with exclusive(run_dir, LAB_LOCK):
        started = lab.ensure_running()
        if started:
            (run_dir / MARKER_FILE).write_text(run_id)
    return started


def started_by(run_dir: Path, run_id: str) -> bool:
    try:
        return (run_dir / MARKER_FILE).read_text().strip() == run_id
    except FileNotFoundError:
        return False


def release(lab: Lab, run_dir: Path, run_id: str) -> bool:
    """Stop ``lab`` if run ``run_id`` started it; return whether it was stopped."""
    with exclusive(run_dir, LAB_LOCK):
        if not started_by(run_dir, run_id):
            return False
        lab.stop()
        (run_dir / MARKER_FILE).unlink()
    return True


@contextmanager
def exclusive(run_dir: Path, name: str) -> Iterator[None]:
    """Hold the run-wide lock ``name``: one holder at a time across every xdist worker."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / f"{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        yield

