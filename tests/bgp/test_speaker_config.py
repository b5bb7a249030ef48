"""gobgpd's configuration as the emulated agent writes it: graceful restart as Cilium negotiates
it (restart time and the N bit), peers held down until the paths are in after a restart, and
gobgpd itself accepting every variant (``gobgpd --dry-run`` when it is installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.cilium.bgp_paths import PeerSettings
from pytest_ciliumbgp.emulator.cilium.speaker import neighbor_section, speaker_config
from pytest_ciliumbgp.emulator.speakers import gobgpd_argv

tomllib = pytest.importorskip("tomllib")

ROUTER = PeerSettings("router", "192.168.10.200", 65000, connect_retry_seconds=5,
                      hold_time_seconds=9, keepalive_seconds=3)
GRACEFUL = PeerSettings("router", "192.168.10.200", 65000, graceful_restart=True,
                        restart_time_seconds=15)


def neighbor(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = tomllib.loads(text)
    return dict(parsed["neighbors"][0])


def test_graceful_restart_sets_the_restart_time_and_the_notification_bit() -> None:
    found = neighbor(neighbor_section(GRACEFUL))

    assert found["graceful-restart"]["config"] == {
        "enabled": True, "restart-time": 15, "notification-enabled": True}
    assert found["afi-safis"][0]["mp-graceful-restart"]["config"] == {"enabled": True}


def test_without_graceful_restart_nothing_of_it_is_negotiated() -> None:
    found = neighbor(neighbor_section(ROUTER))

    assert "graceful-restart" not in found
    assert "mp-graceful-restart" not in found["afi-safis"][0]
    assert found["timers"]["config"] == {"connect-retry": 5, "hold-time": 9,
                                         "keepalive-interval": 3}


@pytest.mark.parametrize("admin_down", [True, False])
def test_admin_down_holds_the_peer_down(admin_down: bool) -> None:
    found = neighbor(neighbor_section(ROUTER, admin_down=admin_down))

    assert found["config"].get("admin-down", False) is admin_down


def test_the_whole_file_has_the_global_section_and_peers_by_address() -> None:
    second = PeerSettings("other", "192.168.10.50", 65010)
    parsed = tomllib.loads(speaker_config(65001, "192.168.10.101", [ROUTER, second]))

    assert parsed["global"]["config"] == {"as": 65001, "router-id": "192.168.10.101",
                                          "port": 179}
    assert [n["config"]["neighbor-address"] for n in parsed["neighbors"]] == [
        "192.168.10.200", "192.168.10.50"]


def test_a_restarting_speaker_flags_its_restart() -> None:
    assert "-r" in gobgpd_argv(Path("k8s-w1.toml"), restarting=True)
    assert "-r" not in gobgpd_argv(Path("k8s-w1.toml"))


@pytest.mark.parametrize(("peer", "admin_down"), [(GRACEFUL, True), (GRACEFUL, False),
                                                  (ROUTER, False)],
                         ids=["graceful-down", "graceful", "plain"])
def test_gobgpd_accepts_the_configuration(peer: PeerSettings, admin_down: bool,
                                          tmp_path: Path) -> None:
    if shutil.which("gobgpd") is None:
        pytest.skip("gobgpd is not installed")
    config = tmp_path / "speaker.toml"
    config.write_text(speaker_config(65001, "192.168.10.101", [peer], admin_down=admin_down))

    checked = subprocess.run(["gobgpd", "--dry-run", "-f", str(config)], capture_output=True,
                             text=True, timeout=30, check=False)

    assert checked.returncode == 0, checked.stdout + checked.stderr
