"""The EndpointSlice controller of kube-controller-manager: for every Service with a selector,
one ``discovery.k8s.io/v1`` EndpointSlice listing the selected pods that have an IP, with the
ready / serving / terminating conditions that load balancers and BGP announcements read.

    slices = EndpointSlices(store)
    slices.start()    # a thread reconciling after every Service, Pod or EndpointSlice change

Upstream splits a Service's endpoints over several slices (100 endpoints each, one slice per
distinct set of resolved ports); the lab keeps one slice per Service, named once by
``generateName`` (``<service>-xxxxx``) and updated in place. A named ``targetPort`` is resolved
on the first selected pod (by name) that declares it, so the pods of one Service are assumed
to name their ports alike, as a Deployment's pods do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..controller import Controller
from ..kubeapi.errors import ApiError

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
ENDPOINTSLICES = "endpointslices"
# What this controller writes; everything else on a slice (metadata the server owns) is kept.
_CONTENT = ("addressType", "ports", "endpoints")

Object = dict[str, Any]


def _condition(pod: Mapping[str, Any], kind: str) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def selects(selector: Mapping[str, str], pod: Mapping[str, Any]) -> bool:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def target_port(service_port: Mapping[str, Any], pods: list[Object]) -> int | None:
    """The port number endpoints serve ``service_port`` on; None if a named port is nowhere."""
    wanted = service_port.get("targetPort", service_port.get("port"))
    if isinstance(wanted, int):
        return wanted
    if isinstance(wanted, str) and wanted.isdigit():
        return int(wanted)
    protocol = service_port.get("protocol", "TCP")
    for pod in pods:
        for container in (pod.get("spec") or {}).get("containers") or []:
            for declared in container.get("ports") or []:
                if declared.get("name") == wanted and declared.get("protocol", "TCP") == protocol:
                    return int(declared["containerPort"])
    return None


def slice_ports(service: Mapping[str, Any], pods: list[Object]) -> list[Object]:
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = target_port(service_port, pods)
        if number is None:
            continue
        port: Object = {"name": service_port.get("name") or "", "port": number,
                        "protocol": service_port.get("protocol", "TCP")}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def endpoint(pod: Mapping[str, Any], publish_not_ready: bool) -> Object:
    metadata = pod["metadata"]
    terminating = bool(metadata.get("deletionTimestamp"))
    serving = _condition(pod, "Ready")
    made: Object = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {"ready": publish_not_ready or (serving and not terminating),
                       "serving": serving, "terminating": terminating},
        "targetRef": {"kind": "Pod", "name": metadata["name"],
                      "namespace": metadata["namespace"], "uid": metadata["uid"]},
    }
    if (pod.get("spec") or {}).get("nodeName"):
        made["nodeName"] = pod["spec"]["nodeName"]
    return made


def in_endpoints(pod: Mapping[str, Any]) -> bool:
    """Upstream's ShouldPodBeInEndpoints: an IP, and not finished."""
    status = pod.get("status") or {}
    return bool(status.get("podIP")) and status.get("phase") not in ("Succeeded", "Failed")


def desired_slice(service: Mapping[str, Any], pods: list[Object]) -> Object:
    """The slice's content and identity (without a name) for ``service`` over all pods of its
    namespace."""
    metadata = service["metadata"]
    spec = service.get("spec") or {}
    selected = sorted((p for p in pods if selects(spec["selector"], p) and in_endpoints(p)),
                      key=lambda p: str(p["metadata"]["name"]))
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "namespace": metadata["namespace"],
            "labels": {**(metadata.get("labels") or {}),
                       SERVICE_NAME_LABEL: metadata["name"], MANAGED_BY_LABEL: MANAGED_BY},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service",
                                 "name": metadata["name"], "uid": metadata["uid"],
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "addressType": "IPv4",
        "ports": slice_ports(service, selected),
        "endpoints": [endpoint(p, publish_not_ready) for p in selected],
    }


def _differs(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    if any(current.get(key) != wanted[key] for key in _CONTENT):
        return True
    current_meta, wanted_meta = current["metadata"], wanted["metadata"]
    return any(current_meta.get(key) != wanted_meta[key] for key in ("labels", "ownerReferences"))


class EndpointSlices(Controller):
    """kube-controller-manager's EndpointSlice controller over one ``Store``."""

    watches = ("services", "pods", ENDPOINTSLICES)
    name = "endpointslice-controller"

    def reconcile(self) -> None:
        with self.store.lock:
            services = self.store.list("services")
            pods = self.store.list("pods")
            managed = self.store.list(ENDPOINTSLICES,
                                      label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY}")
        slices_by_service: dict[tuple[str, str], list[Object]] = {}
        for found in managed:
            owner = (found["metadata"]["namespace"],
                     (found["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL, ""))
            slices_by_service.setdefault(owner, []).append(found)
        for service in services:
            if not (service.get("spec") or {}).get("selector"):
                continue  # endpoints of a selector-less Service are the user's to write
            key = (service["metadata"]["namespace"], service["metadata"]["name"])
            namespace_pods = [p for p in pods if p["metadata"]["namespace"] == key[0]]
            self._sync(desired_slice(service, namespace_pods), slices_by_service.pop(key, []))
        for leftovers in slices_by_service.values():  # Service gone or without a selector
            for stale in leftovers:
                self._delete(stale)

    def _sync(self, wanted: Object, existing: list[Object]) -> None:
        existing.sort(key=lambda s: str(s["metadata"]["name"]))
        if not existing:
            service = wanted["metadata"]["labels"][SERVICE_NAME_LABEL]
            wanted["metadata"]["generateName"] = f"{service}-"
            self.store.create(ENDPOINTSLICES, wanted)
            return
        current, *extra = existing
        for stale in extra:
            self._delete(stale)
        if not _differs(current, wanted):
            return
        updated = {**current, **{key: wanted[key] for key in _CONTENT}}
        updated["metadata"] = {**current["metadata"], "labels": wanted["metadata"]["labels"],
                               "ownerReferences": wanted["metadata"]["ownerReferences"]}
        try:
            self.store.update(ENDPOINTSLICES, updated)
        except ApiError as error:
            if error.code not in (404, 409):  # changed or gone since the list: its event retries
                raise

    def _delete(self, stale: Object) -> None:
        try:
            self.store.delete(ENDPOINTSLICES, stale["metadata"]["name"],
                              stale["metadata"]["namespace"])
        except ApiError as error:
            if error.code != 404:
                raise
