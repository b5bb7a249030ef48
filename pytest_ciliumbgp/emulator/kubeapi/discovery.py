"""Discovery documents (``/version``, ``/api``, ``/apis`` and per group/version resource lists)
and the CustomResourceDefinition objects that announce the cilium.io kinds, both derived from
the server's catalog and schemas so they can never disagree with what is served."""

from __future__ import annotations

from typing import Any

from .cilium_schemas import Specs
from .cilium_schemas.openapi import crd_schema
from .errors import ApiError
from .resources import Catalog, ResourceType

KUBERNETES_VERSION = {
    "major": "1",
    "minor": "32",
    "emulationMajor": "1",
    "emulationMinor": "32",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "31",
    "gitVersion": "v1.32.0-cbgp",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_LOCAL = [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]


def not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def core_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": _LOCAL}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": listed, "preferredVersion": listed[0]}


def group_list(catalog: Catalog) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(n, v) for n, v in catalog.groups().items() if n]}


def group(catalog: Catalog, name: str) -> dict[str, Any]:
    versions = catalog.groups().get(name)
    if not name or versions is None:
        raise not_found()
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entries(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
        "kind": rt.kind, "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    entries = [main]
    if rt.status:
        entries.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced":
                        rt.namespaced, "kind": rt.kind, "verbs": ["get", "patch", "update"]})
    if rt.scale:
        entries.append({"name": f"{rt.plural}/scale", "singularName": "", "namespaced":
                        rt.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale",
                        "verbs": ["get", "patch", "update"]})
    return entries


def resource_list(catalog: Catalog, group_name: str, version: str) -> dict[str, Any]:
    served = [rt for rt in catalog.types if rt.group == group_name and version in rt.versions]
    if not served:
        raise not_found()
    return {
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": f"{group_name}/{version}" if group_name else version,
        "resources": [entry for rt in served for entry in _entries(rt)],
    }


def _printer_columns(rt: ResourceType) -> list[dict[str, Any]]:
    columns = [{"name": name, "type": kind, "jsonPath": path}
               for name, kind, path in rt.printer_columns]
    return [*columns, {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]


def custom_resource_definition(rt: ResourceType, specs: Specs) -> dict[str, Any]:
    """The CRD object for a cilium.io kind, as ``kubectl get crd``, presence checks and
    field checks see it: its schema is the one ``cilium_validation`` enforces with ``specs``."""
    versions = []
    for version in rt.versions:
        spec = specs.get((version, rt.kind))
        schema = crd_schema(spec) if spec is not None else {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True}
        served: dict[str, Any] = {
            "name": version, "served": True, "storage": version == rt.storage_version,
            "schema": {"openAPIV3Schema": schema},
            "additionalPrinterColumns": _printer_columns(rt),
        }
        if rt.status:
            served["subresources"] = {"status": {}}
        if version != rt.storage_version:
            served["deprecated"] = True
        versions.append(served)
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{rt.plural}.{rt.group}"},
        "spec": {
            "group": rt.group, "scope": "Cluster", "versions": versions,
            "conversion": {"strategy": "None"},
            "names": {"kind": rt.kind, "listKind": rt.list_kind, "plural": rt.plural,
                      "singular": rt.singular, "shortNames": list(rt.short_names),
                      "categories": list(rt.categories)},
        },
        "status": {
            "acceptedNames": {"kind": rt.kind, "listKind": rt.list_kind, "plural": rt.plural,
                              "singular": rt.singular, "shortNames": list(rt.short_names),
                              "categories": list(rt.categories)},
            "storedVersions": [rt.storage_version],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted"},
            ],
        },
    }


def custom_resource_definitions(catalog: Catalog, specs: Specs) -> list[dict[str, Any]]:
    return [custom_resource_definition(rt, specs) for rt in catalog.cilium_types]
