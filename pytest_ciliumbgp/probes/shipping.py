"""Run a probe script of this package on a lab host, through the host's transport.

A host that shares this machine's files (local, network namespace) runs the script file in
place with this interpreter, which has scapy as a dependency of the package.

A remote host (ssh, docker exec, vagrant ssh) is handed the script's source as
``python3 -c SOURCE``, with the python the inventory names for it (``reach.python``). Copying the
script to a temporary file once per session was the other way; ``-c`` wins because it leaves
nothing behind on the user's router (no file to clean up after a crash or Ctrl-C), needs no
per-session state shared by xdist workers, and has no window between copy and run in which
another user of a shared router could swap a file that then runs under sudo. Its cost is the
source travelling with every call (a few KiB) and showing in the router's process list; the
quoted source must stay far below the kernel's 128 KiB limit on one argument
(``MAX_ARG_STRLEN``), which the tests of this module check.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from pytest_ciliumbgp.transport import Transport


def script_path(probe: ModuleType) -> Path:
    """The file of a probe module of this package."""
    if probe.__file__ is None:
        raise ValueError(f"probe {probe.__name__} has no source file")
    return Path(probe.__file__)


def probe_argv(transport: Transport, probe: ModuleType, arguments: Sequence[str] = ()) -> list[str]:
    """The command that runs ``probe`` (a module of this package) with ``arguments`` on the host
    behind ``transport``; the transport adds its own wrapping (ssh, sudo, ...) when it runs it."""
    path = script_path(probe)
    if transport.shares_files:
        return [sys.executable, str(path), *arguments]
    return [transport.python, "-c", path.read_text(), *arguments]
