"""``--lab=netns``: the embedded lab on this host (real FRR, GoBGP and kernel in namespaces)."""

from __future__ import annotations

from pytest_ciliumbgp.emulator import router
from pytest_ciliumbgp.emulator.lab import EmbeddedLab, LabConflict, LabUnavailable
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.labs.base import Lab, LabError
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.transport import Transport


class NetnsLab(Lab):
    """The embedded lab: one network namespace per inventory host, FRR in the router's,
    one gobgpd per node. A lab already brought up by ``cbgp-lab up`` is adopted as it is."""

    name = "netns"
    emulated = ("Kubernetes API", "Cilium")

    def __init__(self, inventory: Inventory) -> None:
        super().__init__(inventory)
        self.embedded = EmbeddedLab(inventory)

    def ensure_running(self) -> bool:
        try:
            return self.embedded.up()
        except (LabUnavailable, LabConflict, ValueError) as err:  # ValueError: bad version
            raise LabError(str(err)) from None
        except RuntimeError as err:
            raise LabError(f"embedded lab failed to start: {err}") from None

    def stop(self) -> None:
        self.embedded.down()

    def transport(self, host: str) -> Transport:
        return self.embedded.transport(host)

    def kubeconfig(self) -> str:
        return str(self.embedded.kubeconfig_path)

    def router(self) -> FrrRouter:
        return FrrRouter(
            self.transport(self.inventory.router.name), router.vtysh_argv(self.embedded.pathspace)
        )

    def describe(self) -> str:
        return f"embedded lab {self.embedded.lab_id!r} (state in {self.embedded.state_dir.path})"
