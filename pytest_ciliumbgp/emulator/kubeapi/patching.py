"""The four PATCH bodies kube-apiserver understands, picked by Content-Type: JSON patch
(RFC 6902), JSON merge patch (RFC 7386), strategic merge patch (lists merged by their key,
``$patch`` / ``$setElementOrder`` / ``$retainKeys`` / ``$deleteFromPrimitiveList`` directives)
and server-side apply (create-or-merge; field ownership is recorded, not enforced)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import yaml

from .errors import ApiError
from .objectmeta import now
from .resources import ResourceType

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
CUSTOM_RESOURCE_PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)

# The patchMergeKey of the built-in list fields that have one (Go struct tags upstream). A list
# not named here is replaced whole; "ports" depends on whether it is a container's.
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "conditions": "type", "imagePullSecrets": "name", "ownerReferences": "uid",
    "taints": "key", "addresses": "type", "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey", "ports": "port",
}
_CONTAINER_LISTS = {"containers", "initContainers", "ephemeralContainers"}
# Primitive lists with patchStrategy "merge": items are unioned, not replaced.
_MERGED_PRIMITIVE_LISTS = {"finalizers"}


def parse_patch(body: bytes, content_type: str) -> Any:
    """Decode a patch body: JSON for three types, YAML (a superset) for apply; 400 if it is not."""
    try:
        if content_type == APPLY_PATCH:
            return yaml.safe_load(body)
        return json.loads(body)
    except (ValueError, yaml.YAMLError) as error:
        raise ApiError(400, "BadRequest", f"error decoding patch: {error}") from error


def json_patch(target: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "json patch must be a list of operations")
    try:
        patched: dict[str, Any] = jsonpatch.apply_patch(target, operations, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as error:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our "
                                       f"request: {error}") from error
    return patched


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _merge_key(field: str, parent: str) -> str | None:
    if field == "ports" and parent in _CONTAINER_LISTS:
        return "containerPort"
    return _MERGE_KEYS.get(field)


def _merge_keyed_list(
    current: list[Any], patch: list[Any], key: str, field: str, order: list[Any] | None,
) -> list[Any]:
    merged = [copy.deepcopy(item) for item in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise ApiError(400, "BadRequest", f"map in {field} does not contain merge key {key}")
        position = next((i for i, old in enumerate(merged)
                         if isinstance(old, dict) and old.get(key) == item[key]), None)
        directive = item.get("$patch")
        if directive == "delete":
            if position is not None:
                del merged[position]
        elif directive == "replace" or position is None:
            merged_item = {k: v for k, v in item.items() if k != "$patch"}
            if position is None:
                merged.append(strategic_merge({}, merged_item, field))
            else:
                merged[position] = merged_item
        else:
            merged[position] = strategic_merge(merged[position], item, field)
    if order is not None:
        # $setElementOrder lists the keys in the order the client wants; the rest keep theirs.
        rank = {entry.get(key): i for i, entry in enumerate(order) if isinstance(entry, dict)}
        merged.sort(key=lambda entry: rank.get(entry.get(key), len(rank)))
    return merged


def strategic_merge(target: Any, patch: Any, parent: str = "") -> Any:
    """Strategic merge patch as kubectl and controllers send it for built-in kinds."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    body = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return strategic_merge({}, body, parent)
    merged = dict(target) if isinstance(target, dict) else {}
    orders = {k.split("/", 1)[1]: v for k, v in body.items() if k.startswith("$setElementOrder/")}
    for key, value in body.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            merged[field] = [v for v in merged.get(field) or [] if v not in value]
        elif key == "$retainKeys":
            merged = {k: v for k, v in merged.items() if k in value or k in body}
        elif key.startswith("$"):
            continue
        elif value is None:
            merged.pop(key, None)
        elif isinstance(value, list):
            merged[key] = _merge_list(merged.get(key), value, key, parent, orders.get(key))
        else:
            result = strategic_merge(merged.get(key), value, key)
            if result is None:
                merged.pop(key, None)
            else:
                merged[key] = result
    return merged


def _merge_list(current: Any, patch: list[Any], field: str, parent: str, order: Any) -> list[Any]:
    existing = current if isinstance(current, list) else []
    if field in _MERGED_PRIMITIVE_LISTS:
        return existing + [v for v in patch if v not in existing]
    key = _merge_key(field, parent)
    if key is None or not all(isinstance(item, dict) for item in patch):
        return [strategic_merge({}, item, field) if isinstance(item, dict) else item
                for item in patch]
    return _merge_keyed_list(existing, patch, key, field, order)


def apply_patch(target: dict[str, Any], applied: dict[str, Any], builtin: bool) -> dict[str, Any]:
    """Server-side apply, simplified: the applied configuration is merged over the live object
    (by merge key for built-in kinds). Fields another manager set are kept."""
    merged: dict[str, Any] = (strategic_merge(target, applied) if builtin
                              else merge_patch(target, applied))
    return merged


def unsupported_patch(rt: ResourceType) -> ApiError:
    accepted = ", ".join(CUSTOM_RESOURCE_PATCH_TYPES)
    return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                    f"format - accepted media types include: {accepted}",
                    details={"kind": rt.plural, "group": rt.group})


def patched_object(
    builtin: bool, old: dict[str, Any], patch: Any, patch_type: str,
) -> dict[str, Any]:
    if patch_type == JSON_PATCH:
        return json_patch(old, patch)
    if not isinstance(patch, dict):
        raise ApiError(400, "BadRequest", "patch body must be a JSON object")
    if patch_type == MERGE_PATCH:
        merged: dict[str, Any] = merge_patch(old, patch)
        return merged
    if patch_type == STRATEGIC_MERGE_PATCH:
        strategic: dict[str, Any] = strategic_merge(old, patch)
        return strategic
    if patch_type == APPLY_PATCH:
        return apply_patch(old, patch, builtin)
    raise ApiError(415, "UnsupportedMediaType", f"unknown patch type {patch_type}")


def record_manager(obj: dict[str, Any], manager: str | None, version: str) -> None:
    if not manager:
        raise ApiError(400, "BadRequest", "PATCH, must have fieldManager for apply requests")
    entries = [e for e in obj.get("metadata", {}).get("managedFields") or []
               if e.get("manager") != manager or e.get("operation") != "Apply"]
    entries.append({"manager": manager, "operation": "Apply", "apiVersion": version,
                    "time": now(), "fieldsType": "FieldsV1", "fieldsV1": {}})
    obj.setdefault("metadata", {})["managedFields"] = entries
