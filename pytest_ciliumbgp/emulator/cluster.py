"""The emulated cluster inside the lab daemon: the boot objects and every controller over the
API store — LB-IPAM and BGP operator, a BGP agent and datapath per node, the cilium agents'
pods, kubelet, scheduler, Deployment and EndpointSlice controllers — and the fault switches
they all follow.

    cluster = EmulatedCluster(store, inventory, lab_id, speakers_dir, faults=..., options=...)
    cluster.start()
    ...
    cluster.stop()   # pods, datapath tables and announcements go with it
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from ..inventory import Inventory
from .boot import boot_objects
from .cilium.agent_pods import CiliumAgentPods
from .cilium.bgp_agent import BgpAgent
from .cilium.bgp_operator import BgpOperator
from .cilium.datapath import Datapath
from .cilium.lbipam import LbIpam
from .cilium.speaker import GoBgpSpeaker
from .controller import Controller
from .faults import CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, FaultError, Faults
from .kubeapi.store import Store
from .speaker_records import ProcessRecords
from .topology import LabNames
from .workloads.deployments import Deployments
from .workloads.endpointslices import EndpointSlices
from .workloads.kubelet import Kubelet
from .workloads.scheduler import Scheduler

log = logging.getLogger(__name__)


class FaultSwitch(Controller):
    """Follows ``kube-system/cbgp-lab-faults``: the faults in force are those given at ``up``
    plus the ConfigMap's (its own ``faults``), handed to every controller when they change."""

    watches = ("configmaps",)
    name = "fault-switch"

    def __init__(self, store: Store, at_start: Faults, controllers: list[Controller]) -> None:
        super().__init__(store, faults=at_start)
        self.at_start = at_start
        self.controllers = controllers

    def reconcile(self) -> None:
        configmap = self.store.find("configmaps", CONFIGMAP_NAME, CONFIGMAP_NAMESPACE)
        try:
            wanted = self.at_start.merged(Faults.from_configmap(configmap))
        except FaultError as error:
            log.error("%s/%s ignored: %s", CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, error)
            wanted = self.at_start
        if wanted == self.faults:
            return
        log.info("faults in force: %s", ", ".join(wanted.as_switches()) or "none")
        self.faults = wanted
        for controller in self.controllers:
            controller.set_faults(wanted)


class EmulatedCluster:
    def __init__(self, store: Store, inventory: Inventory, lab_id: str, speakers_dir: Path, *,
                 faults: Faults | None = None, options: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.inventory = inventory
        self.options = dict(options or {})
        faults = faults or Faults()
        names = LabNames(lab_id)
        self.controllers: list[Controller] = [
            LbIpam(store, faults=faults),
            BgpOperator(store, faults=faults),
            EndpointSlices(store),
            Scheduler(store, faults=faults),
            Deployments(store),
            Kubelet(store, lab_id=lab_id, inventory=inventory, faults=faults),
            Datapath(store, lab_id=lab_id, inventory=inventory, faults=faults),
        ]
        # The speakers' directory lies in the lab's state directory, beside its process list.
        records = ProcessRecords(speakers_dir.parent)
        agents = {}
        for node in inventory.nodes:
            speaker = GoBgpSpeaker(names.namespace(node.name), speakers_dir / f"{node.name}.toml",
                                   node.asn, str(node.address), host=node.name,
                                   record=records.replace)
            agents[node.name] = BgpAgent(store, node.name, speaker, faults=faults)
        self.controllers += [*agents.values(), CiliumAgentPods(store, inventory, agents)]
        self.switch = FaultSwitch(store, faults, self.controllers)

    def boot(self) -> None:
        """Create what a fresh Cilium BGP install holds (once; objects already there stay), as
        the Cilium release the store plays has it."""
        for resource, obj in boot_objects(self.inventory, self.store.cilium, self.options):
            metadata = obj["metadata"]
            if self.store.find(resource, metadata["name"], metadata.get("namespace")) is None:
                status = obj.pop("status", None)
                created = self.store.create(resource, obj, metadata.get("namespace"))
                if status is not None:
                    self.store.update_status(resource, {**created, "status": status},
                                             metadata.get("namespace"))

    def start(self) -> None:
        for controller in self.controllers:
            controller.start()
        self.switch.start()

    def stop(self) -> None:
        self.switch.stop()
        for controller in reversed(self.controllers):
            controller.stop()
