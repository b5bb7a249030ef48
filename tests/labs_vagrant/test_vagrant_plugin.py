"""``pytest --lab=vagrant`` as a user runs it: the whole suite is collected without a lab (and
without running vagrant), and a lab that cannot be used ends the run in one line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_ciliumbgp.inventory import load_inventory
from tests.labs_vagrant.conftest import INVENTORY, ROOT, StandIns

USES_LAB = "def test_uses_lab(cbgp_lab):\n    pass\n"


def collect(lab: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", f"--lab={lab}", "--collect-only", "-p", "no:cacheprovider",
         "suites"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)


def collected(done: subprocess.CompletedProcess[str]) -> int:
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"^collected (\d+) items?$", done.stdout, re.MULTILINE)
    assert found, done.stdout
    return int(found[1])


def test_collect_only_collects_the_whole_suite_without_a_lab(stand_ins: StandIns) -> None:
    vagrant = collect("vagrant")
    # The same inventory shape as the embedded lab's: the same tests, node by node.
    assert collected(vagrant) == collected(collect("netns"))
    for node in load_inventory(INVENTORY).nodes:  # tests taking cbgp_node run once per node
        assert f"[{node.name}]>" in vagrant.stdout, node.name
    # What it would connect to.
    assert "cbgp lab: vagrant (from --lab)" in vagrant.stdout
    shipped = ROOT / "pytest_ciliumbgp" / "labs" / "data" / "vagrant.yaml"
    assert f"cbgp inventory: {shipped} (default for lab vagrant)" in vagrant.stdout
    assert stand_ins.vagrant_args() == [], "collecting runs no vagrant"
    assert stand_ins.calls("ssh") == []


def one_line_exit(result: pytest.RunResult, message: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.lines + result.stderr.lines
    said = [line for line in output if "cbgp: " in line]
    assert len(said) == 1, output
    assert said[0].strip("! ").endswith(f"cbgp: {message}"), said[0]
    assert "Traceback" not in "\n".join(output)


def test_vagrant_without_a_provider_ends_the_run(pytester: pytest.Pytester, stand_ins: StandIns,
                                                 project: Path) -> None:
    stand_ins.vagrant(["status"], {"rc": 1, "stdout_file": "status_no_provider.txt"})
    pytester.makepyfile(USES_LAB)
    result = pytester.runpytest_subprocess("--lab=vagrant", "-p", "no:cacheprovider")
    one_line_exit(result, f"vagrant status --machine-readable exited 1 in {project}: No usable "
                          f"default provider could be found for your system.")
    assert stand_ins.vagrant_args() == [["status", "--machine-readable"]]


def test_missing_vagrant_ends_the_run(pytester: pytest.Pytester, project: Path,
                                      bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(bin_dir))  # empty: no vagrant anywhere
    pytester.makepyfile(USES_LAB)
    result = pytester.runpytest_subprocess("--lab=vagrant", "-p", "no:cacheprovider")
    one_line_exit(result, "vagrant: program not found on this machine; install Vagrant "
                          "(https://developer.hashicorp.com/vagrant/install) and a provider "
                          "(VirtualBox or libvirt), or pick another --lab")
