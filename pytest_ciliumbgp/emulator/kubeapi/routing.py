"""Request paths: which resource type, namespace, object and subresource a URL names, for both
``/api/v1/...`` and ``/apis/{group}/{version}/...``, with the legacy ``/watch/`` prefix."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError
from .resources import Catalog, ResourceType

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class Route:
    rt: ResourceType
    version: str
    namespace: str | None
    name: str | None
    subresource: str | None
    watch: bool  # the legacy /watch/ path prefix

    @property
    def api_version(self) -> str:
        return self.rt.api_version(self.version)


def _not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def parse_resource_path(segments: list[str], catalog: Catalog) -> Route | None:
    """The route for a resource URL among what ``catalog`` serves, None if the path is not one
    (discovery, version…); 404 NotFound for an unknown resource or a malformed path."""
    if segments[:2] == ["api", "v1"] and len(segments) > 2:
        group, version, rest = "", "v1", segments[2:]
    elif segments[:1] == ["apis"] and len(segments) > 3:
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        return None
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise _not_found()
    rt = catalog.by_path(group, version, rest[0])
    if namespace is not None and not rt.namespaced:
        raise _not_found()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if subresource is not None and not (
        (subresource == "status" and rt.status) or (subresource == "scale" and rt.scale)
    ):
        raise _not_found()
    return Route(rt, version, namespace, name, subresource, watch)
