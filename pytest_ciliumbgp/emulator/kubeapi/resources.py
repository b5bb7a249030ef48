"""The resource types the API serves: one ``ResourceType`` per kind, with what discovery,
routing and the store need to know about it, gathered in a ``Catalog`` that finds one by any
name a controller or kubectl would use (plural, ``plural.group``, kind, singular, short name).

The built-in kinds are the same on every server; the cilium.io kinds depend on the Cilium
release a server plays (``cilium_types``, ``cilium_release``), so each store holds its own
catalog. ``DEFAULT`` is the newest release's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import ApiError

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")
CILIUM_GROUP = "cilium.io"
#: what the newest Cilium serves, storage version first
CILIUM_VERSIONS = ("v2", "v2alpha1")


@dataclass(frozen=True)
class ResourceType:
    """A served kind. ``versions`` lists the served versions, the first being the one objects
    are stored in; ``status`` / ``scale`` say which subresources exist."""

    group: str
    versions: tuple[str, ...]
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status: bool = False
    scale: bool = False
    # Built-in kinds accept strategic merge patches; custom resources answer 415 to them.
    builtin: bool = True
    # Nodes are registered by the kubelet with their status filled in, so create keeps it.
    keeps_status_on_create: bool = False
    printer_columns: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def key(self) -> str:
        """``plural.group`` (just ``plural`` for the core group): the store's name for it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def storage_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        served = version or self.storage_version
        return f"{self.group}/{served}" if self.group else served

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


def _cilium(
    kind: str, short_names: tuple[str, ...], status: bool, categories: tuple[str, ...],
    versions: tuple[str, ...], columns: tuple[tuple[str, str, str], ...] = (),
) -> ResourceType:
    plural = kind.lower() + "s"
    return ResourceType(
        CILIUM_GROUP, versions, kind, plural, kind.lower(), namespaced=False,
        short_names=short_names, categories=categories, status=status, builtin=False,
        printer_columns=columns,
    )


_BGP = ("cilium", "ciliumbgp")
_POOL_COLUMNS = (
    ("Disabled", "boolean", ".spec.disabled"),
    ("Conflicting", "string", '.status.conditions[?(@.type=="cilium.io/PoolConflict")].status'),
    ("IPs Available", "string", '.status.conditions[?(@.type=="cilium.io/IPsAvailable")].message'),
)

#: the kinds with a status subresource in the newest CRDs
CILIUM_STATUS_KINDS = frozenset({"CiliumLoadBalancerIPPool", "CiliumBGPClusterConfig",
                                 "CiliumBGPPeerConfig", "CiliumBGPNodeConfig"})


