"""``--lab=existing``: a cluster the user already runs, described by the ``--lab-file`` inventory.

Nothing is started or stopped. Besides the inventory, the lab file may say::

    kubeconfig: ~/.kube/lab.yaml     # default: $KUBECONFIG, then ~/.kube/config
    router:
      vtysh: vtysh -N blue           # how FRR's shell is called on the router (default: vtysh)

Relative paths (``kubeconfig``, and ``identity_file``/``config_file`` of an ssh ``reach``) are
read from the lab file's directory. The lab is checked before any test runs: each host the
suite drives (the router and the clients) must answer through its transport, and the router's
FRR must give its BGP summary. Whichever fails first ends the run with one line saying so.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.labs.base import Lab, LabError
from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.transport import Transport, TransportError, transport_for

#: Seconds a host may take to run ``true`` before it counts as unreachable.
REACH_TIMEOUT_S = 30.0
#: What ssh says whenever the other end hangs up, whatever the cause.
_HANG_UP = re.compile(
    r"(kex_exchange_identification|ssh_exchange_identification): |Connection closed by "
)


@dataclass(frozen=True)
class ExistingSettings:
    """What the lab file says beyond the inventory."""

    kubeconfig: Path | None = None
    vtysh: tuple[str, ...] = ("vtysh",)


def read_settings(inventory: Inventory) -> ExistingSettings:
    """The ``kubeconfig`` and ``router.vtysh`` of the inventory's file; :class:`LabError` (one
    line naming file and field) when one is not usable."""
    source = inventory.source
    if source is None:
        return ExistingSettings()
    try:
        document = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as err:  # it was readable a moment ago, when loaded
        raise LabError(f"{source}: cannot read the lab file again: {err}") from None
    if not isinstance(document, Mapping):
        raise LabError(f"{source}: no longer an inventory (changed while the run started?)")
    kubeconfig = document.get("kubeconfig")
    router = document.get("router") or {}
    vtysh = router.get("vtysh", "vtysh") if isinstance(router, Mapping) else "vtysh"
    return ExistingSettings(_kubeconfig(kubeconfig, source), _vtysh(vtysh, source))


def _kubeconfig(value: Any, source: Path) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise LabError(f"{source}: kubeconfig: expected a path, got {value!r}")
    return source.parent / os.path.expanduser(value)


def _vtysh(value: Any, source: Path) -> tuple[str, ...]:
    words = shlex.split(value) if isinstance(value, str) else value
    if not isinstance(words, list) or not words or not all(
        isinstance(word, str) and word for word in words
    ):
        raise LabError(
            f"{source}: router.vtysh: expected a command like 'vtysh' or [vtysh, -N, name], "
            f"got {value!r}"
        )
    return tuple(words)


def unreachable_reason(said: str) -> str:
    """The line of a failed connection's stderr that says why.

    ssh ends with its own words when a ProxyCommand or ProxyJump gives up ("Connection closed
    by UNKNOWN port 65535"); the line before, from the proxy, names the real cause, so ssh's
    generic hang-up lines are passed over when something else was said.
    """
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    telling = [line for line in lines if not _HANG_UP.match(line)]
    return (telling or lines or [""])[-1]


class ExistingLab(Lab):
    """A user's own cluster and router, reached as the inventory says; never torn down."""

    name: ClassVar[str] = "existing"

    def __init__(self, inventory: Inventory) -> None:
        super().__init__(inventory)
        self._settings: ExistingSettings | None = None

    def settings(self) -> ExistingSettings:
        """The lab file's own settings, read once; :class:`LabError` when not usable."""
        if self._settings is None:
            self._settings = read_settings(self.inventory)
        return self._settings

    def ensure_running(self) -> bool:
        # A bad lab file is reported before any host is contacted.
        kubeconfig = self.settings().kubeconfig
        if kubeconfig is not None and not kubeconfig.is_file():
            raise LabError(f"{self.inventory.source}: kubeconfig: no such file {kubeconfig}")
        self._check_reachable("router", self.inventory.router.name)
        for client in self.inventory.clients:
            self._check_reachable("client", client.name)
        try:
            self.router().bgp_peers()
        except (RouterError, TransportError) as err:
            raise LabError(f"router {self.inventory.router.name} is not usable: {err}") from None
        return False

    def _check_reachable(self, role: str, host: str) -> None:
        try:
            transport = self.transport(host)
        except TransportError as err:  # e.g. a netns reach without a namespace
            raise LabError(f"{role} {host}: {err}") from None
        try:
            result = transport.run(["true"], timeout=REACH_TIMEOUT_S)
        except TransportError as err:
            raise LabError(f"{role} {host} unreachable over {transport}: {err}") from None
        if not result.ok:
            # ``true`` cannot fail: whatever did is the way there.
            why = unreachable_reason(result.stderr or result.stdout) or f"exit {result.rc}"
            raise LabError(f"{role} {host} unreachable over {transport}: {why}")

    def stop(self) -> None:
        """Nothing to stop: the cluster is the user's."""

    def transport(self, host: str) -> Transport:
        reach = self.inventory.host(host).reach
        base = self.inventory.source.parent if self.inventory.source else None
        return transport_for(reach.via, reach.settings, base=base)

    def kubeconfig(self) -> str | None:
        path = self.settings().kubeconfig
        return None if path is None else str(path)

    def router(self) -> FrrRouter:
        return FrrRouter(self.transport(self.inventory.router.name), self.settings().vtysh)

    def describe(self) -> str:
        """What the run connects to, in one line (nothing is contacted to say it)."""
        router = self.inventory.router
        try:
            kubeconfig = self.kubeconfig() or "$KUBECONFIG or ~/.kube/config"
            vtysh = shlex.join(self.settings().vtysh)
            transport = self.transport(router.name)
        except (LabError, TransportError) as err:
            return f"existing cluster; lab file not usable: {err}"
        return (
            f"existing cluster: router {router.name} over {transport} ({vtysh}), "
            f"Kubernetes API from {kubeconfig}"
        )
