"""Create, apply, read, patch and delete the kinds the suite uses, and clean up after a run.

Objects go in and come out as plain dicts (the server's JSON), for core, apps and cilium.io kinds
alike; cilium.io kinds go through CustomObjectsApi in the version discovery picked
(``versions.cilium_api``), or the one a manifest's ``apiVersion`` names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.kube.client import JSON, Cluster
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.manifests.meta import CILIUM_GROUP, ownership_selector
from pytest_ciliumbgp.kube.versions import cilium_api

FIELD_MANAGER = "pytest-ciliumbgp"


@dataclass(frozen=True)
class Kind:
    """A kind the library handles: its plural, API group (``""`` for core) and scope."""

    name: str
    plural: str
    group: str
    namespaced: bool

    @property
    def snake(self) -> str:
        """The name in the typed APIs' method names: ``EndpointSlice`` → ``endpoint_slice``."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()


KINDS: Mapping[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("Service", "services", "", namespaced=True),
        Kind("Pod", "pods", "", namespaced=True),
        Kind("Node", "nodes", "", namespaced=False),
        Kind("Deployment", "deployments", "apps", namespaced=True),
        Kind("EndpointSlice", "endpointslices", "discovery.k8s.io", namespaced=True),
        Kind("CiliumLoadBalancerIPPool", "ciliumloadbalancerippools", CILIUM_GROUP, False),
        Kind("CiliumBGPClusterConfig", "ciliumbgpclusterconfigs", CILIUM_GROUP, False),
        Kind("CiliumBGPPeerConfig", "ciliumbgppeerconfigs", CILIUM_GROUP, False),
        Kind("CiliumBGPAdvertisement", "ciliumbgpadvertisements", CILIUM_GROUP, False),
        Kind("CiliumBGPNodeConfig", "ciliumbgpnodeconfigs", CILIUM_GROUP, False),
        Kind("CiliumBGPNodeConfigOverride", "ciliumbgpnodeconfigoverrides", CILIUM_GROUP, False),
    )
}
# What the suite creates, in the order cleanup deletes it: Deployments before their Pods (or
# they come back), Services before the advertisements and pools that serve them, cluster
# configs before the peer configs they refer to.
OWNED_KINDS = (
    "Deployment",
    "Pod",
    "Service",
    "CiliumBGPAdvertisement",
    "CiliumLoadBalancerIPPool",
    "CiliumBGPClusterConfig",
    "CiliumBGPPeerConfig",
)
_CUSTOM_METHODS = {
    "create": "create_cluster_custom_object",
    "read": "get_cluster_custom_object",
    "patch": "patch_cluster_custom_object",
    "delete": "delete_cluster_custom_object",
    "list": "list_cluster_custom_object",
}


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One object: ``Service default/web``, ``CiliumLoadBalancerIPPool pool-a``."""

    kind: str
    name: str
    namespace: str | None = None

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"

    @classmethod
    def of(cls, obj: Mapping[str, Any], kind: str | None = None) -> ObjectRef:
        """The reference of a manifest or of an object the server returned."""
        meta = obj.get("metadata") or {}
        return cls(str(kind or obj.get("kind")), str(meta.get("name")), meta.get("namespace"))


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"kind {name!r}: not one of {', '.join(KINDS)}") from None


def create(cluster: Cluster, manifest: Mapping[str, Any]) -> JSON:
    """Create the object; KubeError (``already_exists``) when it exists."""
    ref, kind, version = _target(manifest)
    return _request(
        cluster, kind, "create", ref, namespace=ref.namespace, body=dict(manifest), version=version
    )


def apply(cluster: Cluster, manifest: Mapping[str, Any]) -> JSON:
    """Make the object look like ``manifest``: server-side apply (field manager
    ``pytest-ciliumbgp``, conflicts forced), creating it when missing. A server without
    server-side apply (415) gets create, or a merge patch when the object exists."""
    ref, kind, version = _target(manifest)
    try:
        return _request(
            cluster,
            kind,
            "apply",
            ref,
            name=ref.name,
            namespace=ref.namespace,
            body=dict(manifest),
            version=version,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type="application/apply-patch+yaml",
        )
    except KubeError as err:
        if err.status != 415:
            raise
    try:
        return create(cluster, manifest)
    except KubeError as err:
        if not err.already_exists:
            raise
    return patch(cluster, ref, manifest, version=version)


def get(cluster: Cluster, ref: ObjectRef) -> JSON:
    """The object as the server has it; KubeError (``not_found``) when it does not exist."""
    return _request(cluster, kind_of(ref.kind), "read", ref, name=ref.name, namespace=ref.namespace)


def find(cluster: Cluster, ref: ObjectRef) -> JSON | None:
    """The object, or None when it does not exist."""
    try:
        return get(cluster, ref)
    except KubeError as err:
        if err.not_found:
            return None
        raise


def patch(
    cluster: Cluster, ref: ObjectRef, changes: Mapping[str, Any], *, version: str | None = None
) -> JSON:
    """A JSON merge patch (RFC 7386: maps merge, lists are replaced, ``None`` removes a key),
    the same semantics for every kind: ``patch(c, ref, {"spec": {"type": "ClusterIP"}})``."""
    return _request(
        cluster,
        kind_of(ref.kind),
        "patch",
        ref,
        name=ref.name,
        namespace=ref.namespace,
        body=dict(changes),
        version=version,
        _content_type="application/merge-patch+json",
    )


def delete(cluster: Cluster, ref: ObjectRef, *, grace_period_seconds: int | None = None) -> bool:
    """Delete the object (dependents in the background); False when it was already gone."""
    options: dict[str, Any] = {"propagation_policy": "Background"}
    if grace_period_seconds is not None:
        options["grace_period_seconds"] = grace_period_seconds
    try:
        _request(
            cluster,
            kind_of(ref.kind),
            "delete",
            ref,
            name=ref.name,
            namespace=ref.namespace,
            **options,
        )
    except KubeError as err:
        if err.not_found:
            return False
        raise
    return True


def list_objects(
    cluster: Cluster,
    kind: str,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
) -> list[JSON]:
    """Objects of ``kind`` (in ``namespace``, or everywhere), optionally by label selector."""
    target = kind_of(kind)
    options: dict[str, Any] = {"label_selector": label_selector} if label_selector else {}
    where = f" in {namespace}" if namespace else ""
    chosen = f" with {label_selector}" if label_selector else ""
    listing = _request(
        cluster, target, "list", f"{target.plural}{where}{chosen}", namespace=namespace, **options
    )
    return [dict(item, kind=target.name) for item in listing.get("items") or []]


def delete_owned(
    cluster: Cluster,
    run_id: str,
    test_id: str | None = None,
    *,
    grace_period_seconds: int | None = None,
) -> list[ObjectRef]:
    """Delete every object of ``OWNED_KINDS`` that carries the run's ownership label (and the
    test's, given ``test_id``); return what was deleted. Pods may stay Terminating for their
    grace period: ``leftovers`` lists them until they are gone."""
    deleted: list[ObjectRef] = []
    for ref in leftovers(cluster, run_id, test_id):
        if delete(cluster, ref, grace_period_seconds=grace_period_seconds):
            deleted.append(ref)
    return deleted


def leftovers(cluster: Cluster, run_id: str, test_id: str | None = None) -> list[ObjectRef]:
    """What still carries the run's (and test's) ownership label, in cleanup order."""
    chosen = ownership_selector(run_id, test_id)
    return [
        ObjectRef.of(item, kind)
        for kind in OWNED_KINDS
        for item in list_objects(cluster, kind, label_selector=chosen)
    ]


def _target(manifest: Mapping[str, Any]) -> tuple[ObjectRef, Kind, str | None]:
    ref = ObjectRef.of(manifest)
    kind = kind_of(ref.kind)
    group, _, version = str(manifest.get("apiVersion", "")).rpartition("/")
    if group != kind.group:
        raise ValueError(
            f"{ref}: apiVersion {manifest.get('apiVersion')!r} is not in group "
            f"{kind.group or 'core'!r}"
        )
    if kind.namespaced and not ref.namespace:
        raise ValueError(f"{ref}: a {kind.name} needs metadata.namespace")
    return ref, kind, version if group == CILIUM_GROUP else None


def _request(
    cluster: Cluster,
    kind: Kind,
    verb: str,
    subject: ObjectRef | str,
    *,
    name: str | None = None,
    namespace: str | None = None,
    body: Mapping[str, Any] | None = None,
    version: str | None = None,
    **options: Any,
) -> JSON:
    """One call of the typed or custom-objects API for ``verb`` (``apply`` is a patch)."""
    action = f"{verb} {subject}"
    method_verb = "patch" if verb == "apply" else verb
    tail: list[Any] = [arg for arg in (name,) if arg is not None]
    if kind.group == CILIUM_GROUP:
        chosen = version or cilium_api(cluster).version
        method = getattr(cluster.custom, _CUSTOM_METHODS[method_verb])
        args = [kind.group, chosen, kind.plural, *tail]
    else:
        api = {"": cluster.core, "apps": cluster.apps, "discovery.k8s.io": cluster.discovery}
        if kind.namespaced and namespace is None:  # only a list spans namespaces
            method = getattr(api[kind.group], f"list_{kind.snake}_for_all_namespaces")
        else:
            scope = "namespaced_" if kind.namespaced else ""
            method = getattr(api[kind.group], f"{method_verb}_{scope}{kind.snake}")
            tail += [namespace] if kind.namespaced else []
        args = tail
    if body is not None:
        args = [*args, body]
        if "_content_type" not in options:
            # The generated create methods send no Content-Type; say what the body is.
            options["_headers"] = {"Content-Type": "application/json"}
    return cluster.call_json(action, method, *args, **options)