def cilium_types(versions: tuple[str, ...] = CILIUM_VERSIONS,
                 status_kinds: frozenset[str] = CILIUM_STATUS_KINDS,
                 ) -> tuple[ResourceType, ...]:
    """The LB-IPAM and BGP kinds served in ``versions`` (storage first), with a status
    subresource for ``status_kinds``."""
    def kind(name: str, short_names: tuple[str, ...], categories: tuple[str, ...],
             columns: tuple[tuple[str, str, str], ...] = ()) -> ResourceType:
        return _cilium(name, short_names, name in status_kinds, categories, versions, columns)

    return (
        kind("CiliumLoadBalancerIPPool", ("ippools", "ippool", "lbippool", "lbippools"),
             ("cilium",), _POOL_COLUMNS),
        kind("CiliumBGPClusterConfig", ("cbgpcluster",), _BGP),
        kind("CiliumBGPPeerConfig", ("cbgppeer",), _BGP),
        kind("CiliumBGPAdvertisement", ("cbgpadvert",), _BGP),
        kind("CiliumBGPNodeConfig", ("cbgpnode",), _BGP),
        kind("CiliumBGPNodeConfigOverride", ("cbgpnodeoverride",), _BGP),
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", ("v1",), "Namespace", "namespaces", "namespace", namespaced=False,
                 short_names=("ns",), verbs=tuple(v for v in ALL_VERBS if v != "deletecollection"),
                 status=True),
    ResourceType("", ("v1",), "Node", "nodes", "node", namespaced=False, short_names=("no",),
                 status=True, keeps_status_on_create=True),
    ResourceType("", ("v1",), "Pod", "pods", "pod", namespaced=True, short_names=("po",),
                 categories=("all",), status=True),
    ResourceType("", ("v1",), "Service", "services", "service", namespaced=True,
                 short_names=("svc",), categories=("all",),
                 verbs=tuple(v for v in ALL_VERBS if v != "deletecollection"), status=True),
    ResourceType("", ("v1",), "Endpoints", "endpoints", "endpoints", namespaced=True,
                 short_names=("ep",)),
    ResourceType("", ("v1",), "ConfigMap", "configmaps", "configmap", namespaced=True,
                 short_names=("cm",)),
    ResourceType("", ("v1",), "Event", "events", "event", namespaced=True, short_names=("ev",)),
    ResourceType("apps", ("v1",), "Deployment", "deployments", "deployment", namespaced=True,
                 short_names=("deploy",), categories=("all",), status=True, scale=True),
    ResourceType("apps", ("v1",), "ReplicaSet", "replicasets", "replicaset", namespaced=True,
                 short_names=("rs",), categories=("all",), status=True, scale=True),
    ResourceType("apps", ("v1",), "DaemonSet", "daemonsets", "daemonset", namespaced=True,
                 short_names=("ds",), categories=("all",), status=True),
    ResourceType("discovery.k8s.io", ("v1",), "EndpointSlice", "endpointslices", "endpointslice",
                 namespaced=True),
    ResourceType("apiextensions.k8s.io", ("v1",), "CustomResourceDefinition",
                 "customresourcedefinitions", "customresourcedefinition", namespaced=False,
                 short_names=("crd", "crds"), categories=("api-extensions",), verbs=READ_VERBS),
)


class Catalog:
    """The resource types one API server serves."""

    def __init__(self, types: Iterable[ResourceType]) -> None:
        self.types = tuple(types)
        self._by_key = {rt.key: rt for rt in self.types}
        self._by_path = {(rt.group, v, rt.plural): rt for rt in self.types for v in rt.versions}

    @property
    def cilium_types(self) -> tuple[ResourceType, ...]:
        return tuple(rt for rt in self.types if rt.group == CILIUM_GROUP)

    def by_path(self, group: str, version: str, plural: str) -> ResourceType:
        """The type served at ``/apis/{group}/{version}/{plural}``, or 404 NotFound."""
        found = self._by_path.get((group, version, plural))
        if found is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource",
                           details={"group": group, "kind": plural})
        return found

    def resolve(self, resource: str | ResourceType) -> ResourceType:
        """Find a type by plural, ``plural.group``, kind, singular or short name
        (case-insensitive for kinds): ``"services"``, ``"Service"``, ``"ippool"``,
        ``"deployments.apps"``. A ``ResourceType`` (perhaps of another catalog) gives this
        catalog's type of the same name."""
        name = resource.key if isinstance(resource, ResourceType) else resource
        if name in self._by_key:
            return self._by_key[name]
        lowered = name.lower()
        for rt in self.types:
            if lowered in (rt.plural, rt.singular, rt.kind.lower(), *rt.short_names):
                return rt
        raise KeyError(f"no resource type called {name!r}")

    def groups(self) -> dict[str, list[str]]:
        """Every API group (``""`` for core) with its versions, preferred (storage) first."""
        served: dict[str, list[str]] = {}
        for rt in self.types:
            versions = served.setdefault(rt.group, [])
            versions.extend(v for v in rt.versions if v not in versions)
        return served


DEFAULT = Catalog((*BUILTIN_TYPES, *cilium_types()))


def resolve(name: str) -> ResourceType:
    """:meth:`Catalog.resolve` in the newest release's catalog; enough for the built-in kinds,
    which every catalog shares (a store maps any type to its own by name)."""
    return DEFAULT.resolve(name)
