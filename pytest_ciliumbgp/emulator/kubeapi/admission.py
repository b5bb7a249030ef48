"""What happens to an object between the request and the store: per-kind defaulting and
validation (built-in kinds here, cilium.io kinds by ``cilium_validation`` with the schemas of the
Cilium release the store plays), Service IP/port allocation, and freeing what a removed object
held."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import cilium_validation
from .apps_validation import prepare_daemonset, prepare_deployment, prepare_replicaset
from .cilium_schemas import SPECS, Specs
from .core_validation import (
    prepare_endpointslice,
    prepare_namespace,
    prepare_pod,
    validate_metadata,
)
from .errors import FieldError, invalid
from .resources import CILIUM_GROUP, ResourceType
from .services import ServiceAllocators, prepare_service

Prepare = Callable[[dict[str, Any], "dict[str, Any] | None"], list[FieldError]]

_PREPARE: dict[str, Prepare] = {
    "Pod": prepare_pod,
    "Deployment": prepare_deployment,
    "ReplicaSet": prepare_replicaset,
    "DaemonSet": prepare_daemonset,
    "Namespace": prepare_namespace,
    "EndpointSlice": prepare_endpointslice,
    "Service": prepare_service,
}


class Admission:
    """Defaults, validates and allocates for one store (allocations are per store);
    ``cilium_specs`` are the schemas of the cilium.io kinds."""

    def __init__(self, cilium_specs: Specs = SPECS) -> None:
        self.service_allocators = ServiceAllocators()
        self.cilium_specs = cilium_specs

    def admit(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, version: str,
    ) -> None:
        """Default and validate ``obj`` (in ``version``) in place; 422 Invalid on errors."""
        prepare = _PREPARE.get(rt.kind)
        if prepare is not None:
            errors = prepare(obj, old)
        elif rt.group == CILIUM_GROUP:
            errors = validate_metadata(obj, "subdomain")
            if not errors:
                stored, errors = cilium_validation.admit(version, rt.kind, obj, self.cilium_specs)
                if not errors:
                    obj.clear()
                    obj.update(stored)
        else:
            errors = validate_metadata(obj, "subdomain")
        if not errors and rt.kind == "Service":
            errors = self.service_allocators.claim(obj, old)
        if errors:
            name = str((obj.get("metadata") or {}).get("name") or "")
            raise invalid(rt.kind, name, rt.group, errors)

    def removed(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        if rt.kind == "Service":
            self.service_allocators.release(obj)
