"""The nodes' BGP speakers: one gobgpd per node namespace, peering with the router.

gobgpd is the BGP library Cilium embeds. Its gRPC API listens on 127.0.0.1 inside each node's
namespace, so ``gobgp`` run in that namespace talks to that node's speaker only.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pytest_ciliumbgp.emulator.processes import LabProcess, spawn
from pytest_ciliumbgp.inventory import Inventory, Node

API_ADDRESS = "127.0.0.1:50051"


class SpeakerStartError(RuntimeError):
    pass


def gobgp_argv() -> list[str]:
    """The ``gobgp`` CLI aimed at the speaker of the namespace it runs in."""
    host, port = API_ADDRESS.split(":")
    return ["gobgp", "-u", host, "-p", port]


def global_section(asn: int, router_id: str) -> str:
    """gobgpd's global TOML: the speaker's ASN and router id."""
    return "\n".join(["[global.config]", f"  as = {asn}", f'  router-id = "{router_id}"',
                      "  port = 179", ""])


def gobgpd_config(node: Node) -> str:
    """TOML for one node's speaker at start: its ASN and router id, no neighbor yet. The
    emulated Cilium agent adds the peers its CiliumBGPNodeConfig names."""
    return global_section(node.asn, str(node.address))


def gobgpd_argv(config: Path, *, restarting: bool = False) -> list[str]:
    """gobgpd reading ``config``, its API on :data:`API_ADDRESS`. ``restarting`` starts it as
    a graceful-restart *restarting speaker* (``-r``): the neighbors of its first configuration
    that have graceful restart get the Restart State and Forwarding State bits in their OPEN,
    as Cilium's agent sets them (LocalRestarting), so the router keeps their stale paths until
    the new session's End-of-RIB instead of dropping them when the session comes up."""
    argv = ["gobgpd", "-f", str(config), "-p", "--api-hosts", API_ADDRESS, "--pprof-disable"]
    return [*argv, "-r"] if restarting else argv


def launch(
    host: str,
    namespace: str,
    config: Path,
    record: Callable[[LabProcess], None],
    *,
    restarting: bool = False,
) -> LabProcess:
    """Start one gobgpd for ``host`` in ``namespace`` from ``config`` (already written), its
    output appended to the log beside it, and wait until its API answers."""
    log = config.with_suffix(".log")
    process = spawn("gobgpd", host, namespace, gobgpd_argv(config, restarting=restarting), log,
                    record)
    _wait_for_api(namespace, process, log)
    return process


def start(
    inventory: Inventory,
    namespace_of: Callable[[str], str],
    workdir: Path,
    record: Callable[[LabProcess], None],
) -> None:
    """Start every node's gobgpd and wait until each one's API answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = []
    for node in inventory.nodes:
        config = workdir / f"{node.name}.toml"
        config.write_text(gobgpd_config(node))
        log = config.with_suffix(".log")
        process = spawn("gobgpd", node.name, namespace_of(node.name), gobgpd_argv(config), log,
                        record)
        started.append((node, process))
    for node, process in started:
        _wait_for_api(namespace_of(node.name), process, workdir / f"{node.name}.log")


def _wait_for_api(namespace: str, process: LabProcess, log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise SpeakerStartError(f"gobgpd on {process.host} exited during start; see {log}")
        probe = subprocess.run(
            ["ip", "netns", "exec", namespace, *gobgp_argv(), "global"],
            capture_output=True,
            check=False,
            timeout=5,
        )
        if probe.returncode == 0:
            return
        time.sleep(0.05)
    raise SpeakerStartError(f"gobgpd on {process.host} API not up within {timeout:g} s; see {log}")
