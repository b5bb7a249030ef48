"""What a conformance test sets up, as one object: an LB-IPAM pool on a slice of the LB range, a
``type: LoadBalancer`` Service with whoami backends pinned to an exact set of nodes, and a
CiliumBGPAdvertisement for that Service only. Every object carries the run's and the test's
ownership labels, so cleanup (``objects.delete_owned``) finds them all.

The expectations of a test come from here — the nodes it placed backends on, the pool it made —
never from reading the system under test back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_ciliumbgp.kube import manifests, objects, waits
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.pool_slices import PoolSlice
from pytest_ciliumbgp.kube.versions import CiliumApi

POOL_LABEL = "cbgp.io/pool"
SERVICE_LABEL = "cbgp.io/service"
NAMESPACE = "default"


@dataclass(frozen=True)
class Ownership:
    """The run's and the test's labels and annotations, stamped on everything a test makes."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    run_id: str
    test_id: str

    @classmethod
    def of(cls, run_id: str, test_id: str) -> Ownership:
        return cls(manifests.ownership_labels(run_id, test_id),
                   manifests.ownership_annotations(test_id), run_id, test_id)


@dataclass(frozen=True)
class Pool:
    name: str
    slice: PoolSlice
    #: labels a Service needs to draw from this pool (the pool's serviceSelector)
    service_labels: Mapping[str, str]


@dataclass(frozen=True)
class Backend:
    name: str
    node: str
    ip: str


@dataclass
class LbService:
    name: str
    namespace: str
    policy: str
    pool: Pool
    address: str = ""
    backends: list[Backend] = field(default_factory=list)
    app_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"{self.address}/32"

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("Service", self.name, self.namespace)

    @property
    def backend_nodes(self) -> frozenset[str]:
        return frozenset(b.node for b in self.backends)


class Scenario:
    """Builds a test's objects on ``cluster`` with the ownership of one test."""

    def __init__(self, cluster: Cluster, cilium: CiliumApi, ownership: Ownership,
                 advertise_labels: Mapping[str, str], *, namespace: str = NAMESPACE,
                 timeout: float = 30.0) -> None:
        self.cluster = cluster
        self.cilium = cilium
        self.ownership = ownership
        self.advertise_labels = dict(advertise_labels)
        self.namespace = namespace
        self.timeout = timeout
        self.applied: list[dict[str, Any]] = []
        self._count = 0

    def unique(self, stem: str) -> str:
        """A DNS-1123 name unique to this test: ``<stem>-<test digest>-<n>``."""
        self._count += 1
        digest = manifests.label_value(self.ownership.test_id)[-8:].lower().strip("-_.")
        return f"{stem}-{digest}-{self._count}"

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        meta = manifest.setdefault("metadata", {})
        meta["labels"] = {**(meta.get("labels") or {}), **self.ownership.labels}
        meta["annotations"] = {**(meta.get("annotations") or {}), **self.ownership.annotations}
        if manifest.get("kind") in ("Deployment",):
            template = manifest["spec"]["template"]["metadata"]
            template["labels"] = {**(template.get("labels") or {}), **self.ownership.labels}
        self.applied.append(manifest)
        return objects.create(self.cluster, manifest)

    # Building blocks

    def pool(self, pool_slice: PoolSlice, *, blocks: Sequence[str] | None = None,
             disabled: bool = False) -> Pool:
        name = self.unique("pool")
        labels = {POOL_LABEL: name}
        self.create(manifests.ip_pool(
            name, list(blocks or [pool_slice.cidr]), version=self.cilium.version,
            service_selector={"matchLabels": labels}, disabled=disabled))
        return Pool(name, pool_slice, labels)

    def advertisement(self, selector: Mapping[str, Any], *,
                      addresses: Sequence[str] = ("LoadBalancerIP",),
                      attributes: manifests.PathAttributes | None = None,
                      aggregation_length_ipv4: int | None = None) -> str:
        name = self.unique("advert")
        entry = manifests.service_advertisement(
            selector, addresses=addresses, attributes=attributes,
            aggregation_length_ipv4=aggregation_length_ipv4)
        self.create(manifests.bgp_advertisement(
            name, [entry], version=self.cilium.version, labels=self.advertise_labels))
        return name

    def backends(self, app_labels: Mapping[str, str], nodes: Sequence[str], *,
                 pre_stop_sleep_seconds: int | None = None, wait: bool = True) -> list[Backend]:
        names = []
        for node in nodes:
            name = self.unique("web")
            self.create(manifests.backend_pod(
                name, node, app_labels, namespace=self.namespace,
                pre_stop_sleep_seconds=pre_stop_sleep_seconds))
            names.append((name, node))
        if not wait:
            return [Backend(name, node, "") for name, node in names]
        made = []
        for name, node in names:
            pod = waits.wait_for_pod_ready(self.cluster, self.namespace, name,
                                           timeout=self.timeout)
            made.append(Backend(name, node, str((pod.get("status") or {}).get("podIP", ""))))
        return made

    def service(self, pool: Pool, *, policy: str = "Cluster", backend_nodes: Sequence[str] = (),
                advertise: bool = True, ports: Sequence[int] = (80,),
                requested_ips: Sequence[str] = (), sharing_key: str | None = None,
                load_balancer_class: str | None = None, wait_for_ip: bool = True,
                pre_stop_sleep_seconds: int | None = None) -> LbService:
        """Backends on ``backend_nodes`` (one pod per entry), the Service drawing from ``pool``
        and, with ``advertise``, an advertisement of its LoadBalancerIP."""
        name = self.unique("svc")
        app = {"app": name}
        service = LbService(name, self.namespace, policy, pool, app_labels=app)
        service.backends = self.backends(app, backend_nodes,
                                         pre_stop_sleep_seconds=pre_stop_sleep_seconds)
        self.create(manifests.service(
            name, app, namespace=self.namespace, ports=ports, external_traffic_policy=policy,
            requested_ips=requested_ips, sharing_key=sharing_key,
            load_balancer_class=load_balancer_class,
            labels={**pool.service_labels, SERVICE_LABEL: name}))
        if advertise:
            self.advertisement({"matchLabels": {SERVICE_LABEL: name}})
        if wait_for_ip:
            service.address = waits.wait_for_lb_ip(self.cluster, self.namespace, name,
                                                   timeout=self.timeout)
        return service
