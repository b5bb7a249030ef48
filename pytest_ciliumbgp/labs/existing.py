"""``--lab=existing``: a cluster the user already runs, described by the ``--lab-file`` inventory.

Nothing is started or stopped: the lab is only checked to be reachable, by asking the router
for its BGP summary through the transport its inventory ``reach`` entry names.
"""

from __future__ import annotations

from typing import ClassVar

from pytest_ciliumbgp.labs.base import Lab, LabError
from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.transport import Transport, TransportError, transport_for


class ExistingLab(Lab):
    """A user's own cluster and router, reached as the inventory says; never torn down."""

    name: ClassVar[str] = "existing"

    def ensure_running(self) -> bool:
        router = self.inventory.router
        try:
            self.router().bgp_peers()
        except (RouterError, TransportError) as err:
            raise LabError(f"router {router.name} is not usable: {err}") from None
        return False

    def stop(self) -> None:
        """Nothing to stop: the cluster is the user's."""

    def transport(self, host: str) -> Transport:
        reach = self.inventory.host(host).reach
        return transport_for(reach.via, reach.settings)
