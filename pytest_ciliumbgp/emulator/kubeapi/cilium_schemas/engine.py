"""Apply a schema the way kube-apiserver applies a CRD's structural schema.

Order on a write: unknown fields and disallowed nulls are pruned, defaults filled in, then the
schema is checked (kube-openapi's checks), list-map keys are checked for duplicates, and only if
none of the schema errors is "blocking" are the object rules (CEL) evaluated. Messages and field
paths follow ``apiextensions-apiserver``'s translation of kube-openapi errors into field errors.
"""

from __future__ import annotations

import copy
import json
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
from pytest_ciliumbgp.emulator.kubeapi.errors import FieldError

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
TYPE_INVALID = "FieldValueTypeInvalid"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
DUPLICATE = "FieldValueDuplicate"
# Errors after which kube-apiserver does not evaluate CEL rules at all.
BLOCKING = frozenset({REQUIRED, NOT_SUPPORTED, TYPE_INVALID, TOO_LONG, TOO_MANY})
RULES_SKIPPED = FieldError(
    "<nil>",
    INVALID,
    'Invalid value: "null": some validation rules were not checked because the object was '
    "invalid; correct the existing errors to complete validation",
)


def json_type(value: object) -> str:
    """The OpenAPI type name kube-openapi reports for a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _go_syntax(value: object) -> str:
    """Go's ``%#v`` of a decoded JSON value (what kube prints for composite bad values)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)}:{_go_syntax(v)}" for k, v in sorted(value.items()))
        return f"map[string]interface {{}}{{{inner}}}"
    if isinstance(value, list):
        return f"[]interface {{}}{{{', '.join(_go_syntax(v) for v in value)}}}"
    if value is None:
        return "interface {}(nil)"
    return go_value(value)


def go_value(value: object) -> str:
    """A bad value as ``field.Error`` prints it: strings quoted, numbers and booleans bare."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return _go_syntax(value)


def _is_integer(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _type_ok(node: Node, value: object) -> bool:
    if isinstance(node, Str):
        return isinstance(value, str)
    if isinstance(node, Int):
        return _is_integer(value)
    if isinstance(node, Bool):
        return isinstance(value, bool)
    if isinstance(node, Arr):
        return isinstance(value, list)
    return isinstance(value, dict)


_TYPE_NAMES = {Str: "string", Int: "integer", Bool: "boolean", Arr: "array", Obj: "object"}


def _invalid(path: str, value: object, detail: str) -> FieldError:
    return FieldError(path, INVALID, f"Invalid value: {go_value(value)}: {path} in body {detail}")


def schema_errors(node: Node, value: object, path: str) -> list[FieldError]:
    """kube-openapi's checks of ``value`` against ``node`` (no CEL rules)."""
    errors: list[FieldError] = []
    if not _type_ok(node, value):
        expected = _TYPE_NAMES.get(type(node), "object")
        actual = json_type(value)
        errors.append(FieldError(
            path, TYPE_INVALID,
            f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"',
        ))
        if isinstance(node, Str) and node.enum:
            errors.append(_not_supported(path, value, node.enum))
        return errors
    if isinstance(node, Str):
        assert isinstance(value, str)
        errors.extend(_string_errors(node, value, path))
    elif isinstance(node, Int):
        assert isinstance(value, (int, float))
        if node.maximum is not None and value > node.maximum:
            errors.append(_invalid(path, value, f"should be less than or equal to {node.maximum}"))
        if node.minimum is not None and value < node.minimum:
            errors.append(
                _invalid(path, value, f"should be greater than or equal to {node.minimum}")
            )
    elif isinstance(node, Arr):
        assert isinstance(value, list)
        if node.min_items is not None and len(value) < node.min_items:
            errors.append(
                _invalid(path, len(value), f"should have at least {node.min_items} items")
            )
        if node.max_items is not None and len(value) > node.max_items:
            errors.append(FieldError(
                path, TOO_MANY, f"Too many: {len(value)}: must have at most {node.max_items} items"
            ))
        for index, item in enumerate(value):
            errors.extend(schema_errors(node.items, item, f"{path}[{index}]"))
    elif isinstance(node, StrMap):
        assert isinstance(value, dict)
        for key, item in value.items():
            errors.extend(schema_errors(node.values, item, f"{path}.{key}"))
    elif isinstance(node, Obj):
        assert isinstance(value, dict)
        errors.extend(
            FieldError(f"{path}.{name}", REQUIRED, "Required value")
            for name in node.required
            if name not in value
        )
        for name, child in node.fields.items():
            if name in value:
                errors.extend(schema_errors(child, value[name], f"{path}.{name}"))
    return errors


def _not_supported(path: str, value: object, allowed: tuple[str, ...]) -> FieldError:
    supported = ", ".join(json.dumps(choice) for choice in allowed)
    return FieldError(
        path, NOT_SUPPORTED,
        f"Unsupported value: {go_value(value)}: supported values: {supported}",
    )


