"""Run the conformance suite (``suites/``) in a pytest subprocess against an embedded lab of its
own, brought up for the run (optionally with fault switches) and always brought down again.

Shared by the fault matrix (``test_fault_matrix.py``) and ``benchmarks/suite_runs.py``. The
outcome of every test is read from the JUnit XML the run writes, so nothing depends on the
terminal layout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CBGP_LAB = [sys.executable, "-m", "pytest_ciliumbgp.emulator.cli"]


@dataclass(frozen=True)
class SuiteRun:
    """What one run of the suite did: each test's outcome by its short id
    (``test_module.py::test_name[params]``)."""

    lab_id: str
    faults: tuple[str, ...]
    exit_code: int
    outcomes: dict[str, str]
    seconds: float
    output: str = field(repr=False)

    def with_outcome(self, *outcomes: str) -> set[str]:
        return {test for test, outcome in self.outcomes.items() if outcome in outcomes}

    @property
    def failing(self) -> set[str]:
        """Tests that failed or errored."""
        return self.with_outcome("failed", "error")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def outcomes_from_junit(path: Path) -> dict[str, str]:
    """``{short test id: passed | failed | error | skipped}`` from a JUnit XML report."""
    outcomes: dict[str, str] = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        test = f"{module}.py::{case.get('name')}"
        kinds = {child.tag for child in case}
        if "error" in kinds:
            outcome = "error"  # a teardown error after a failure is still a failure first
            if "failure" in kinds:
                outcome = "failed"
        elif "failure" in kinds:
            outcome = "failed"
        elif "skipped" in kinds:
            outcome = "skipped"
        else:
            outcome = "passed"
        if outcomes.get(test) in ("failed", "error"):
            continue  # pytest writes a second case for an error in teardown
        outcomes[test] = outcome
    return outcomes


def lab_env(lab_id: str, state_dir: Path) -> dict[str, str]:
    return {**os.environ, "CBGP_LAB_ID": lab_id, "CBGP_STATE_DIR": str(state_dir),
            "PYTHONUNBUFFERED": "1"}


def run_suite(lab_id: str, *, faults: Sequence[str] = (), options: Sequence[str] = (),
              pytest_args: Sequence[str] = (), timeout: float = 900.0) -> SuiteRun:
    """Bring lab ``lab_id`` up with ``faults`` and agent ``options`` (``KEY=VALUE``), run
    ``suites/`` on it, bring it down."""
    work = Path(tempfile.mkdtemp(prefix=f"{lab_id}-run-"))
    env = lab_env(lab_id, work / "state")
    junit = work / "junit.xml"
    up_args = [arg for fault in faults for arg in ("--fault", fault)]
    up_args += [arg for option in options for arg in ("--option", option)]
    began = time.monotonic()
    try:
        up = subprocess.run([*CBGP_LAB, "up", *up_args], env=env, cwd=ROOT, text=True,
                            capture_output=True, timeout=120, check=False)
        if up.returncode != 0:
            return SuiteRun(lab_id, tuple(faults), up.returncode, {}, time.monotonic() - began,
                            f"cbgp-lab up failed:\n{up.stdout}{up.stderr}")
        suite = subprocess.run(
            [sys.executable, "-m", "pytest", "suites/", "--lab=netns", "-p", "no:cacheprovider",
             "-q", "-rfE", f"--junitxml={junit}", *pytest_args],
            env=env, cwd=ROOT, text=True, capture_output=True, timeout=timeout, check=False)
        outcomes = outcomes_from_junit(junit) if junit.exists() else {}
        return SuiteRun(lab_id, tuple(faults), suite.returncode, outcomes,
                        time.monotonic() - began, suite.stdout + suite.stderr)
    finally:
        subprocess.run([*CBGP_LAB, "down"], env=env, cwd=ROOT, capture_output=True,
                       timeout=120, check=False)
        shutil.rmtree(work, ignore_errors=True)
