"""The in-memory object store behind the API server, usable in-process by the lab's controllers.

Every write gets the next value of one cluster-wide resourceVersion and is published, in that
order, to every subscription. Objects come back as copies in the storage version (``v2`` for
cilium.io; ``v2alpha1`` when the store plays Cilium 1.16/1.17, see ``cilium_release``);
``resource`` is any name the store's catalog knows (``"services"``, ``"Pod"``, ``"ippool"``,
``"ciliumbgpnodeconfigs.cilium.io"``) or a ``ResourceType`` (taken by its name).

    store = Store()                                   # or Store(cilium=cilium_release("1.17"))
    with store.watch("services") as events:          # ADDED for what exists, then live
        for event in events:                          # blocks; event.type/.object/.old
            service = event.object                    # shared: read-only
            if event.type != "DELETED" and needs_ip(service):
                store.patch("services", event.name, {"status": {"loadBalancer": {
                    "ingress": [{"ip": "172.16.1.1"}]}}}, event.namespace, status=True)

Writes raise ``ApiError`` (NotFound, AlreadyExists, Conflict, Invalid…) exactly as the HTTP API
answers them. ``update`` and ``patch`` ignore ``status`` on kinds with a status subresource;
``update_status`` / ``patch(..., status=True)`` take only ``status``. A write that changes
nothing is not stored and publishes nothing, so controllers may write unconditionally.
``delete`` of a Pod on a node only starts its grace period (MODIFIED, Terminating); the node
agent removes it with ``delete(..., grace_period_seconds=0)``.
``subscribe(callback)`` is the low-level form: the callback runs under the store's lock and
must only hand the event on (a callback may write to the store; its events are delivered after
the current one)."""

from __future__ import annotations

import builtins
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from . import patching
from .admission import Admission
from .cilium_release import CiliumRelease, cilium_release
from .conversion import clone, convert, copied, version_of
from .discovery import custom_resource_definitions
from .errors import ApiError
from .graceful import deletion_marks, finalized
from .namespaces import INITIAL_NAMESPACES, Namespaces
from .objectmeta import carry_over, spec_changed, stamp_new
from .patching import patched_object, record_manager, unsupported_patch
from .replay import start_subscription
from .resources import ResourceType
from .selectors import object_filter, parse_field_selector, parse_label_selector
from .watch import Subscription, WatchEvent, everything

Resource = str | ResourceType
Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped kinds


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.plural}{"." + rt.group if rt.group else ""} "{name}" '
                    "not found", details={"name": name, "group": rt.group, "kind": rt.plural})


def conflict(rt: ResourceType, name: str, why: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.plural}'
                    f'{"." + rt.group if rt.group else ""} "{name}": {why}',
                    details={"name": name, "group": rt.group, "kind": rt.plural})