def _string_errors(node: Str, value: str, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if node.max_length is not None and len(value) > node.max_length:
        errors.append(
            FieldError(path, TOO_LONG, f"Too long: may not be more than {node.max_length} bytes")
        )
    if node.min_length is not None and len(value) < node.min_length:
        errors.append(_invalid(path, value, f"should be at least {node.min_length} chars long"))
    if node.pattern is not None and not node.pattern.accepts(value):
        errors.append(_invalid(path, value, f"should match '{node.pattern.name}'"))
    if node.format is not None and not node.format.accepts(value):
        errors.append(FieldError(
            path, TYPE_INVALID,
            f"Invalid value: {go_value(value)}: {path} in body must be of type "
            f"{node.format.name}: {go_value(value)}",
        ))
    if node.enum and value not in node.enum:
        errors.append(_not_supported(path, value, node.enum))
    return errors


def duplicate_errors(node: Node, value: object, path: str) -> list[FieldError]:
    """Entries of ``x-kubernetes-list-type: map`` lists that repeat an earlier entry's keys."""
    errors: list[FieldError] = []
    if isinstance(node, Arr) and isinstance(value, list):
        seen: set[str] = set()
        for index, item in enumerate(value):
            if node.map_keys and isinstance(item, dict):
                keys = {key: item.get(key) for key in node.map_keys}
                marker = json.dumps(keys, sort_keys=True)
                if marker in seen:
                    errors.append(FieldError(
                        f"{path}[{index}]", DUPLICATE, f"Duplicate value: {_go_syntax(keys)}"
                    ))
                seen.add(marker)
            errors.extend(duplicate_errors(node.items, item, f"{path}[{index}]"))
    elif isinstance(node, Obj) and isinstance(value, dict):
        for name, child in node.fields.items():
            if name in value:
                errors.extend(duplicate_errors(child, value[name], f"{path}.{name}"))
    return errors


def rule_errors(node: Node, value: object, path: str) -> list[FieldError]:
    """The object rules (CEL) of ``node`` and its descendants; the value is schema-valid."""
    errors: list[FieldError] = []
    if isinstance(node, Arr) and isinstance(value, list):
        for index, item in enumerate(value):
            errors.extend(rule_errors(node.items, item, f"{path}[{index}]"))
    elif isinstance(node, Obj) and isinstance(value, dict):
        for name, child in node.fields.items():
            if name in value:
                errors.extend(rule_errors(child, value[name], f"{path}.{name}"))
        errors.extend(
            FieldError(path, INVALID, f'Invalid value: "object": {rule.message}')
            for rule in node.rules
            if not rule.holds(value)
        )
    return errors


def has_rules(node: Node) -> bool:
    if isinstance(node, Arr):
        return has_rules(node.items)
    if isinstance(node, Obj):
        return bool(node.rules) or any(has_rules(child) for child in node.fields.values())
    return False


def _default_of(node: Node) -> object:
    return None if isinstance(node, (Obj, Arr, StrMap)) else node.default


def prune(node: Node | None, value: object, path: str, dropped: list[str]) -> object:
    """A copy of ``value`` without unknown fields (their paths go to ``dropped``) and without
    nulls where the schema allows none and has no default. Like the real pruner, keys of a
    mapping sent where the schema has no object are all unknown (``None``: no schema at all)."""
    if isinstance(value, list):
        items = node.items if isinstance(node, Arr) else None
        return [prune(items, item, f"{path}[{i}]", dropped) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        return copy.deepcopy(value)
    kept: dict[str, Any] = {}
    for name, item in value.items():
        if isinstance(node, StrMap):
            child: Node | None = node.values
        elif isinstance(node, Obj):
            child = node.fields.get(name)
        else:
            child = None
        if child is None:
            dropped.append(f"{path}.{name}")
        elif item is not None or _default_of(child) is not None:
            kept[name] = prune(child, item, f"{path}.{name}", dropped)
    return kept


def apply_defaults(node: Node, value: object) -> None:
    """Fill in missing (or null) defaulted properties of the objects present, in place."""
    if isinstance(node, Arr) and isinstance(value, list):
        for item in value:
            apply_defaults(node.items, item)
    elif isinstance(node, Obj) and isinstance(value, dict):
        for name, child in node.fields.items():
            default = _default_of(child)
            if default is not None and value.get(name) is None:
                value[name] = default
            if name in value:
                apply_defaults(child, value[name])


def check(node: Node, value: object, path: str) -> list[FieldError]:
    """All errors for an already pruned and defaulted value, in kube-apiserver's order."""
    errors = schema_errors(node, value, path)
    errors.extend(duplicate_errors(node, value, path))
    if has_rules(node):
        if any(error.type in BLOCKING for error in errors):
            errors.append(RULES_SKIPPED)
        else:
            errors.extend(rule_errors(node, value, path))
    return errors
