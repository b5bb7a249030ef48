"""The first conformance check against the real embedded lab: it passes on a healthy lab and
fails, for exactly the right node, when that node's BGP speaker stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.conftest import ROOT, LabCli

pytestmark = pytest.mark.lab


def run_suite(cli: LabCli, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites/test_bgp_sessions.py", "--lab=netns",
         "-p", "no:cacheprovider", "-rA", *args],
        env=cli.env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )


def test_suite_passes_on_a_healthy_lab_and_leaves_an_adopted_lab_running(
    running_lab: LabCli,
) -> None:
    result = run_suite(running_lab)

    assert result.returncode == 0, result.stdout
    assert "3 passed" in result.stdout
    assert "cbgp: Kubernetes API and Cilium are emulated in this lab" in result.stdout
    assert running_lab.status()["state"] == "running"


def test_suite_passes_under_xdist(running_lab: LabCli) -> None:
    result = run_suite(running_lab, "-n", "2")

    assert result.returncode == 0, result.stdout
    assert "3 passed" in result.stdout


def test_suite_starts_and_stops_the_lab_when_none_runs(fresh_lab: LabCli) -> None:
    result = run_suite(fresh_lab)

    assert result.returncode == 0, result.stdout
    assert "3 passed" in result.stdout
    assert fresh_lab.namespaces() == []
    assert fresh_lab.daemons() == []


def test_stopped_speaker_fails_the_check_for_exactly_that_node(
    fresh_lab: LabCli, tmp_path: Path
) -> None:
    assert fresh_lab.run("up").returncode == 0
    w1 = next(h for h in fresh_lab.status()["hosts"] if h["name"] == "k8s-w1")
    os.kill(w1["processes"][0]["pid"], signal.SIGTERM)
    allure_dir = tmp_path / "allure"

    result = run_suite(fresh_lab, f"--alluredir={allure_dir}")

    assert result.returncode == 1, result.stdout
    assert "1 failed, 2 passed" in result.stdout
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1
    assert "[k8s-w1]" in failed[0]
    assert (
        "node k8s-w1: expected an Established BGP session from 192.168.10.101 with remote AS "
        "65001 within 30 s, router has it in state Active" in result.stdout
    ) or "router has it in state Connect" in result.stdout
    attachments = [
        json.loads(p.read_text()) for p in allure_dir.glob("*-result.json")
        if "k8s-w1" in json.loads(p.read_text())["name"]
    ]
    assert [a["name"] for a in attachments[0]["attachments"]] == ["router: show bgp summary"]
