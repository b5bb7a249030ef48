"""Defaulting and validation of the apps/v1 workload kinds (Deployments, ReplicaSets,
DaemonSets) with kube-apiserver's field paths and messages: a selector that is required,
non-empty, immutable and matches the Pod template's labels, and a template that restarts
``Always``. The status a fresh object gets carries the counters the API always serialises
(clients refuse a DaemonSet status without them)."""

from __future__ import annotations

from typing import Any

from .core_validation import (
    default_pod_spec,
    forbidden,
    invalid_value,
    not_supported,
    required,
    validate_metadata,
    validate_pod_spec,
)
from .errors import FieldError
from .selectors import from_label_selector_object, labels_match

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_FRESH_STATUS: dict[str, dict[str, Any]] = {
    "Deployment": {},
    "ReplicaSet": {"replicas": 0},
    "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                  "desiredNumberScheduled": 0, "numberReady": 0},
}


def _selector_errors(selector: Any) -> list[FieldError]:
    if not isinstance(selector, dict):
        return [invalid_value("spec.selector", selector, "must be an object")]
    errors = []
    for index, expression in enumerate(selector.get("matchExpressions") or []):
        where = f"spec.selector.matchExpressions[{index}]"
        if not isinstance(expression, dict) or not expression.get("key"):
            errors.append(required(f"{where}.key"))
            continue
        operator, values = expression.get("operator"), expression.get("values")
        if operator not in _OPERATORS:
            errors.append(invalid_value(f"{where}.operator", operator,
                                        "not a valid selector operator"))
        elif operator in ("In", "NotIn") and not values:
            errors.append(required(f"{where}.values", "must be specified when `operator` is "
                                                      "'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist") and values:
            errors.append(forbidden(f"{where}.values", "may not be specified when `operator` "
                                                       "is 'Exists' or 'DoesNotExist'"))
    return errors


def _template_errors(kind: str, spec: dict[str, Any]) -> list[FieldError]:
    template = spec.get("template") or {}
    selector = spec.get("selector")
    errors = []
    if not selector:
        errors.append(required("spec.selector"))
    elif selector_errors := _selector_errors(selector):
        errors += selector_errors
    elif not selector.get("matchLabels") and not selector.get("matchExpressions"):
        # Upstream's wording, "for deployment" on ReplicaSets too.
        errors.append(invalid_value("spec.selector", selector, "empty selector is invalid for "
                                    f"{'daemonset' if kind == 'DaemonSet' else 'deployment'}"))
    else:
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not labels_match(from_label_selector_object(selector) or (), labels):
            errors.append(invalid_value("spec.template.metadata.labels", labels,
                                        "`selector` does not match template `labels`"))
    pod_spec = template.get("spec")
    errors += validate_pod_spec(pod_spec, "spec.template.spec")
    if isinstance(pod_spec, dict) and pod_spec.get("restartPolicy") != "Always":
        errors.append(not_supported("spec.template.spec.restartPolicy",
                                    pod_spec.get("restartPolicy"), ("Always",)))
    return errors


def _default_spec(kind: str, spec: dict[str, Any]) -> None:
    if kind != "DaemonSet":
        spec.setdefault("replicas", 1)
    if kind != "ReplicaSet":  # the owner of the history keeps it, not its ReplicaSets
        spec.setdefault("revisionHistoryLimit", 10)
    if kind == "Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {
            "maxUnavailable": "25%", "maxSurge": "25%"}})
    elif kind == "DaemonSet":
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {
            "maxUnavailable": 1, "maxSurge": 0}})
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        default_pod_spec(template["spec"])


def _prepare(kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return [required("spec")]
    _default_spec(kind, spec)
    if old is None:
        obj["status"] = dict(_FRESH_STATUS[kind])
    errors = validate_metadata(obj, "subdomain") + _template_errors(kind, spec)
    replicas = spec.get("replicas", 0)
    if not isinstance(replicas, int) or replicas < 0:
        errors.append(invalid_value("spec.replicas", replicas,
                                    "must be greater than or equal to 0"))
    if old is not None and spec.get("selector") != (old.get("spec") or {}).get("selector"):
        errors.append(invalid_value("spec.selector", spec.get("selector"), "field is immutable"))
    return errors


def prepare_deployment(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    return _prepare("Deployment", obj, old)


def prepare_replicaset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    return _prepare("ReplicaSet", obj, old)


def prepare_daemonset(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    return _prepare("DaemonSet", obj, old)
