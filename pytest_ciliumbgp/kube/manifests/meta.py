"""What every manifest shares: metadata, label selectors, API versions and ownership labels.

Ownership: everything the suite creates carries two labels, so that one run's leftovers can be
found and deleted without touching anything else:

- ``cbgp.io/run``: the run id (shared by every xdist worker of one pytest run);
- ``cbgp.io/owner``: the test that created it (its node id, made label-safe);

and the annotation ``cbgp.io/test`` with the test's node id as written. Label values are cut to
what Kubernetes allows (63 characters of ``[A-Za-z0-9._-]``, alphanumeric at both ends); a cut
value ends with a short hash, so two long test ids stay distinct.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

RUN_LABEL = "cbgp.io/run"
OWNER_LABEL = "cbgp.io/owner"
TEST_ANNOTATION = "cbgp.io/test"
CILIUM_GROUP = "cilium.io"
# In order of preference: discovery picks the first that serves every kind the suite writes.
CILIUM_VERSIONS = ("v2", "v2alpha1")
# A key no object carries: ``NotIn`` on it selects everything, where a nil selector in a
# CiliumBGPAdvertisement selects nothing.
NEVER_LABEL = "cbgp.io/never"

Manifest = dict[str, Any]
Selector = Mapping[str, Any]

_LABEL_VALUE_MAX = 63
_NOT_LABEL_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def label_value(text: str) -> str:
    """``text`` as a valid label value (see the module docstring)."""
    value = _NOT_LABEL_CHARS.sub("-", text).strip("._-")
    if len(value) <= _LABEL_VALUE_MAX and value == text:
        return value
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    head = value[: _LABEL_VALUE_MAX - len(digest) - 1].rstrip("._-")
    return f"{head}-{digest}" if head else digest


def ownership_labels(run_id: str, test_id: str | None = None) -> dict[str, str]:
    """The labels that mark an object as this run's (and, given ``test_id``, this test's)."""
    labels = {RUN_LABEL: label_value(run_id)}
    if test_id is not None:
        labels[OWNER_LABEL] = label_value(test_id)
    return labels


def ownership_annotations(test_id: str) -> dict[str, str]:
    """The test's node id as written, for an operator reading the object."""
    return {TEST_ANNOTATION: test_id}


def ownership_selector(run_id: str, test_id: str | None = None) -> str:
    """The label selector (``cbgp.io/run=…[,cbgp.io/owner=…]``) for what ``ownership_labels``
    marks."""
    return ",".join(f"{key}={value}" for key, value in ownership_labels(run_id, test_id).items())


def selector(
    match_labels: Mapping[str, str] | None = None,
    *,
    expressions: Sequence[tuple[str, str, Sequence[str]]] = (),
) -> dict[str, Any]:
    """A LabelSelector: ``selector({"app": "web"}, expressions=[("tier", "In", ["a", "b"])])``.
    Operators: In, NotIn, Exists, DoesNotExist (values only for the first two)."""
    built: dict[str, Any] = {}
    if match_labels:
        built["matchLabels"] = dict(match_labels)
    if expressions:
        built["matchExpressions"] = [_requirement(*expression) for expression in expressions]
    return built


def select_all() -> dict[str, Any]:
    """A selector that matches every object (an empty one does too for Kubernetes, but Cilium
    reads a missing advertisement selector as "nothing", so say it explicitly)."""
    return selector(expressions=[(NEVER_LABEL, "NotIn", ["never-used"])])


def cilium_api_version(version: str) -> str:
    """``cilium.io/<version>`` for a version the library builds (``v2`` or ``v2alpha1``)."""
    if version not in CILIUM_VERSIONS:
        raise ValueError(f"cilium.io version {version!r}: expected one of {CILIUM_VERSIONS}")
    return f"{CILIUM_GROUP}/{version}"


def metadata(
    name: str,
    *,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _requirement(key: str, operator: str, values: Sequence[str]) -> dict[str, Any]:
    if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
        raise ValueError(f"selector on {key}: unknown operator {operator!r}")
    requirement: dict[str, Any] = {"key": key, "operator": operator}
    if operator in ("In", "NotIn"):
        if not values:
            raise ValueError(f"selector on {key}: {operator} needs at least one value")
        requirement["values"] = list(values)
    elif values:
        raise ValueError(f"selector on {key}: {operator} takes no values")
    return requirement
