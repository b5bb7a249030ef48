"""Which ``cilium.io`` API version the cluster serves the LB-IPAM and BGP kinds in.

Decided by discovery, never from a Cilium version string: ``v2`` when it serves every kind the
suite writes (Cilium ≥ 1.18), else ``v2alpha1`` (1.16 / 1.17); neither is a "missing CRDs" error.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.manifests.meta import CILIUM_GROUP, CILIUM_VERSIONS

# plural → kind of what the suite creates; without these it cannot run.
REQUIRED_RESOURCES: Mapping[str, str] = {
    "ciliumloadbalancerippools": "CiliumLoadBalancerIPPool",
    "ciliumbgpclusterconfigs": "CiliumBGPClusterConfig",
    "ciliumbgppeerconfigs": "CiliumBGPPeerConfig",
    "ciliumbgpadvertisements": "CiliumBGPAdvertisement",
}

_detected: weakref.WeakKeyDictionary[Cluster, CiliumApi] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class CiliumApi:
    """What discovery found: the ``version`` to use, every version the group serves, and the
    kinds (by plural) that ``version`` serves."""

    version: str
    served_versions: tuple[str, ...]
    resources: Mapping[str, str]

    @property
    def api_version(self) -> str:
        """``cilium.io/v2`` or ``cilium.io/v2alpha1``, for a manifest's ``apiVersion``."""
        return f"{CILIUM_GROUP}/{self.version}"

    def serves(self, kind: str) -> bool:
        """Whether ``version`` serves ``kind`` (``CiliumBGPNodeConfig``…)."""
        return kind in self.resources.values()


def cilium_api(cluster: Cluster) -> CiliumApi:
    """The cluster's Cilium API, detected once per Cluster."""
    found = _detected.get(cluster)
    if found is None:
        found = _detected[cluster] = detect_cilium_api(cluster)
    return found


def detect_cilium_api(cluster: Cluster) -> CiliumApi:
    """Ask discovery (``/apis``, then ``/apis/cilium.io/<version>``) which version to use."""
    groups = cluster.call_json("discover API groups (/apis)", cluster.apis.get_api_versions)
    served = _served_versions(groups.get("groups") or [])
    wanted = ", ".join(REQUIRED_RESOURCES.values())
    if not served:
        raise KubeError(
            f"missing CRDs: {cluster.server} serves no {CILIUM_GROUP} API group, so none of "
            f"{wanted} (is Cilium installed, with bgpControlPlane.enabled=true?)"
        )
    gaps: list[str] = []
    for version in (v for v in CILIUM_VERSIONS if v in served):
        resources = _resources(cluster, version)
        missing = [kind for plural, kind in REQUIRED_RESOURCES.items() if plural not in resources]
        if not missing:
            return CiliumApi(version=version, served_versions=served, resources=resources)
        gaps.append(f"{CILIUM_GROUP}/{version} lacks {', '.join(missing)}")
    if not gaps:
        gaps.append(f"{CILIUM_GROUP} serves only {', '.join(served)}")
    raise KubeError(
        f"missing CRDs: {cluster.server} serves none of {', '.join(CILIUM_VERSIONS)} with all of "
        f"{wanted}: {'; '.join(gaps)}"
    )


def schema_has_field(cluster: Cluster, plural: str, version: str, path: str) -> bool:
    """Whether the CRD ``<plural>.cilium.io`` declares ``path`` in ``version``'s schema, e.g.
    ``spec.advertisements[].service.aggregationLengthIPv4`` (served since Cilium 1.18) — for
    skipping a check the cluster's Cilium cannot do."""
    crd = cluster.call_json(
        f"read CustomResourceDefinition {plural}.{CILIUM_GROUP}",
        cluster.apiextensions.read_custom_resource_definition,
        f"{plural}.{CILIUM_GROUP}",
    )
    for served in crd.get("spec", {}).get("versions", []):
        if served.get("name") == version:
            schema = (served.get("schema") or {}).get("openAPIV3Schema") or {}
            return _schema_node(schema, path.split(".")) is not None
    return False


def _served_versions(groups: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    for group in groups:
        if group.get("name") == CILIUM_GROUP:
            return tuple(str(v.get("version")) for v in group.get("versions") or [])
    return ()


def _resources(cluster: Cluster, version: str) -> dict[str, str]:
    listing = cluster.call_json(
        f"discover {CILIUM_GROUP}/{version} resources",
        cluster.custom.get_api_resources,
        CILIUM_GROUP,
        version,
    )
    return {
        str(r["name"]): str(r.get("kind", ""))
        for r in listing.get("resources") or []
        if "/" not in str(r.get("name", "/"))  # subresources (…/status) are not kinds
    }


def _schema_node(schema: Mapping[str, Any], steps: list[str]) -> Mapping[str, Any] | None:
    node: Mapping[str, Any] | None = schema
    for step in steps:
        if node is None:
            return None
        name, _, rest = step.partition("[]")
        node = (node.get("properties") or {}).get(name)
        if node is not None and rest == "" and step.endswith("[]"):
            node = node.get("items")
    return node
