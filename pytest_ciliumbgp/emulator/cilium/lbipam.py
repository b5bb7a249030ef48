"""The LB-IPAM operator: watches Services and CiliumLoadBalancerIPPools in the API store and
writes the Services' ``status.loadBalancer.ingress`` and IPAMRequestSatisfied condition and the
pools' counters and PoolConflict condition, as Cilium's operator does.

    ipam = LbIpam(store)
    ipam.start()      # a thread reconciling after every Service or pool change
    ...
    ipam.stop()

``reconcile()`` runs one pass synchronously (tests call it without ``start``). Every pass
recomputes the whole decision from the store, so it is idempotent: writes that change nothing
publish nothing, and the operator's own writes settle after one more pass."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..controller import Controller
from ..faults import ALLOCATE_FROM_CONFLICTING_POOL, IGNORE_BGP_CONTROL_PLANE_CLASS
from ..kubeapi.errors import ApiError
from ..kubeapi.objectmeta import now
from .lbipam_allocation import Allocation, Outcome, allocate
from .lbipam_pools import Pool, conflicting_pools
from .lbipam_services import BGP_CONTROL_PLANE_CLASS, HANDLED_CLASSES, ServiceView

REQUEST_SATISFIED = "cilium.io/IPAMRequestSatisfied"
# Releases before 1.15 (and older docs) spelled it this way; both are ours to replace.
LEGACY_REQUEST_SATISFIED = "io.cilium/lb-ipam-request-satisfied"
IPS_TOTAL = "cilium.io/IPsTotal"
IPS_AVAILABLE = "cilium.io/IPsAvailable"
IPS_USED = "cilium.io/IPsUsed"
POOL_CONFLICT = "cilium.io/PoolConflict"

SERVICES = "services"
POOLS = "ciliumloadbalancerippools"


def condition(kind: str, status: str, reason: str, message: str,
              previous: Mapping[str, Any] | None, generation: int | None = None,
              ) -> dict[str, Any]:
    """A metav1.Condition; the transition time moves only when the status does."""
    since = previous.get("lastTransitionTime") if previous else None
    if not since or previous is None or previous.get("status") != status:
        since = now()
    made: dict[str, Any] = {"type": kind, "status": status, "reason": reason,
                            "message": message, "lastTransitionTime": since}
    if generation is not None:
        made["observedGeneration"] = generation
    return made


def _conditions(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((obj.get("status") or {}).get("conditions") or [])


def _find(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


class LbIpam(Controller):
    """LB-IPAM over one ``Store``. ``faults`` may hold any lab fault names (``emulator/faults.py``);
    allocate-from-conflicting-pool and ignore-bgp-control-plane-class concern this operator."""

    watches = (SERVICES, POOLS)
    name = "cilium-lbipam"

    # Reconciling

    def handles(self, service: ServiceView) -> bool:
        if not service.load_balancer or service.load_balancer_class not in HANDLED_CLASSES:
            return False
        return not (IGNORE_BGP_CONTROL_PLANE_CLASS in self.faults
                    and service.load_balancer_class == BGP_CONTROL_PLANE_CLASS)

    def reconcile(self) -> None:
        """One full pass; holds the store's lock so that it decides on one consistent state."""
        with self.store.lock:
            pool_objects = self.store.list(POOLS)
            service_objects = self.store.list(SERVICES)
            pools = [Pool.from_object(obj) for obj in pool_objects]
            conflicting = conflicting_pools(pools)
            views = [ServiceView.from_object(obj) for obj in service_objects]
            allocation = allocate(
                pools, conflicting, [v for v in views if self.handles(v)],
                use_conflicting=ALLOCATE_FROM_CONFLICTING_POOL in self.faults)
            for obj, view in zip(service_objects, views, strict=True):
                self._write_service(obj, view, allocation.outcomes.get(view.key))
            for obj, pool in zip(pool_objects, pools, strict=True):
                self._write_pool(obj, pool, pool.name in conflicting, allocation)

    def _write_service(self, obj: dict[str, Any], view: ServiceView,
                       outcome: Outcome | None) -> None:
        conditions = _conditions(obj)
        ours = [c for c in conditions if c.get("type") in (REQUEST_SATISFIED,
                                                           LEGACY_REQUEST_SATISFIED)]
        if outcome is None and not ours:
            return  # never ours: another class's controller may own the ingress
        others = [c for c in conditions if c not in ours]
        ingress: list[dict[str, Any]] = []
        if outcome is not None:
            others.append(condition(
                REQUEST_SATISFIED, "True" if outcome.satisfied else "False", outcome.reason,
                outcome.message, _find(ours, REQUEST_SATISFIED),
                obj["metadata"].get("generation")))
            ingress = [{"ip": str(address)} for address in outcome.addresses]
        # A merge patch: None removes a key, an empty object would leave it in place.
        status = {"conditions": others or None, "loadBalancer": {"ingress": ingress or None}}
        self._patch_status(SERVICES, view.name, view.namespace, status)

    def _write_pool(self, obj: dict[str, Any], pool: Pool, conflicting: bool,
                    allocation: Allocation) -> None:
        previous = _conditions(obj)
        used = allocation.used_in(pool.name)
        counters = {IPS_TOTAL: pool.total, IPS_AVAILABLE: pool.total - used, IPS_USED: used}
        written = [condition(kind, "Unknown", "noreason", str(count), _find(previous, kind),
                             obj["metadata"].get("generation"))
                   for kind, count in counters.items()]
        if conflicting:
            written.append(condition(
                POOL_CONFLICT, "True", "cidr_overlap",
                f"Pool {pool.name} overlaps with an older CiliumLoadBalancerIPPool",
                _find(previous, POOL_CONFLICT), obj["metadata"].get("generation")))
        else:
            written.append(condition(POOL_CONFLICT, "False", "resolved", "",
                                     _find(previous, POOL_CONFLICT),
                                     obj["metadata"].get("generation")))
        kept = [c for c in previous if c.get("type") not in (*counters, POOL_CONFLICT)]
        self._patch_status(POOLS, pool.name, None, {"conditions": kept + written})

    def _patch_status(self, resource: str, name: str, namespace: str | None,
                      status: dict[str, Any]) -> None:
        try:
            self.store.patch(resource, name, {"status": status}, namespace, status=True)
        except ApiError as error:
            if error.code != 404:  # deleted since the list: its event brings another pass
                raise
