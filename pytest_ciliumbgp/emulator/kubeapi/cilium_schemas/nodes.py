"""The vocabulary the project's schemas are written in: a small structural-schema model.

It mirrors what a Kubernetes structural schema can say and nothing more: types, enums,
``default``, min/max, lengths, formats and patterns, required properties, list-map keys and
object-level rules (the CRDs' CEL ``x-kubernetes-validations``, written here as predicates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.formats import LABEL_VALUE, StringCheck


@dataclass(frozen=True)
class Str:
    enum: tuple[str, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    format: StringCheck | None = None
    pattern: StringCheck | None = None
    default: str | None = None


@dataclass(frozen=True)
class Int:
    minimum: int | None = None
    maximum: int | None = None
    default: int | None = None


@dataclass(frozen=True)
class Bool:
    default: bool | None = None


@dataclass(frozen=True)
class Rule:
    """An object-level rule; ``holds`` sees the object after defaulting, with valid types."""

    holds: Callable[[Mapping[str, Any]], bool]
    message: str


@dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Node]
    required: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Arr:
    items: Node
    min_items: int | None = None
    max_items: int | None = None
    map_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class StrMap:
    """An object with free-form keys and string values (``additionalProperties``)."""

    values: Str


Node: TypeAlias = Str | Int | Bool | Obj | Arr | StrMap

# Ranges the BGP kinds share.
UINT32_MAX = 4_294_967_295
INT32_MAX = 2_147_483_647
PORT = Int(minimum=1, maximum=65535)
NAME = Str(min_length=1, max_length=255)


def label_selector() -> Obj:
    """metav1.LabelSelector as every Cilium CRD embeds it (only label values are checked)."""
    requirement = Obj(
        {
            "key": Str(),
            "operator": Str(enum=("In", "NotIn", "Exists", "DoesNotExist")),
            "values": Arr(Str()),
        },
        required=("key", "operator"),
    )
    return Obj(
        {
            "matchExpressions": Arr(requirement),
            "matchLabels": StrMap(Str(max_length=63, pattern=LABEL_VALUE)),
        }
    )
