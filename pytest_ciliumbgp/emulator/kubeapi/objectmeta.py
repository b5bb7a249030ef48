"""ObjectMeta bookkeeping the server owns: uid, creationTimestamp, generateName, generation,
and the system fields a client may not change on update."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import ApiError
from .resources import ResourceType

# The alphabet kube-apiserver uses for generateName suffixes (no vowels, no look-alikes).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "generation")


TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # RFC 3339 in whole seconds, as metav1.Time serialises


def now(after_seconds: int = 0) -> str:
    return timestamp(datetime.now(timezone.utc) + timedelta(seconds=after_seconds))


def timestamp(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)


def generated_name(prefix: str) -> str:
    return prefix + "".join(random.choice(_SUFFIX_ALPHABET) for _ in range(5))  # noqa: S311


def stamp_new(obj: dict[str, Any], rt: ResourceType, namespace: str | None) -> dict[str, Any]:
    """Fill in the metadata of an object being created; 400 if it names another namespace."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = obj["metadata"] = {}
    if rt.namespaced:
        given = metadata.get("namespace")
        if given and namespace and given != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                                              "match the namespace sent on the request")
        metadata["namespace"] = namespace or given or "default"
    else:
        metadata.pop("namespace", None)
    if not metadata.get("name") and metadata.get("generateName"):
        metadata["name"] = generated_name(str(metadata["generateName"]))
    for system_field in (*_SYSTEM_FIELDS, "resourceVersion", "selfLink"):
        metadata.pop(system_field, None)
    metadata["uid"] = str(uuid.uuid4())
    metadata["creationTimestamp"] = now()
    if rt.group or rt.kind in ("Pod", "Service"):
        metadata["generation"] = 1
    return obj


def carry_over(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Keep the fields only the server sets; a client's copy of them is ignored."""
    new_metadata = new.setdefault("metadata", {})
    for system_field in _SYSTEM_FIELDS:
        if system_field in old["metadata"]:
            new_metadata[system_field] = old["metadata"][system_field]
        else:
            new_metadata.pop(system_field, None)
    new_metadata["name"] = old["metadata"]["name"]
    if "namespace" in old["metadata"]:
        new_metadata["namespace"] = old["metadata"]["namespace"]


def spec_changed(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a write changes what ``generation`` counts: everything but metadata, and status
    too for kinds without a status subresource."""
    ignored = {"apiVersion", "kind", "metadata", "status"} if rt.status else {
        "apiVersion", "kind", "metadata"}
    return any(old.get(k) != new.get(k) for k in (set(old) | set(new)) - ignored)
