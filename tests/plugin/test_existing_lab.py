"""``--lab=existing``: one vtysh call checks the router is reachable; nothing starts or stops."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_ciliumbgp.inventory import load_inventory
from pytest_ciliumbgp.labs import LabError, lab_class
from pytest_ciliumbgp.labs.existing import ExistingLab
from pytest_ciliumbgp.transport import LocalTransport
from tests.plugin.conftest import inventory_text

SUMMARY = '{"ipv4Unicast": {"peers": {"192.168.50.11": {"remoteAs": 65101, "state": "Active"}}}}'


@pytest.fixture
def fake_vtysh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``vtysh`` first on PATH; tests write what it does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir / "vtysh"


def write_script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def local_router_inventory(tmp_path: Path) -> Path:
    path = tmp_path / "existing.yaml"
    local = "router: {name: router, reach: {via: local},"
    path.write_text(inventory_text(2).replace("router: {name: router,", local))
    return path


def test_registry_entry_imports() -> None:
    assert lab_class("existing") is ExistingLab


def test_reachable_router_is_adopted(tmp_path: Path, fake_vtysh: Path) -> None:
    write_script(fake_vtysh, f"echo '{SUMMARY}'")
    lab = ExistingLab(load_inventory(local_router_inventory(tmp_path)))
    assert lab.ensure_running() is False
    assert isinstance(lab.transport("router"), LocalTransport)
    assert lab.router().bgp_peers()["192.168.50.11"].state == "Active"
    lab.stop()


def test_unreachable_router_is_one_line(tmp_path: Path, fake_vtysh: Path) -> None:
    write_script(fake_vtysh, "echo '% Connection refused: is bgpd running?'; exit 1")
    lab = ExistingLab(load_inventory(local_router_inventory(tmp_path)))
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("router router is not usable: show bgp summary json on local://")
    assert message.endswith("exited 1: % Connection refused: is bgpd running?")


def test_unreachable_router_ends_the_run(pytester: pytest.Pytester, fake_vtysh: Path) -> None:
    write_script(fake_vtysh, "echo '% Connection refused'; exit 1")
    inventory = local_router_inventory(pytester.path)
    pytester.makepyfile("def test_router(cbgp_router): pass")
    result = pytester.runpytest_subprocess("--lab=existing", f"--lab-file={inventory}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        ["!*Exit: cbgp: router router is not usable: *% Connection refused !*"]
    )
    assert "Traceback" not in result.stdout.str()
