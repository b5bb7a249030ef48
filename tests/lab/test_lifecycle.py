"""The embedded lab's lifecycle: up, idempotent up, down, interrupted up, crashed lab, strangers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from pytest_ciliumbgp.emulator.processes import start_time_of
from tests.lab.conftest import CBGP_LAB, LabCli

pytestmark = pytest.mark.lab

NODE_PEERS = {"192.168.10.100", "192.168.10.101", "192.168.20.100"}


def established_peers(cli: LabCli) -> dict[str, int]:
    shown = cli.run("exec", "router", "--", "vtysh", "-c", "show bgp summary json")
    if shown.returncode != 0:
        return {}
    peers = json.loads(shown.stdout).get("ipv4Unicast", {}).get("peers", {})
    return {ip: p["remoteAs"] for ip, p in peers.items() if p["state"] == "Established"}


def test_up_establishes_every_node_session_within_15_seconds(fresh_lab: LabCli) -> None:
    began = time.monotonic()
    up = fresh_lab.run("up")
    assert up.returncode == 0, up.stderr
    while set(established_peers(fresh_lab)) != NODE_PEERS and time.monotonic() - began < 15:
        time.sleep(0.2)
    assert established_peers(fresh_lab) == dict.fromkeys(NODE_PEERS, 65001)


def test_second_up_reports_the_running_lab_and_starts_nothing(fresh_lab: LabCli) -> None:
    assert fresh_lab.run("up").returncode == 0
    before = fresh_lab.processes()

    again = fresh_lab.run("up")

    assert again.returncode == 0
    assert "already running" in again.stderr
    assert fresh_lab.processes() == before
    assert len(before) == 5  # zebra + bgpd + one gobgpd per node


def test_down_removes_every_namespace_and_process(fresh_lab: LabCli) -> None:
    assert fresh_lab.run("up").returncode == 0
    pids = [p["pid"] for p in fresh_lab.processes()]
    assert fresh_lab.namespaces()

    down = fresh_lab.run("down")

    assert down.returncode == 0, down.stderr
    assert fresh_lab.namespaces() == []
    assert [pid for pid in pids if start_time_of(pid) is not None] == []
    assert fresh_lab.daemons() == []
    assert not Path("/var/run/frr/cbgpt1").exists()
    assert "not running" in fresh_lab.run("down").stderr


@pytest.mark.parametrize("phase", ["namespaces wired", "FRR up"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_during_up_removes_what_up_made(
    fresh_lab: LabCli, signum: signal.Signals, phase: str
) -> None:
    starting = fresh_lab.popen("up")
    assert starting.stderr is not None
    seen = [line for line in _lines_until(starting.stderr, phase)]
    starting.send_signal(signum)
    _, rest = starting.communicate(timeout=30)

    assert starting.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    assert fresh_lab.namespaces() == []
    assert fresh_lab.daemons() == []
    assert fresh_lab.run("down").returncode == 0


def _lines_until(stream: IO[str], phase: str) -> Iterator[str]:
    for line in stream:
        yield line
        if phase in line:
            return
    raise AssertionError(f"up never reported {phase!r}")


def test_up_after_a_crash_cleans_the_stale_lab_first(fresh_lab: LabCli) -> None:
    assert fresh_lab.run("up").returncode == 0
    crashed = fresh_lab.processes()
    for process in crashed:  # as if the machine's OOM killer had taken the daemons
        os.kill(process["pid"], signal.SIGKILL)

    up = fresh_lab.run("up")

    assert up.returncode == 0, up.stderr
    assert "stale" in up.stderr
    assert fresh_lab.status()["state"] == "running"
    assert {p["pid"] for p in fresh_lab.processes()}.isdisjoint(p["pid"] for p in crashed)


def test_down_without_state_file_still_removes_the_namespaces(fresh_lab: LabCli) -> None:
    assert fresh_lab.run("up").returncode == 0
    (fresh_lab.state_dir / "cbgpt1" / "state.json").unlink()

    fresh_lab.run("down")

    assert fresh_lab.namespaces() == []
    assert fresh_lab.daemons() == []


def test_down_leaves_namespaces_and_processes_it_did_not_make(fresh_lab: LabCli) -> None:
    stranger_ns = "cbgpt1x-stranger"  # shares a prefix, but not the lab's "<id>-" one
    subprocess.run(["ip", "netns", "add", stranger_ns], check=True)
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        assert fresh_lab.run("up").returncode == 0
        fresh_lab.run("down")
        assert (
            stranger_ns
            in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        )
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
        subprocess.run(["ip", "netns", "delete", stranger_ns], check=False)


def test_not_root_gets_one_line_saying_what_is_needed(fresh_lab: LabCli) -> None:
    as_nobody = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *CBGP_LAB, "up"],
        env=fresh_lab.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert as_nobody.returncode == 2
    assert as_nobody.stderr.strip().count("\n") == 0
    assert "needs root" in as_nobody.stderr


def test_missing_gobgpd_is_named_with_the_install_command(
    fresh_lab: LabCli, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("ip", "vtysh", "gobgp", "openssl", "nft", "curl"):
        (bin_dir / program).symlink_to(
            subprocess.check_output(["which", program], text=True).strip()
        )
    env = {**fresh_lab.env, "PATH": str(bin_dir)}
    up = subprocess.run([*CBGP_LAB, "up"], env=env, capture_output=True, text=True, check=False)
    assert up.returncode == 2
    assert up.stderr.strip() == (
        "cbgp-lab: the embedded lab needs the packages gobgpd; "
        "install with: apt-get install -y gobgpd"
    )
    assert fresh_lab.namespaces() == []
