"""A gobgpd the lab daemon starts again takes its node's record in the lab's state file, so
``cbgp-lab status`` shows it and ``down`` stops it; a locked or stopped lab is left alone."""

from __future__ import annotations

import fcntl
from pathlib import Path

from pytest_ciliumbgp.emulator.processes import LabProcess
from pytest_ciliumbgp.emulator.speaker_records import ProcessRecords
from pytest_ciliumbgp.emulator.state import LabState, StateDir

BEFORE = [LabProcess("zebra", "router", 10, 1), LabProcess("gobgpd", "k8s-ctr", 11, 1),
          LabProcess("gobgpd", "k8s-w1", 12, 1)]
RESTARTED = LabProcess("gobgpd", "k8s-w1", 99, 7)


def saved(root: Path, phase: str = "running") -> StateDir:
    state_dir = StateDir("cbgptest", root)
    state_dir.save(LabState("cbgptest", "inventory.yaml", "digest", phase=phase,
                            processes=list(BEFORE)))
    return state_dir


def test_the_restarted_speaker_replaces_its_nodes_record(tmp_path: Path) -> None:
    state_dir = saved(tmp_path)

    ProcessRecords(state_dir.path).replace(RESTARTED)

    state = state_dir.load()
    assert state is not None
    assert state.processes == [*BEFORE[:2], RESTARTED]


def test_a_lab_that_is_not_running_is_left_alone(tmp_path: Path) -> None:
    state_dir = saved(tmp_path, phase="starting")

    ProcessRecords(state_dir.path).replace(RESTARTED)

    state = state_dir.load()
    assert state is not None
    assert state.processes == BEFORE


def test_a_locked_state_is_left_alone_after_the_timeout(tmp_path: Path) -> None:
    state_dir = saved(tmp_path)
    records = ProcessRecords(state_dir.path)
    with records.lock_file.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as `cbgp-lab down` holds it while it stops the lab
        records.replace(RESTARTED, timeout=0.1)

    state = state_dir.load()
    assert state is not None
    assert state.processes == BEFORE


def test_the_lock_is_the_one_state_dir_takes(tmp_path: Path) -> None:
    state_dir = saved(tmp_path)
    records = ProcessRecords(state_dir.path)
    with state_dir.locked():
        records.replace(RESTARTED, timeout=0.1)
    state = state_dir.load()
    assert state is not None
    assert state.processes == BEFORE
