"""A lab that runs nowhere, for testing the plugin without root.

Everything it knows lives in the directory named by ``CBGP_FAKE_LAB_DIR``, so xdist workers and
the controller share it: ``running`` exists while the lab runs, ``calls.log`` records each
``ensure_running``/``stop`` with the pid that made it, ``broken`` holds the LabError message to
raise, and ``show_bgp_summary_json`` is what the fake ``vtysh`` (this file run as a script)
answers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import ClassVar

from pytest_ciliumbgp.labs import Lab, LabError
from pytest_ciliumbgp.router import FrrRouter
from pytest_ciliumbgp.transport import LocalTransport, Transport

DIR_ENV = "CBGP_FAKE_LAB_DIR"


def lab_dir() -> Path:
    return Path(os.environ[DIR_ENV])


class FakeLab(Lab):
    name: ClassVar[str] = "fake"
    emulated: ClassVar[tuple[str, ...]] = ("everything",)

    def ensure_running(self) -> bool:
        self._log("ensure_running")
        broken = lab_dir() / "broken"
        if broken.exists():
            raise LabError(broken.read_text().strip())
        running = lab_dir() / "running"
        if running.exists():
            return False
        running.touch()
        return True

    def stop(self) -> None:
        self._log("stop")
        (lab_dir() / "running").unlink(missing_ok=True)

    def transport(self, host: str) -> Transport:
        return LocalTransport()

    def router(self) -> FrrRouter:
        return FrrRouter(LocalTransport(), vtysh=(sys.executable, __file__))

    def _log(self, call: str) -> None:
        with (lab_dir() / "calls.log").open("a") as log:
            log.write(f"{call} {os.getpid()}\n")


def calls() -> list[str]:
    """The calls made so far, without pids."""
    log = lab_dir() / "calls.log"
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def _vtysh(argv: list[str]) -> int:
    command = argv[argv.index("-c") + 1]
    answer = lab_dir() / command.replace(" ", "_")
    if not answer.exists():
        print(f"% Unknown command: {command}")
        return 1
    print(answer.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(_vtysh(sys.argv))
