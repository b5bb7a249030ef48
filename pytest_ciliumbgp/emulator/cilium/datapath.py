"""The emulated Cilium agents' load-balancing datapath: one nftables table per node namespace
(see ``datapath_rules``), rewritten whenever a Service or EndpointSlice changes what a node
must do, and removed when the controller stops.

    datapath = Datapath(store, lab_id="cbgp", inventory=inventory, faults=faults)
    datapath.start()
    ...
    datapath.stop()      # every node namespace is left without the table

Each node gets its ruleset in one ``nft -f`` transaction, and only when the text differs from
what it last got, so an unrelated change costs nothing and never resets a node's rules. The
nodes and their InternalIPs (the SNAT address) come from the inventory, which is also what the
lab registers the Node objects from.
"""

from __future__ import annotations

import logging

from pytest_ciliumbgp.inventory import Inventory

from ..controller import Controller
from ..faults import SNAT_LOCAL_BACKEND_UNDER_CLUSTER, SNAT_UNDER_LOCAL, Faults
from ..kubeapi.store import Store
from ..netns import NamespaceError, run_in
from ..topology import LabNames
from .datapath_frontends import node_frontends, service_ports
from .datapath_rules import SnatFaults, removal, ruleset

log = logging.getLogger(__name__)


class Datapath(Controller):
    """kube-proxy replacement of every node of ``inventory``, in the lab ``lab_id``."""

    watches = ("services", "endpointslices")
    name = "cilium-datapath"

    def __init__(self, store: Store, *, lab_id: str, inventory: Inventory,
                 faults: Faults | None = None) -> None:
        super().__init__(store, faults=faults)
        self.names = LabNames(lab_id)
        self.inventory = inventory
        self._applied: dict[str, str] = {}  # namespace -> ruleset it holds

    def rulesets(self) -> dict[str, str]:
        """The ``nft -f`` input each node namespace should hold now."""
        with self.store.lock:
            services = self.store.list("services")
            slices = self.store.list("endpointslices")
        ports = [port for service in services for port in service_ports(service, slices)]
        snat = SnatFaults(local_backend_under_cluster=SNAT_LOCAL_BACKEND_UNDER_CLUSTER
                          in self.faults, under_local=SNAT_UNDER_LOCAL in self.faults)
        return {self.names.namespace(node.name):
                ruleset(str(node.address), node_frontends(ports, node.name), snat)
                for node in self.inventory.nodes}

    def reconcile(self) -> None:
        failures = []
        for namespace, text in self.rulesets().items():
            if self._applied.get(namespace) == text:
                continue
            self._applied.pop(namespace, None)  # unknown until nft says it took the text
            try:
                run_in(namespace, ["nft", "-f", "-"], input=text)
            except NamespaceError as error:
                failures.append(str(error))
                continue
            self._applied[namespace] = text
        if failures:  # the other nodes are done; the controller retries these
            raise NamespaceError("; ".join(failures))

    def stopped(self) -> None:
        for node in self.inventory.nodes:
            namespace = self.names.namespace(node.name)
            done = run_in(namespace, ["nft", "-f", "-"], input=removal(), check=False)
            if done.returncode != 0:  # the namespace is gone already when the lab tears down
                log.debug("%s: removing the datapath table: %s", namespace, done.stderr.strip())
        self._applied.clear()
