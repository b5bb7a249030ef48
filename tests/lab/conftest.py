"""Lab tests drive the real embedded lab through ``cbgp-lab``; they need root and the packages.

Each test lab gets its own id (``cbgpt…``) and state directory, so these tests never touch a lab
a user brought up with the default id, and each lifecycle test starts from nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.lab import LabUnavailable, preflight

ROOT = Path(__file__).resolve().parents[2]
CBGP_LAB = [sys.executable, "-m", "pytest_ciliumbgp.emulator.cli"]


def _require_lab() -> None:
    try:
        preflight()
    except LabUnavailable as err:
        pytest.skip(f"embedded lab unavailable here: {err}")


@dataclass
class LabCli:
    """``cbgp-lab`` for one test lab id, with its own state directory."""

    lab_id: str
    state_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CBGP_LAB_ID": self.lab_id, "CBGP_STATE_DIR": str(self.state_dir)}

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CBGP_LAB, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=ROOT,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*CBGP_LAB, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.run("status", "--json").stdout)
        return result

    def namespaces(self) -> list[str]:
        out = subprocess.run(["ip", "-j", "netns", "list"], capture_output=True, text=True).stdout
        return [
            n["name"] for n in json.loads(out or "[]") if n["name"].startswith(f"{self.lab_id}-")
        ]

    def daemons(self) -> list[str]:
        """Command lines of live processes started for this lab (they name its state dir or
        FRR pathspace), whether or not the lab recorded them."""
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            line = " ".join(a.decode(errors="replace") for a in argv if a)
            if line and (str(self.state_dir) in line or f"-N {self.lab_id}" in line):
                found.append(line)
        return found

    def processes(self) -> list[dict[str, Any]]:
        return [p for host in self.status()["hosts"] for p in host["processes"]]


def lab_cli(lab_id: str, tmp_path: Path) -> Iterator[LabCli]:
    _require_lab()
    cli = LabCli(lab_id, tmp_path / "state")
    try:
        yield cli
    finally:
        cli.run("down")
        shutil.rmtree(cli.state_dir, ignore_errors=True)


@pytest.fixture
def fresh_lab(tmp_path: Path) -> Iterator[LabCli]:
    """A lab id of this test's own, brought down after the test whatever happened."""
    yield from lab_cli("cbgpt1", tmp_path)


@pytest.fixture(scope="module")
def running_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCli]:
    """One lab shared by a module's read-only tests."""
    for cli in lab_cli("cbgpt0", tmp_path_factory.mktemp("lab")):
        up = cli.run("up")
        assert up.returncode == 0, up.stderr
        yield cli
