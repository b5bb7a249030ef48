"""Cilium's real CRD schemas (``../shared/cilium/crds``) as strict jsonschema validators.

Strict: an object node with declared properties rejects any other key. A real API server would
silently prune such a field instead, which is exactly the mistake a builder test must catch.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CRDS = SHARED / "cilium" / "crds"
PLURALS = {
    "CiliumLoadBalancerIPPool": "ciliumloadbalancerippools",
    "CiliumBGPClusterConfig": "ciliumbgpclusterconfigs",
    "CiliumBGPPeerConfig": "ciliumbgppeerconfigs",
    "CiliumBGPAdvertisement": "ciliumbgpadvertisements",
}


def require_crds() -> None:
    if not (CRDS / "current").is_dir():
        pytest.skip(f"Cilium's CRD schemas are not here: {CRDS / 'current'} is absent")


@cache
def validator(kind: str, version: str, release: str = "current") -> jsonschema.Draft7Validator:
    """The schema of ``kind`` in ``version`` from the CRD of ``release`` (``current``,
    ``older/v2``, ``older/v2alpha1``)."""
    require_crds()
    crd = yaml.safe_load((CRDS / release / f"{PLURALS[kind]}.yaml").read_text())
    for served in crd["spec"]["versions"]:
        if served["name"] == version:
            return jsonschema.Draft7Validator(_strict(served["schema"]["openAPIV3Schema"]))
    raise LookupError(f"{release} CRD of {kind} does not serve {version}")


def problems(manifest: Mapping[str, Any], release: str = "current") -> list[str]:
    """Why the real CRD of the manifest's kind and version rejects it (empty: accepted)."""
    version = str(manifest["apiVersion"]).rpartition("/")[2]
    checker = validator(str(manifest["kind"]), version, release)
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in checker.iter_errors(manifest)
    ]


def problems_before_1_18(manifest: Mapping[str, Any]) -> list[str]:
    """Why the CRD Cilium 1.16/1.17 serve rejects the (v2alpha1) manifest: ``older/v2alpha1``,
    except the pool, whose copy there is the pre-1.15 one (``spec.cidrs``); the ``blocks``
    schema those releases serve is the v2alpha1 that ``current`` still carries."""
    if manifest["kind"] == "CiliumLoadBalancerIPPool":
        return problems(manifest, "current")
    return problems(manifest, "older/v2alpha1")


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    strict = {key: _strict(value) for key, value in node.items()}
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict
