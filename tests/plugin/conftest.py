"""Helpers for the plugin's pytester tests: generated inventories and the fake lab."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_ciliumbgp import labs, settings
from tests.plugin import fakelab

REFERENCE_NODES = ("k8s-ctr", "k8s-w1", "k8s-w0")


def inventory_text(node_count: int) -> str:
    """A valid inventory with ``node_count`` nodes named node-1.. on 192.168.50.0/24."""
    nodes = "\n".join(
        f"  - {{name: node-{i}, asn: {65100 + i}, interfaces: "
        f"[{{name: eth1, network: lan, address: 192.168.50.{10 + i}/24}}]}}"
        for i in range(1, node_count + 1)
    )
    return (
        "name: generated\n"
        "networks: {lan: 192.168.50.0/24}\n"
        "lb_pool: 172.16.9.0/24\n"
        "router: {name: router, asn: 65000,\n"
        "         interfaces: [{name: eth1, network: lan, address: 192.168.50.1/24}]}\n"
        f"nodes:\n{nodes}\n"
    )


@dataclass
class FakeLabRun:
    """The fake lab as a pytester run sees it: ``--lab=fake --lab-file=<inventory>``."""

    pytester: pytest.Pytester
    state: Path

    @property
    def args(self) -> tuple[str, ...]:
        return ("--lab=fake", f"--lab-file={self.pytester.path / 'inventory.yaml'}")

    def calls(self) -> list[str]:
        return fakelab.calls()

    def set_running(self) -> None:
        (self.state / "running").touch()

    @property
    def running(self) -> bool:
        return (self.state / "running").exists()

    def break_with(self, message: str) -> None:
        (self.state / "broken").write_text(message)

    def answer(self, command: str, text: str) -> None:
        (self.state / command.replace(" ", "_")).write_text(text)


@pytest.fixture
def fake_lab(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> FakeLabRun:
    """Registers lab ``fake`` for in-process runs and, through a conftest, for xdist workers."""
    state = tmp_path / "fake-lab"
    state.mkdir()
    monkeypatch.setenv(fakelab.DIR_ENV, str(state))
    monkeypatch.setitem(labs.LABS, "fake", "fakelab:FakeLab")
    pytester.makepyfile(fakelab=Path(fakelab.__file__).read_text())
    pytester.makeconftest(
        "from pytest_ciliumbgp import labs\n"
        "labs.LABS['fake'] = 'fakelab:FakeLab'\n"
    )
    (pytester.path / "inventory.yaml").write_text(inventory_text(2))
    return FakeLabRun(pytester, state)


@pytest.fixture
def clean_cbgp_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``CBGP_*`` option variable of the test host leaks into a pytester run."""
    for option in settings.OPTIONS:
        monkeypatch.delenv(option.env, raising=False)


def header_run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A run with one empty test: what the report header says for ``args``."""
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    return result
