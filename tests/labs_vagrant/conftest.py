"""Stand-in ``vagrant`` and ``ssh`` on PATH, a Vagrant project for them to run in, and the
answers of a healthy reference lab."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp.inventory import Inventory, load_inventory
from pytest_ciliumbgp.labs.vagrant import VagrantLab
from tests.labs_vagrant import stand_in

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "lab" / "vagrant" / "inventory.yaml"
MACHINES = ["router", "k8s-ctr", "k8s-w1", "k8s-w0", "client"]


@dataclass
class StandIns:
    """What the stand-in clients answer, and what they were asked."""

    home: Path
    rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def vagrant(self, args: list[str], *answers: dict[str, Any]) -> None:
        self._add("vagrant", {"args": args, "answers": list(answers)})

    def ssh(self, host: str, command: str, *answers: dict[str, Any]) -> None:
        self._add("ssh", {"host": host, "command": command, "answers": list(answers)})

    def _add(self, program: str, rule: dict[str, Any]) -> None:
        # Later rules go first, so a test can override one answer of the healthy lab.
        self.rules.setdefault(program, []).insert(0, rule)
        (self.home / "answers.json").write_text(json.dumps(self.rules))

    def calls(self, program: str) -> list[dict[str, Any]]:
        log = self.home / "calls.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        return [call for call in map(json.loads, lines) if call["program"] == program]

    def vagrant_args(self) -> list[list[str]]:
        return [call["args"] for call in self.calls("vagrant")]

    def ssh_commands(self) -> list[tuple[str, str]]:
        """(host, remote command) of every ssh call."""
        found = []
        for call in self.calls("ssh"):
            split = call["args"].index("--")
            found.append((call["args"][split - 1], call["args"][split + 1]))
        return found


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory first on PATH for this test."""
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", f"{path}{os.pathsep}{os.environ['PATH']}")
    return path


@pytest.fixture
def stand_ins(tmp_path: Path, bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> StandIns:
    home = tmp_path / "stand-in"
    home.mkdir()
    monkeypatch.setenv(stand_in.HOME_ENV, str(home))
    monkeypatch.setenv(stand_in.DATA_ENV, str(stand_in.DATA))
    source = Path(stand_in.__file__).read_text()
    for program in ("vagrant", "ssh"):
        script = bin_dir / program
        # Standard library only: -I -S skips site-packages (and the time to set them up).
        script.write_text(f"#!{sys.executable} -IS\n{source}")
        script.chmod(0o755)
    fakes = StandIns(home)
    (home / "answers.json").write_text("{}")
    return fakes


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Vagrant project directory, named by VAGRANT_CWD."""
    path = tmp_path / "vagrant project"
    path.mkdir()
    (path / "Vagrantfile").write_text("# stands in for lab/vagrant/Vagrantfile\n")
    monkeypatch.setenv("VAGRANT_CWD", str(path))
    monkeypatch.delenv("VAGRANT_VAGRANTFILE", raising=False)
    return path.resolve()


@pytest.fixture
def inventory() -> Inventory:
    return load_inventory(INVENTORY)


def ok(stdout_file: str = "", **more: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"rc": 0, **more}
    if stdout_file:
        answer["stdout_file"] = stdout_file
    return answer


def answer_healthy_lab(fakes: StandIns, status: str = "status_running.txt") -> None:
    """Every machine running (or as ``status`` says), reachable, provisioned as the Vagrantfile
    provisions them."""
    fakes.vagrant(["status", "--machine-readable"], ok(status))
    fakes.vagrant(["ssh-config"], ok("ssh_config.txt"))
    fakes.vagrant(["port", "k8s-ctr", "--machine-readable"], ok("port_k8s-ctr.txt"))
    for machine in MACHINES:
        fakes.ssh(machine, "ip -j -4 address show", ok(f"ip_address_{machine}.json"))
    for machine in ("router", "client"):
        fakes.ssh(machine, "python3 -c 'import scapy'", ok())
    fakes.ssh("k8s-ctr", "cat /etc/kubernetes/admin.conf", ok("admin.conf"))


@dataclass
class LabUnderTest:
    lab: VagrantLab
    progress: list[str]


@pytest.fixture
def vagrant_lab(stand_ins: StandIns, project: Path, inventory: Inventory) -> LabUnderTest:
    """The Vagrant lab of the reference inventory, its progress lines collected."""
    said: list[str] = []
    return LabUnderTest(VagrantLab(inventory, progress=said.append), said)
