"""The one small interface every lab implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.transport import Transport


class LabError(RuntimeError):
    """The lab cannot be used; the message is one line saying why and what to do."""


class Lab(ABC):
    """A place the suite runs against: hosts from an inventory, reachable by transports.

    ``ensure_running`` adopts a lab that already runs and reports whether this call started
    it, so that whoever started a lab is the only one who stops it.
    """

    name: ClassVar[str]
    #: Parts of the system under test that this lab emulates rather than runs for real.
    emulated: ClassVar[tuple[str, ...]] = ()

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory

    @abstractmethod
    def ensure_running(self) -> bool:
        """Make the lab usable; return True when this call started it."""

    @abstractmethod
    def stop(self) -> None:
        """Tear down what :meth:`ensure_running` started."""

    @abstractmethod
    def transport(self, host: str) -> Transport:
        """How to run commands on the inventory host named ``host``."""

    def kubeconfig(self) -> str | None:
        """The kubeconfig of the lab's cluster; None: ``$KUBECONFIG``, then ``~/.kube/config``."""
        return None

    def describe(self) -> str:
        """What the suite would connect to, in one line; runs no command (``--collect-only``
        prints it in the report header)."""
        return f"{self.name} lab of inventory {self.inventory.name}"

    def router(self) -> FrrRouter:
        """The lab's FRR router, reached through its transport."""
        return FrrRouter(self.transport(self.inventory.router.name))
