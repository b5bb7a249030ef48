"""A minimal OpenAPI v3 index. kubectl validates manifests on the client unless the server's
OpenAPI v3 says its PATCH endpoints take ``fieldValidation``; without any OpenAPI it refuses to
apply ("failed to download openapi"). So each group/version gets a document that lists one PATCH
operation per kind with that parameter, and nothing else (no schemas, so kubectl's client-side
apply falls back to its built-in strategic merge for core kinds and merge patch for CRs)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .discovery import not_found
from .resources import Catalog, ResourceType


def _path_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operation(rt: ResourceType, version: str) -> dict[str, Any]:
    return {
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": version,
                                            "kind": rt.kind},
        "x-kubernetes-action": "patch",
        "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                       {"name": "fieldManager", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "OK"}},
    }


def group_version_document(catalog: Catalog, group: str, version: str) -> dict[str, Any]:
    served = [rt for rt in catalog.types if rt.group == group and version in rt.versions]
    if not served:
        raise not_found()
    paths = {}
    for rt in served:
        prefix = "/" + _path_key(group, version)
        scope = f"{prefix}/namespaces/{{namespace}}" if rt.namespaced else prefix
        paths[f"{scope}/{rt.plural}/{{name}}"] = {"patch": _operation(rt, version)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": {}}}


def index(catalog: Catalog) -> dict[str, Any]:
    served = {(rt.group, v) for rt in catalog.types for v in rt.versions}
    paths = {}
    for group, version in sorted(served):
        document = json.dumps(group_version_document(catalog, group, version), sort_keys=True)
        digest = hashlib.sha512(document.encode()).hexdigest()[:32].upper()
        key = _path_key(group, version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def document(catalog: Catalog, segments: list[str]) -> dict[str, Any]:
    """The answer for ``/openapi/v3[/api/v1|/apis/{group}/{version}]``; v2 is 404."""
    rest = segments[2:]
    if segments[:2] != ["openapi", "v3"]:
        raise not_found()
    if not rest:
        return index(catalog)
    if rest[0] == "api" and len(rest) == 2:
        return group_version_document(catalog, "", rest[1])
    if rest[0] == "apis" and len(rest) == 3:
        return group_version_document(catalog, rest[1], rest[2])
    raise not_found()
