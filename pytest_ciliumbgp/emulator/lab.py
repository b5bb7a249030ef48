"""The embedded lab as a whole: bring it up from an inventory, report on it, tear it down.

Every namespace is named ``<lab id>-<host>`` and every process is recorded (with its start time)
in the state directory the moment it exists, so ``down`` removes exactly what this lab made —
after a clean run, a signal in the middle of ``up`` or a crash — and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_ciliumbgp.emulator import apidaemon, apiserver, router, speakers, topology
from pytest_ciliumbgp.emulator.boot import agent_options
from pytest_ciliumbgp.emulator.faults import Faults
from pytest_ciliumbgp.emulator.kubeapi.cilium_release import (
    DEFAULT_VERSION,
    CiliumRelease,
    cilium_release,
)
from pytest_ciliumbgp.emulator.processes import INTERRUPTS, LabProcess, kill_pids, stop_all
from pytest_ciliumbgp.emulator.state import LabState, StateDir
from pytest_ciliumbgp.emulator.topology import LabNames
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.transport import NetnsTransport

DEFAULT_LAB_ID = "cbgp"
_LAB_ID = re.compile(r"^cbgp[a-z0-9]{0,8}$")

#: program -> (what provides it, Debian/Ubuntu package)
REQUIRED_PROGRAMS = {
    "ip": "iproute2",
    "vtysh": "frr",
    str(router.FRR_DAEMONS / "zebra"): "frr",
    str(router.FRR_DAEMONS / "bgpd"): "frr",
    "gobgpd": "gobgpd",
    "gobgp": "gobgpd",
    "openssl": "openssl",
    "nft": "nftables",
    "curl": "curl",
}

Progress = Callable[[str], None]


class LabUnavailable(RuntimeError):
    """This machine cannot run the embedded lab; the message says what is needed."""


class LabConflict(RuntimeError):
    """A lab with this id already runs, from another inventory."""


def lab_id_from_env() -> str:
    return os.environ.get("CBGP_LAB_ID") or DEFAULT_LAB_ID


def cilium_version_from_env() -> str | None:
    """The Cilium release asked for by ``CBGP_CILIUM_VERSION`` (None: no preference)."""
    return os.environ.get("CBGP_CILIUM_VERSION") or None


def preflight() -> None:
    """Raise :class:`LabUnavailable` unless we are root and every program the lab runs exists."""
    if os.geteuid() != 0:
        raise LabUnavailable(
            "the embedded lab needs root (it creates network namespaces); run as root or with sudo"
        )
    missing = sorted(
        {package for program, package in REQUIRED_PROGRAMS.items() if not shutil.which(program)}
    )
    if missing:
        raise LabUnavailable(
            f"the embedded lab needs the packages {', '.join(missing)}; "
            f"install with: apt-get install -y {' '.join(missing)}"
        )


def inventory_digest(inventory: Inventory) -> str:
    source = inventory.source.read_bytes() if inventory.source else repr(inventory).encode()
    return hashlib.sha256(source).hexdigest()[:16]


class EmbeddedLab:
    """One embedded lab, identified by ``lab_id`` (default ``cbgp``, env ``CBGP_LAB_ID``)."""

    def __init__(
        self,
        inventory: Inventory,
        lab_id: str | None = None,
        *,
        state_root: Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.inventory = inventory
        self.lab_id = lab_id or lab_id_from_env()
        if not _LAB_ID.match(self.lab_id):
            raise ValueError(
                f"lab id {self.lab_id!r}: must be 'cbgp' followed by up to 8 of [a-z0-9]"
            )
        self.names = LabNames(self.lab_id)
        self.state_dir = StateDir(self.lab_id, state_root)
        self.progress: Progress = progress or (lambda message: None)

    # -- naming and access ------------------------------------------------------------------

    @property
    def pathspace(self) -> str:
        return self.lab_id

    def namespace(self, host: str) -> str:
        self.inventory.host(host)
        return self.names.namespace(host)

    def transport(self, host: str) -> NetnsTransport:
        return NetnsTransport(self.namespace(host))

    def host_command(self, host: str, command: Sequence[str]) -> list[str]:
        """Aim the FRR and GoBGP CLIs at this lab's daemons; other commands pass unchanged."""
        if not command:
            return []
        if command[0] == "vtysh" and host == self.inventory.router.name:
            return [*router.vtysh_argv(self.pathspace), *command[1:]]
        if command[0] == "gobgp" and any(n.name == host for n in self.inventory.nodes):
            return [*speakers.gobgp_argv(), *command[1:]]
        return list(command)

    @property
    def kubeconfig_path(self) -> Path:
        return apiserver.kubeconfig_path(self._api_dir)

    # -- lifecycle --------------------------------------------------------------------------

    def up(self, faults: Sequence[str] = (), options: Mapping[str, str] | None = None,
           cilium_version: str | None = None) -> bool:
        """Bring the lab up; return False when it was already running (then nothing is done).
        ``faults`` (``NAME[=ARG]``) and agent ``options`` apply from the start; the emulated
        Cilium plays ``cilium_version`` (``1.17``; default: env ``CBGP_CILIUM_VERSION``, else
        the newest). A running lab that plays another release than the one asked for is a
        conflict; without a wish, any release is adopted."""
        Faults.parse(faults)
        wanted = cilium_version or cilium_version_from_env()
        release = cilium_release(wanted or DEFAULT_VERSION)
        agent_options(release, options or {})
        preflight()
        with self.state_dir.locked():
            state = self.state_dir.load()
            if state is not None and self._usable(state):
                if state.inventory_digest != inventory_digest(self.inventory):
                    raise LabConflict(
                        f"lab {self.lab_id!r} already runs from {state.inventory_path}; "
                        "bring it down first (cbgp-lab down) or pick another CBGP_LAB_ID"
                    )
                playing = self.cilium_version()
                if wanted and playing not in (None, release.version):
                    raise LabConflict(
                        f"lab {self.lab_id!r} already runs Cilium {playing}, not "
                        f"{release.version}; bring it down first (cbgp-lab down) or pick "
                        "another CBGP_LAB_ID"
                    )
                dead = [f"{p.name} on {p.host}" for p in state.processes if not p.alive()]
                degraded = f" (degraded: {', '.join(dead)} not running)" if dead else ""
                self.progress(f"lab {self.lab_id} is already running{degraded}; nothing to do")
                return False
            if state is not None or self._leftover_namespaces():
                self.progress(f"found a stale lab {self.lab_id} (crashed or interrupted); cleaning")
                self._teardown(state)
            try:
                self._bring_up(faults, options or {}, release)
            except BaseException:
                self.progress("start failed or interrupted; removing what was made")
                self._teardown(self.state_dir.load())
                raise
        return True

    def down(self) -> bool:
        """Remove every namespace and process of this lab; return False when there was none."""
        with self.state_dir.locked():
            state = self.state_dir.load()
            if state is None and not self._leftover_namespaces():
                return False
            self._teardown(state)
            return True

    def cilium_version(self) -> str | None:
        """The Cilium release the running lab's API plays (None when it is not serving)."""
        try:
            endpoint = json.loads((self._api_dir / apidaemon.ENDPOINT).read_text())
        except (OSError, ValueError):
            return None
        return str(endpoint.get("cilium_version") or "") or None

    @property
    def _api_dir(self) -> Path:
        return self.state_dir.path / "api"

    def is_running(self) -> bool:
        """Up and usable, possibly with a node speaker stopped."""
        state = self.state_dir.load()
        return state is not None and self._usable(state)

    def status(self) -> dict[str, Any]:
        """Hosts, namespaces, processes and health, as plain data (``cbgp-lab status --json``)."""
        state = self.state_dir.load()
        present = set(topology.list_namespaces())
        processes = state.processes if state else []
        hosts = []
        for host in self.inventory.hosts:
            namespace = self.names.namespace(host.name)
            hosts.append(
                {
                    "name": host.name,
                    "role": self._role(host.name),
                    "namespace": namespace,
                    "namespace_present": namespace in present,
                    "addresses": [str(i.address) for i in host.interfaces],
                    "processes": [
                        {"name": p.name, "pid": p.pid, "alive": p.alive()}
                        for p in processes
                        if p.host == host.name
                    ],
                }
            )
        running = state is not None and self._usable(state)
        if state is None:
            condition = "down"
        elif not running:
            condition = "stale"
        else:
            condition = "running" if self._healthy(state) else "degraded"
        return {
            "lab_id": self.lab_id,
            "state": condition,
            "state_dir": str(self.state_dir.path),
            "inventory": state.inventory_path if state else str(self.inventory.source),
            "uptime_seconds": round(time.time() - state.started_at, 1) if running and state else 0,
            "kubeconfig": str(self.kubeconfig_path) if running else None,
            "cilium_version": self.cilium_version() if running else None,
            "api_processes": [
                {"name": p.name, "pid": p.pid, "alive": p.alive()}
                for p in processes
                if p.host == apiserver.HOST
            ],
            "hosts": hosts,
            "bgp_sessions": self._bgp_sessions() if running else {},
        }

    # -- internals --------------------------------------------------------------------------

    def _role(self, host: str) -> str:
        if host == self.inventory.router.name:
            return "router"
        return "node" if any(n.name == host for n in self.inventory.nodes) else "client"

    def _healthy(self, state: LabState) -> bool:
        return self._usable(state) and all(p.alive() for p in state.processes)

    def _usable(self, state: LabState) -> bool:
        """Usable, if perhaps degraded: every namespace there and the router's FRR alive.

        A stopped node speaker is a fault the suite must see, not a reason to rebuild the lab.
        """
        if state.phase != "running":
            return False
        present = set(topology.list_namespaces())
        essential = {self.inventory.router.name, apiserver.HOST}
        return all(n in present for n in state.namespaces) and all(
            p.alive() for p in state.processes if p.host in essential
        )

    def _leftover_namespaces(self) -> list[str]:
        return [n for n in topology.list_namespaces() if self.names.owns(n)]

    def _bring_up(self, faults: Sequence[str], options: Mapping[str, str],
                  release: CiliumRelease) -> None:
        began = time.monotonic()
        shutil.rmtree(self.state_dir.path, ignore_errors=True)
        state = LabState(
            self.lab_id,
            str(self.inventory.source),
            inventory_digest(self.inventory),
            started_at=time.time(),
        )
        self.state_dir.save(state)

        def made_namespace(namespace: str) -> None:
            state.namespaces.append(namespace)
            self.state_dir.save(state)

        def started(process: LabProcess) -> None:
            state.processes.append(process)
            self.state_dir.save(state)

        topology.build(self.inventory, self.names, made_namespace)
        self.progress(
            f"{len(state.namespaces)} namespaces wired ({time.monotonic() - began:.1f} s)"
        )
        router.start(
            self.inventory,
            self.names.namespace(self.inventory.router.name),
            self.pathspace,
            self.state_dir.path / "frr",
            started,
        )
        self.progress(f"FRR up in {self.inventory.router.name} ({time.monotonic() - began:.1f} s)")
        speakers.start(self.inventory, self.names.namespace, self.state_dir.path / "gobgp", started)
        self.progress(
            f"{len(self.inventory.nodes)} gobgpd speakers up ({time.monotonic() - began:.1f} s)"
        )
        # The daemon reads the release beside its token, as apidaemon's docstring says.
        self._api_dir.mkdir(parents=True, exist_ok=True)
        (self._api_dir / apidaemon.CILIUM_VERSION).write_text(release.version)
        apiserver.start(self.inventory, self.lab_id, self._api_dir, started,
                        speakers_dir=self.state_dir.path / "gobgp", faults=faults,
                        options=options)
        self.progress(f"Kubernetes API up, Cilium {release.version} emulated "
                      f"({time.monotonic() - began:.1f} s)")
        state.phase = "running"
        self.state_dir.save(state)

    def _teardown(self, state: LabState | None) -> None:
        # A second Ctrl-C must not cut the cleanup short; it takes effect once we are done.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
        try:
            self._remove(state)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def _remove(self, state: LabState | None) -> None:
        if state is not None:
            stop_all(state.processes)
        namespaces = set(state.namespaces if state else ()) | set(self._leftover_namespaces())
        for namespace in sorted(namespaces):
            if not self.names.owns(namespace):
                continue
            # Anything still inside a namespace we made was started there by us or our users.
            kill_pids(topology.namespace_pids(namespace))
            topology.delete_namespace(namespace)
        kill_pids(apiserver.strays(self._api_dir))
        router.cleanup(self.pathspace)
        # Logs stay for a post-mortem; the next up starts them afresh.
        self.state_dir.forget()

    def _bgp_sessions(self) -> dict[str, str]:
        from pytest_ciliumbgp.router.frr import FrrRouter, RouterError

        frr = FrrRouter(
            self.transport(self.inventory.router.name), router.vtysh_argv(self.pathspace)
        )
        try:
            return {address: peer.state for address, peer in frr.bgp_peers().items()}
        except RouterError as err:
            return {"error": str(err)}
