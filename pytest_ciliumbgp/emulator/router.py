"""The lab's router: FRR (zebra + bgpd) in the router namespace, configured like the reference
router of DESIGN.md.

The daemons run with an FRR *pathspace* named after the lab, so their sockets live in
``/var/run/frr/<pathspace>/`` and never meet a system FRR; ``vtysh -N <pathspace>`` reaches them.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pytest_ciliumbgp.emulator.processes import LabProcess, spawn
from pytest_ciliumbgp.inventory import Inventory

FRR_DAEMONS = Path("/usr/lib/frr")
FRR_RUN = Path("/var/run/frr")
FRR_ETC = Path("/etc/frr")


class RouterStartError(RuntimeError):
    pass


def vtysh_argv(pathspace: str) -> list[str]:
    return ["vtysh", "-N", pathspace]


def router_peer_address(inventory: Inventory) -> str:
    """The router address every node peers with: its address on the first node's network
    (nodes on other networks reach it through the router, one hop, as in the reference lab)."""
    first = {i.network for i in inventory.nodes[0].interfaces}
    for interface in inventory.router.interfaces:
        if interface.network in first:
            return str(interface.ip)
    raise ValueError(f"the router shares no network with node {inventory.nodes[0].name}")


def bgpd_config(inventory: Inventory) -> str:
    """bgpd configuration: AS of the router, every node a neighbor, ECMP across all of them."""
    router = inventory.router
    lines = [
        f"hostname {router.name}",
        f"router bgp {router.asn}",
        f" bgp router-id {router.address}",
        " no bgp ebgp-requires-policy",
        " no bgp network import-check",
        " bgp bestpath as-path multipath-relax",
        " neighbor NODES peer-group",
        " neighbor NODES timers connect 5",
        # Nodes peer with one router address; sessions the router opens must come from it too.
        f" neighbor NODES update-source {router_peer_address(inventory)}",
    ]
    for node in inventory.nodes:
        lines += [
            f" neighbor {node.address} remote-as {node.asn}",
            f" neighbor {node.address} peer-group NODES",
            f" neighbor {node.address} description {node.name}",
        ]
    lines += [
        " address-family ipv4 unicast",
        f"  maximum-paths {max(len(inventory.nodes), 2)}",
        " exit-address-family",
        "exit",
        "",
    ]
    return "\n".join(lines)


def start(
    inventory: Inventory,
    namespace: str,
    pathspace: str,
    workdir: Path,
    record: Callable[[LabProcess], None],
) -> None:
    """Write the configuration, start zebra then bgpd, and wait until bgpd answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    if not FRR_RUN.exists():
        FRR_RUN.mkdir(parents=True)
        _give_to_frr(FRR_RUN)
    socket_dir = FRR_RUN / pathspace
    socket_dir.mkdir(exist_ok=True)
    _give_to_frr(socket_dir)
    # vtysh -N reads /etc/frr/<pathspace>/vtysh.conf and complains on every call without one.
    (FRR_ETC / pathspace).mkdir(parents=True, exist_ok=True)
    (FRR_ETC / pathspace / "vtysh.conf").write_text("service integrated-vtysh-config\n")
    # The daemons read their configuration as the frr user: keep it in their own directory.
    (socket_dir / "zebra.conf").write_text(f"hostname {inventory.router.name}\n")
    (socket_dir / "bgpd.conf").write_text(bgpd_config(inventory))
    host = inventory.router.name
    for daemon, ready_socket in (("zebra", "zserv.api"), ("bgpd", "bgpd.vty")):
        argv = [
            str(FRR_DAEMONS / daemon),
            "-N",
            pathspace,
            "-f",
            str(socket_dir / f"{daemon}.conf"),
            "-i",
            str(socket_dir / f"{daemon}.pid"),
            "--log",
            "stdout",
        ]
        if daemon == "bgpd":
            argv += ["--log-level", "informational"]
        process = spawn(daemon, host, namespace, argv, workdir / f"{daemon}.log", record)
        _wait_for(socket_dir / ready_socket, process, workdir / f"{daemon}.log")
    _check_configured(namespace, pathspace, workdir / "bgpd.log")


def cleanup(pathspace: str) -> None:
    shutil.rmtree(FRR_RUN / pathspace, ignore_errors=True)
    shutil.rmtree(FRR_ETC / pathspace, ignore_errors=True)


def _wait_for(path: Path, process: LabProcess, log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        if not process.alive():
            raise RouterStartError(f"{process.name} exited during start; see {log}")
        time.sleep(0.02)
    raise RouterStartError(f"{process.name} did not open {path} within {timeout:g} s; see {log}")


def _check_configured(namespace: str, pathspace: str, log: Path) -> None:
    """bgpd starts even when it could not read its file; make sure the BGP instance exists."""
    shown = subprocess.run(
        ["ip", "netns", "exec", namespace, *vtysh_argv(pathspace), "-c", "show bgp summary json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=10,
    )
    if '"ipv4Unicast"' not in shown.stdout:
        raise RouterStartError(f"bgpd runs without its BGP configuration; see {log}")


def _give_to_frr(directory: Path) -> None:
    # FRR drops privileges to the frr user and must still write its sockets and pid files.
    try:
        uid, gid = pwd.getpwnam("frr").pw_uid, grp.getgrnam("frr").gr_gid
    except KeyError:
        return
    os.chown(directory, uid, gid)
