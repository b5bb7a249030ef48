"""The project's schemas have the same shape as the CRDs they stand for — the current ones, and
the v2alpha1 ones of Cilium 1.16/1.17: the same fields, types, required lists, enums, bounds,
defaults, list-map keys, formats, patterns and rule messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas import SPECS, SPECS_BEFORE_1_18
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import (
    Arr,
    Bool,
    Int,
    Node,
    Obj,
    Str,
    StrMap,
)
from tests.kubeapi_schemas.crd_reference import before_1_18_set, served_schema

_TYPES: dict[type, str] = {Str: "string", Int: "integer", Bool: "boolean", Arr: "array",
                           Obj: "object", StrMap: "object"}


def _attrs(node: Node) -> dict[str, Any]:
    """The node's constraints under the CRD's keyword names."""
    found: dict[str, Any] = {}
    if isinstance(node, Str):
        found.update(enum=list(node.enum) or None, minLength=node.min_length,
                     maxLength=node.max_length, default=node.default,
                     format=node.format.name if node.format else None,
                     pattern=node.pattern is not None or None)
    elif isinstance(node, (Int, Bool)):
        found["default"] = node.default
        if isinstance(node, Int):
            found.update(minimum=node.minimum, maximum=node.maximum)
    elif isinstance(node, Arr):
        found.update(minItems=node.min_items, maxItems=node.max_items,
                     **{"x-kubernetes-list-map-keys": list(node.map_keys) or None})
    elif isinstance(node, Obj):
        found.update(required=sorted(node.required) or None,
                     rules=[rule.message for rule in node.rules] or None)
    return {key: value for key, value in found.items() if value is not None}


def _crd_attrs(schema: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("enum", "minLength", "maxLength", "default", "minimum", "maximum", "minItems",
            "maxItems", "x-kubernetes-list-map-keys")
    found = {key: schema[key] for key in keys if key in schema}
    if schema.get("format") in ("cidr", "ipv4"):
        found["format"] = schema["format"]
    if "pattern" in schema:
        found["pattern"] = True
    if schema.get("required"):
        found["required"] = sorted(schema["required"])
    if schema.get("x-kubernetes-validations"):
        found["rules"] = [rule["message"] for rule in schema["x-kubernetes-validations"]]
    return found


def _differences(node: Node, schema: Mapping[str, Any], path: str) -> list[str]:
    if _TYPES[type(node)] != schema.get("type"):
        return [f"{path}: ours {_TYPES[type(node)]}, CRD {schema.get('type')}"]
    found: list[str] = []
    if _attrs(node) != _crd_attrs(schema):
        found.append(f"{path}: ours {_attrs(node)}, CRD {_crd_attrs(schema)}")
    if isinstance(node, Arr):
        found += _differences(node.items, schema["items"], f"{path}[]")
    elif isinstance(node, StrMap):
        if "additionalProperties" not in schema:
            return [*found, f"{path}: the CRD has no additionalProperties"]
        found += _differences(node.values, schema["additionalProperties"], f"{path}.*")
    elif isinstance(node, Obj):
        properties = schema.get("properties", {})
        if set(node.fields) != set(properties):
            found.append(f"{path}: ours {sorted(node.fields)}, CRD {sorted(properties)}")
        for name in set(node.fields) & set(properties):
            found += _differences(node.fields[name], properties[name], f"{path}.{name}")
    return found


@pytest.mark.usefixtures("real_crds")
@pytest.mark.parametrize(
    ("version", "kind"), sorted(SPECS), ids=[f"{v}-{k}" for v, k in sorted(SPECS)]
)
def test_schema_has_the_shape_of_the_current_crd(version: str, kind: str) -> None:
    crd = served_schema("current", kind, version)
    assert crd is not None
    assert crd["required"] == ["metadata", "spec"]
    assert _differences(SPECS[(version, kind)], crd["properties"]["spec"], "spec") == []


@pytest.mark.usefixtures("real_crds")
@pytest.mark.parametrize(
    ("version", "kind"), sorted(SPECS_BEFORE_1_18),
    ids=[f"{v}-{k}" for v, k in sorted(SPECS_BEFORE_1_18)],
)
def test_schema_before_1_18_has_the_shape_of_the_1_16_and_1_17_crd(version: str, kind: str,
                                                                    ) -> None:
    crd = served_schema(before_1_18_set(kind), kind, version)
    assert crd is not None
    assert _differences(SPECS_BEFORE_1_18[(version, kind)], crd["properties"]["spec"],
                        "spec") == []


def test_before_1_18_serves_v2alpha1_only_and_differs_from_its_successor() -> None:
    assert {version for version, _ in SPECS_BEFORE_1_18} == {"v2alpha1"}
    assert {kind for _, kind in SPECS_BEFORE_1_18} == {kind for _, kind in SPECS}
    changed = {kind for (version, kind), spec in SPECS_BEFORE_1_18.items()
               if spec != SPECS[(version, kind)]}
    assert changed == {"CiliumBGPAdvertisement", "CiliumBGPClusterConfig", "CiliumBGPPeerConfig",
                       "CiliumBGPNodeConfig", "CiliumBGPNodeConfigOverride"}