class Store:
    """Objects by type and (namespace, name), a bounded event log for watch resumption, and the
    subscriptions that receive each change. ``cilium`` is the release whose cilium.io API it
    serves (default: the newest the lab plays)."""

    def __init__(self, event_log_size: int = 4096, *, cilium: CiliumRelease | None = None,
                 ) -> None:
        self.lock = threading.RLock()
        self.cilium = cilium or cilium_release()
        self.types = self.cilium.catalog
        self.admission = Admission(self.cilium.specs)
        self._objects: dict[str, dict[Key, dict[str, Any]]] = {}
        self._revision = 0
        self._log: deque[WatchEvent] = deque(maxlen=event_log_size)
        self._log_floor = 0  # events at or below this resourceVersion are no longer replayable
        self._subscribers: list[Callable[[WatchEvent], None]] = []
        self._pending: deque[WatchEvent] = deque()
        self._publishing = False
        self.namespaces = Namespaces(self)
        for name in INITIAL_NAMESPACES:
            self.create("namespaces", {"metadata": {"name": name}})
        for definition in custom_resource_definitions(self.types, self.cilium.specs):
            self.create("customresourcedefinitions", definition)

    def type_of(self, resource: Resource) -> ResourceType:
        """This store's type for ``resource`` (a name, or a type of any catalog)."""
        return self.types.resolve(resource)

    @property
    def resource_version(self) -> int:
        return self._revision

    @property
    def oldest_replayable(self) -> int:
        """Watches may resume from this resourceVersion or later; older ones get 410 Expired."""
        return self._log_floor

    def objects(self, rt: ResourceType) -> dict[Key, dict[str, Any]]:
        """The live table of one type (shared objects; callers hold ``lock`` and don't mutate)."""
        return self._objects.setdefault(rt.key, {})

    def _key(self, rt: ResourceType, name: str, namespace: str | None) -> Key:
        return ((namespace or "default") if rt.namespaced else "", name)

    def _current(self, rt: ResourceType, name: str, namespace: str | None) -> dict[str, Any]:
        found = self.objects(rt).get(self._key(rt, name, namespace))
        if found is None:
            raise not_found(rt, name)
        return found

    # Reads

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        rt = self.type_of(resource)
        with self.lock:
            found: dict[str, Any] = clone(self._current(rt, name, namespace))
        return found

    def find(self, resource: Resource, name: str, namespace: str | None = None,
             ) -> dict[str, Any] | None:
        """Like ``get`` but None when absent."""
        try:
            return self.get(resource, name, namespace)
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def snapshot(self, rt: ResourceType, namespace: str | None,
                 accepts: Callable[[dict[str, Any]], bool] = everything,
                 ) -> tuple[list[dict[str, Any]], int]:
        """Matching objects in key order (shared, read-only) and the resourceVersion they are at."""
        with self.lock:
            table = self.objects(rt)
            keys = sorted(k for k in table if not namespace or k[0] == namespace)
            return [table[k] for k in keys if accepts(table[k])], self._revision

    def list(self, resource: Resource, namespace: str | None = None, label_selector: str = "",
             field_selector: str = "") -> list[dict[str, Any]]:
        rt = self.type_of(resource)
        accepts = object_filter(parse_label_selector(label_selector),
                                parse_field_selector(field_selector, rt.kind))
        items, _ = self.snapshot(rt, namespace, accepts)
        return [clone(item) for item in items]

    # Writes

    def _publish(self, event: WatchEvent) -> None:
        if len(self._log) == self._log.maxlen:
            self._log_floor = self._log[0].resource_version
        self._log.append(event)
        self._pending.append(event)
        if self._publishing:
            return  # a subscriber wrote from its callback: deliver after the current event
        self._publishing = True
        try:
            while self._pending:
                pending = self._pending.popleft()
                for subscriber in list(self._subscribers):
                    subscriber(pending)
        finally:
            self._publishing = False

    def commit(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
                event_type: str) -> dict[str, Any]:
        self._revision += 1
        obj["metadata"]["resourceVersion"] = str(self._revision)
        key = self._key(rt, obj["metadata"]["name"], obj["metadata"].get("namespace"))
        if event_type == "DELETED":
            self.objects(rt).pop(key, None)
            self.admission.removed(rt, obj)
        else:
            self.objects(rt)[key] = obj
        self._publish(WatchEvent(event_type, rt, obj, old, self._revision))
        return obj

    def create(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None,
               ) -> dict[str, Any]:
        rt = self.type_of(resource)
        if obj.get("kind") not in (None, rt.kind):
            raise ApiError(400, "BadRequest", f"the kind of the object ({obj.get('kind')}) does "
                                              f"not match the requested kind ({rt.kind})")
        version = version_of(obj, rt)
        new = stamp_new(clone(obj), rt, namespace)
        if rt.status and not rt.keeps_status_on_create:
            new.pop("status", None)
        with self.lock:
            name = new["metadata"].get("name") or ""
            if rt.namespaced:
                self.namespaces.check_writable(new["metadata"]["namespace"])
            self.admission.admit(rt, new, None, version)
            if self._key(rt, name, new["metadata"].get("namespace")) in self.objects(rt):
                qualified = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
                raise ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists',
                               details={"name": name, "group": rt.group, "kind": rt.plural})
            stored = convert(new, rt, rt.storage_version)
            return copied(self.commit(rt, stored, None, "ADDED"))

    def _replace(self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any], version: str,
                 admit: bool = True) -> dict[str, Any]:
        """Store ``new`` in place of ``old`` (both already in ``version``) if anything changed."""
        given = str(new.get("metadata", {}).get("resourceVersion") or "")
        name = old["metadata"]["name"]
        if given and given != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name, "the object has been modified; please apply your changes "
                                     "to the latest version and try again")
        carry_over(old, new)
        new["apiVersion"], new["kind"] = rt.api_version(version), rt.kind
        if admit:
            self.admission.admit(rt, new, old, version)
        if "generation" in old["metadata"] and spec_changed(rt, old, new):
            new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        stored = convert(new, rt, rt.storage_version)
        stored["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        current = self._current(rt, name, old["metadata"].get("namespace"))
        if stored == current:
            return copied(current)
        if finalized(stored):
            self._remove(rt, stored)
            return copied(stored)
        return copied(self.commit(rt, stored, current, "MODIFIED"))

    def _old_in(self, rt: ResourceType, name: str, namespace: str | None, version: str,
                ) -> dict[str, Any]:
        return copied(convert(self._current(rt, name, namespace), rt, version))

    def update(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None,
               ) -> dict[str, Any]:
        """PUT: replace the object (409 if its resourceVersion is stale); status is kept."""
        rt = self.type_of(resource)
        version = version_of(obj, rt)
        name = str((obj.get("metadata") or {}).get("name") or "")
        with self.lock:
            old = self._old_in(rt, name, namespace, version)
            new = clone(obj)
            if rt.status:
                new["status"] = clone(old.get("status"))
                if new["status"] is None:
                    new.pop("status")
            return self._replace(rt, new, old, version)

    def update_status(self, resource: Resource, obj: dict[str, Any],
                      namespace: str | None = None) -> dict[str, Any]:
        """PUT on ``/status``: only ``status`` is taken from ``obj``."""
        rt = self.type_of(resource)
        version = version_of(obj, rt)
        name = str((obj.get("metadata") or {}).get("name") or "")
        with self.lock:
            old = self._old_in(rt, name, namespace, version)
            new = clone(old)
            new["status"] = clone(obj.get("status"))
            new["metadata"]["resourceVersion"] = (obj.get("metadata") or {}).get("resourceVersion")
            return self._replace(rt, new, old, version, admit=rt.group != "")

    def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None, *,
              patch_type: str = patching.MERGE_PATCH, status: bool = False,
              version: str | None = None, field_manager: str | None = None,
              ) -> dict[str, Any]:
        """PATCH with any of ``patching.PATCH_TYPES`` (merge patch by default); apply patches
        create the object when it is absent. ``version`` is the version the patch is written
        against (the storage version by default)."""
        rt = self.type_of(resource)
        served = version or rt.storage_version
        if patch_type == patching.STRATEGIC_MERGE_PATCH and not rt.builtin:
            raise unsupported_patch(rt)
        with self.lock:
            if patch_type == patching.APPLY_PATCH:
                existing = self.objects(rt).get(self._key(rt, name, namespace))
                if existing is None and not status:
                    return self._apply_create(rt, name, patch, namespace, field_manager)
            old = self._old_in(rt, name, namespace, served)
            patched = patched_object(rt.builtin, old, patch, patch_type)
            if patched.get("metadata", {}).get("name", name) != name:
                raise ApiError(400, "BadRequest", "metadata.name: Invalid value: the name in the "
                                                  "patch does not match the name on the URL")
            if patch_type == patching.APPLY_PATCH:
                record_manager(patched, field_manager, rt.api_version(served))
            new = clone(old) if status else patched
            if status:
                new["status"] = patched.get("status")
            elif rt.status:
                new["status"] = old.get("status")
            if new.get("status") is None:
                new.pop("status", None)
            if not patched.get("metadata", {}).get("resourceVersion"):
                new["metadata"].pop("resourceVersion", None)
            return self._replace(rt, new, old, served, admit=not status or rt.group != "")

    def _apply_create(self, rt: ResourceType, name: str, applied: Any, namespace: str | None,
                      field_manager: str | None) -> dict[str, Any]:
        if not isinstance(applied, dict):
            raise ApiError(400, "BadRequest", "apply patch must be an object")
        obj = clone(applied)
        obj.setdefault("metadata", {})["name"] = name
        record_manager(obj, field_manager, rt.api_version(version_of(obj, rt)))
        return self.create(rt, obj, namespace)

    def delete(self, resource: Resource, name: str, namespace: str | None = None, *,
               uid: str | None = None, resource_version: str | None = None,
               orphan: bool = False, grace_period_seconds: int | None = None,
               ) -> tuple[dict[str, Any], bool]:
        """Delete; returns the object and whether it is gone. It stays, with its
        deletionTimestamp set, while finalizers remain or, for a Pod on a node, until the grace
        period (``grace_period_seconds``, else its terminationGracePeriodSeconds) is cut to 0 by
        another delete, which its node agent sends once the Pod stopped (see ``graceful``).
        ``uid``/``resource_version`` are preconditions."""
        rt = self.type_of(resource)
        with self.lock:
            current = self._current(rt, name, namespace)
            metadata = current["metadata"]
            for label, wanted, seen in (("UID", uid, metadata["uid"]),
                                        ("ResourceVersion", resource_version,
                                         metadata["resourceVersion"])):
                if wanted and wanted != seen:
                    raise conflict(rt, name, f"Precondition failed: {label} in precondition: "
                                             f"{wanted}, {label} in object meta: {seen}")
            if rt.kind == "Namespace":
                return self.namespaces.delete(current)
            marks = deletion_marks(rt, current, grace_period_seconds)
            if marks is None:
                return copied(current), False
            deadline, grace = marks
            if grace == 0 and not metadata.get("finalizers"):
                self._remove(rt, clone(current), orphan)
                return copied(current), True
            marked = clone(current)
            marked["metadata"]["deletionTimestamp"] = deadline
            marked["metadata"]["deletionGracePeriodSeconds"] = grace
            return copied(self.commit(rt, marked, current, "MODIFIED")), False

    def _remove(self, rt: ResourceType, obj: dict[str, Any], orphan: bool = False) -> None:
        self.commit(rt, obj, None, "DELETED")
        if not orphan:
            self._collect_dependents(obj["metadata"]["uid"])
        if rt.namespaced:
            self.namespaces.maybe_finish(obj["metadata"]["namespace"])

    def _collect_dependents(self, owner_uid: str) -> None:
        # Background cascading deletion: objects owned by the removed one go too.
        for type_key, table in list(self._objects.items()):
            for obj in list(table.values()):
                references = obj["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == owner_uid for ref in references):
                    rt = self.type_of(type_key)
                    metadata = obj["metadata"]
                    if self._key(rt, metadata["name"], metadata.get("namespace")) in table:
                        # No grace passed on: like the garbage collector, each dependent
                        # gets its own (a Pod its terminationGracePeriodSeconds).
                        self.delete(rt, metadata["name"], metadata.get("namespace"))

    def delete_all(self, rt: ResourceType, items: Iterable[dict[str, Any]], *,
                   grace_period_seconds: int | None = None) -> builtins.list[dict[str, Any]]:
        """Delete each of ``items`` (deletecollection); returns their last states."""
        with self.lock:
            return [self.delete(rt, item["metadata"]["name"], item["metadata"].get("namespace"),
                                grace_period_seconds=grace_period_seconds)[0]
                    for item in list(items)]

    # Subscriptions

    def subscribe(self, callback: Callable[[WatchEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with every event from now on; returns the unsubscribe function."""
        with self.lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return unsubscribe

    def watch(self, resource: Resource | None = None, namespace: str | None = None, *,
              resource_version: str | None = None, label_selector: str = "",
              field_selector: str = "") -> Subscription:
        """A subscription to one type (or all with None). Without ``resource_version`` (or
        "0") it starts with ADDED for every existing object; with one, it replays the changes
        after it (410 Expired when the log no longer reaches back that far)."""
        rt = self.type_of(resource) if resource is not None else None
        accepts = object_filter(parse_label_selector(label_selector),
                                parse_field_selector(field_selector, rt.kind if rt else ""))
        return start_subscription(self, rt, namespace, accepts, resource_version)

    def log_since(self, revision: int) -> builtins.list[WatchEvent]:
        """Logged events after ``revision`` (caller holds ``lock`` and checked the floor)."""
        return [event for event in self._log if event.resource_version > revision]

    def add_subscription(self, subscription: Subscription) -> None:
        self._subscribers.append(subscription.offer)

    def drop_subscription(self, subscription: Subscription) -> None:
        with self.lock:
            if subscription.offer in self._subscribers:
                self._subscribers.remove(subscription.offer)
