"""What happens to an object between the request and the store: per-kind defaulting and
validation (built-in kinds here, cilium.io kinds by ``cilium_validation`` when it is present),
Service IP/port allocation, and freeing what a removed object held."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from .apps_validation import prepare_daemonset, prepare_deployment, prepare_replicaset
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
# (version, kind, object) -> (the object to store: pruned and defaulted, causes to refuse it)
CiliumAdmit = Callable[[str, str, dict[str, Any]], tuple[dict[str, Any], list[FieldError]]]

_PREPARE: dict[str, Prepare] = {
    "Pod": prepare_pod,
    "Deployment": prepare_deployment,
    "ReplicaSet": prepare_replicaset,
    "DaemonSet": prepare_daemonset,
    "Namespace": prepare_namespace,
    "EndpointSlice": prepare_endpointslice,
    "Service": prepare_service,
}


def _cilium_admit() -> CiliumAdmit | None:
    # The cilium.io schemas are written separately; until they exist objects are accepted as is.
    try:
        module = importlib.import_module(f"{__package__}.cilium_validation")
    except ModuleNotFoundError:
        return None
    if hasattr(module, "admit"):
        admit: CiliumAdmit = module.admit
        return admit
    validate: Callable[[str, str, dict[str, Any]], list[FieldError]] = module.validate
    return lambda version, kind, obj: (obj, validate(version, kind, obj))


class Admission:
    """Defaults, validates and allocates for one store (allocations are per store)."""

    def __init__(self) -> None:
        self.service_allocators = ServiceAllocators()
        self.cilium_admit = _cilium_admit()

    def admit(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, version: str,
    ) -> None:
        """Default and validate ``obj`` (in ``version``) in place; 422 Invalid on errors."""
        prepare = _PREPARE.get(rt.kind)
        if prepare is not None:
            errors = prepare(obj, old)
        elif rt.group == CILIUM_GROUP:
            errors = validate_metadata(obj, "subdomain")
            if self.cilium_admit is not None and not errors:
                stored, errors = self.cilium_admit(version, rt.kind, obj)
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
