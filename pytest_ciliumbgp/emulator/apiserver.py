"""Start the lab's API daemon (``apidaemon``) and wait until its kubeconfig is written."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pytest_ciliumbgp.emulator import apidaemon
from pytest_ciliumbgp.emulator.processes import LabProcess, spawn
from pytest_ciliumbgp.inventory import Inventory

#: The daemon runs in the machine's own namespace (it listens on 127.0.0.1); this names it in
#: the lab's records.
HOST = "api"


class ApiStartError(RuntimeError):
    pass


def kubeconfig_path(workdir: Path) -> Path:
    return workdir / apidaemon.KUBECONFIG


def strays(workdir: Path) -> list[int]:
    """Pids of API daemons serving ``workdir`` that no record names (after a crash that lost
    the state file): found by their exact command line, which names the lab's state directory."""
    wanted = ["-m", "pytest_ciliumbgp.emulator.apidaemon", "--state-dir", str(workdir)]
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            raw = (proc / "cmdline").read_bytes()
            argv = [a.decode(errors="replace") for a in raw.split(b"\0")]
        except OSError:
            continue
        if argv[1:5] == wanted:
            found.append(int(proc.name))
    return found


def start(
    inventory: Inventory,
    lab_id: str,
    workdir: Path,
    record: Callable[[LabProcess], None],
    *,
    speakers_dir: Path,
    faults: Sequence[str] = (),
    options: Mapping[str, str] | None = None,
) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    apidaemon.write_private(workdir / apidaemon.TOKEN, secrets.token_urlsafe(32))
    argv = [
        sys.executable, "-m", "pytest_ciliumbgp.emulator.apidaemon", "--state-dir", str(workdir),
        "--inventory", str(inventory.source), "--lab-id", lab_id,
        "--speakers-dir", str(speakers_dir),
        *(arg for fault in faults for arg in ("--fault", fault)),
        *(arg for key, value in (options or {}).items() for arg in ("--option", f"{key}={value}")),
    ]
    log = workdir / "apiserver.log"
    process = spawn("apiserver", HOST, None, argv, log, record)
    deadline = time.monotonic() + 20
    while not kubeconfig_path(workdir).exists():
        if not process.alive():
            raise ApiStartError(f"the API server exited during start; see {log}")
        if time.monotonic() > deadline:
            raise ApiStartError(f"the API server wrote no kubeconfig within 20 s; see {log}")
        time.sleep(0.02)
