"""Work inside a network namespace from this process: sockets made in another namespace
(``setns`` on the calling thread only, switched back at once) and commands run there.

A socket keeps the namespace it was created in, so one daemon can serve and probe in many
namespaces without a process per namespace.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

NETNS_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(RuntimeError):
    pass


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise NamespaceError(f"setns: {os.strerror(errno)}")


def socket_in(namespace: str, family: int = socket.AF_INET,
              kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A new socket living in ``namespace`` (a name under /var/run/netns)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            target = os.open(NETNS_DIR / namespace, os.O_RDONLY)
        except FileNotFoundError:
            raise NamespaceError(f"network namespace {namespace} does not exist") from None
        try:
            _setns(target)
            try:
                return socket.socket(family, kind)
            finally:
                _setns(home)
        finally:
            os.close(target)
    finally:
        os.close(home)


def run_in(namespace: str, argv: Sequence[str], *, input: str | None = None,
           check: bool = True, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside ``namespace``; with ``check``, a failure raises one clear line."""
    done = subprocess.run(["ip", "netns", "exec", namespace, *argv], input=input,
                          capture_output=True, text=True, check=False, timeout=timeout)
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise NamespaceError(f"{namespace}: {' '.join(argv)}: "
                             f"{detail[-1] if detail else f'exit {done.returncode}'}")
    return done
