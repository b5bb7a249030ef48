"""Label and field selectors, parsed from the query-string syntax kubectl and the client send
(``app=web,tier in (a,b),!canary``) and from ``LabelSelector`` objects (``matchLabels`` /
``matchExpressions``) that controllers read from specs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError

_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_SET_REQUIREMENT = re.compile(r"^\s*(\S+)\s+(in|notin)\s+\((.*)\)\s*$")
_COMPARISON = re.compile(r"^\s*([^!=<>\s]+)\s*(==|!=|=|<|>)\s*(\S*)\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        try:
            seen, bound = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return seen > bound if self.operator == "Gt" else seen < bound


LabelSelector = tuple[Requirement, ...]


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _split_top_level(text: str) -> list[str]:
    # Commas inside "in (a,b)" belong to the set, not to the list of requirements.
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _checked(key: str, values: tuple[str, ...], source: str) -> tuple[str, tuple[str, ...]]:
    if not _LABEL_KEY.match(key) or not all(_LABEL_VALUE.match(v) for v in values):
        raise _bad(f"unable to parse requirement: invalid label selector {source!r}")
    return key, values


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse ``?labelSelector=``; an empty selector matches everything; bad syntax is 400."""
    requirements: list[Requirement] = []
    for part in _split_top_level(text or ""):
        if set_match := _SET_REQUIREMENT.match(part):
            key, operator, listed = set_match.groups()
            values = tuple(v.strip() for v in listed.split(",") if v.strip())
            key, values = _checked(key, values, part)
            requirements.append(Requirement(key, "In" if operator == "in" else "NotIn", values))
        elif part.startswith("!"):
            key, _ = _checked(part[1:].strip(), (), part)
            requirements.append(Requirement(key, "DoesNotExist"))
        elif comparison := _COMPARISON.match(part):
            key, operator, value = comparison.groups()
            key, (value,) = _checked(key, (value,), part)
            kind = {"=": "In", "==": "In", "!=": "NotIn", "<": "Lt", ">": "Gt"}[operator]
            requirements.append(Requirement(key, kind, (value,)))
        else:
            key, _ = _checked(part, (), part)
            requirements.append(Requirement(key, "Exists"))
    return tuple(requirements)


def labels_match(selector: LabelSelector, labels: Mapping[str, str] | None) -> bool:
    present = labels or {}
    return all(r.matches(present) for r in selector)


def from_label_selector_object(selector: Mapping[str, Any] | None) -> LabelSelector | None:
    """A ``LabelSelector`` object as requirements; ``None`` for a nil selector (which means
    "everything" or "nothing" depending on the field — the caller decides)."""
    if selector is None:
        return None
    match_labels = selector.get("matchLabels") or {}
    requirements = [Requirement(k, "In", (v,)) for k, v in match_labels.items()]
    for expression in selector.get("matchExpressions") or []:
        requirements.append(Requirement(
            expression["key"], expression["operator"], tuple(expression.get("values") or ()),
        ))
    return tuple(requirements)


# Field selectors every kind supports, plus the ones kubectl uses for particular kinds.
_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec.nodeName", "status.phase", "status.podIP", "spec.restartPolicy",
            "spec.schedulerName", "spec.serviceAccountName"),
    "Event": ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
              "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"),
    "Node": ("spec.unschedulable",),
    "Namespace": ("status.phase",),
}

FieldSelector = tuple[tuple[str, bool, str], ...]  # (path, equal?, value)


def parse_field_selector(text: str | None, kind: str) -> FieldSelector:
    """Parse ``?fieldSelector=``; a field this kind cannot be selected by is 400, as upstream."""
    terms: list[tuple[str, bool, str]] = []
    for part in _split_top_level(text or ""):
        match = re.match(r"^([^!=]+?)\s*(==|!=|=)\s*(.*)$", part)
        if not match:
            raise _bad(f"invalid selector: {part!r}; can't understand {part!r}")
        path, operator, value = match.groups()
        if path not in _COMMON_FIELDS + _KIND_FIELDS.get(kind, ()):
            raise _bad(f'field label not supported: {path}')
        terms.append((path, operator != "!=", value))
    return tuple(terms)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    current: Any = obj
    for step in path.split("."):
        current = current.get(step) if isinstance(current, Mapping) else None
    if isinstance(current, bool):
        return "true" if current else "false"
    return "" if current is None else str(current)


def fields_match(selector: FieldSelector, obj: Mapping[str, Any]) -> bool:
    return all((_field_value(obj, path) == value) == equal for path, equal, value in selector)


def object_filter(labels: LabelSelector, fields: FieldSelector,
                  ) -> Callable[[Mapping[str, Any]], bool]:
    """One predicate over whole objects for both selectors."""
    def accepts(obj: Mapping[str, Any]) -> bool:
        return labels_match(labels, obj.get("metadata", {}).get("labels")) and fields_match(
            fields, obj
        )
    return accepts
