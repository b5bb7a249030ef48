"""The project's schemas rendered as the OpenAPI v3 structural schemas a CRD carries, so that
clients reading ``openAPIV3Schema`` (to learn whether a field exists in this Cilium) see the
same fields the server validates. Rules stay server-side (they are predicates, not CEL)."""

from __future__ import annotations

from typing import Any

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import (
    Arr,
    Bool,
    Int,
    Node,
    Obj,
    Str,
    StrMap,
)


def openapi(node: Node) -> dict[str, Any]:
    if isinstance(node, Str):
        rendered: dict[str, Any] = {"type": "string"}
        if node.enum:
            rendered["enum"] = list(node.enum)
        for key, value in (("minLength", node.min_length), ("maxLength", node.max_length),
                           ("default", node.default)):
            if value is not None:
                rendered[key] = value
        return rendered
    if isinstance(node, Int):
        rendered = {"type": "integer"}
        for key, number in (("minimum", node.minimum), ("maximum", node.maximum),
                            ("default", node.default)):
            if number is not None:
                rendered[key] = number
        return rendered
    if isinstance(node, Bool):
        return {"type": "boolean", **({"default": node.default} if node.default is not None
                                      else {})}
    if isinstance(node, StrMap):
        return {"type": "object", "additionalProperties": openapi(node.values)}
    if isinstance(node, Arr):
        rendered = {"type": "array", "items": openapi(node.items)}
        if node.min_items is not None:
            rendered["minItems"] = node.min_items
        if node.max_items is not None:
            rendered["maxItems"] = node.max_items
        if node.map_keys:
            rendered["x-kubernetes-list-type"] = "map"
            rendered["x-kubernetes-list-map-keys"] = list(node.map_keys)
        return rendered
    rendered = {"type": "object",
                "properties": {name: openapi(child) for name, child in node.fields.items()}}
    if node.required:
        rendered["required"] = list(node.required)
    return rendered


def crd_schema(spec: Obj) -> dict[str, Any]:
    """A whole object's schema: ``spec`` as the project's schema says, ``status`` kept as is."""
    return {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": openapi(spec),
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
