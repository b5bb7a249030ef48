"""Namespace lifecycle: the four namespaces every cluster starts with, refusing writes into a
namespace that is missing (404) or terminating (403), and deleting a namespace by deleting
everything in it first — the namespace goes once its last object is gone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .conversion import clone
from .errors import ApiError
from .objectmeta import now

if TYPE_CHECKING:
    from .store import Store

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_UNDELETABLE = ("default", "kube-system", "kube-public")


class Namespaces:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._type = store.types.resolve("namespaces")

    def _find(self, name: str) -> dict[str, Any] | None:
        return self._store.objects(self._type).get(("", name))

    def check_writable(self, name: str) -> None:
        namespace = self._find(name)
        if namespace is None:
            raise ApiError(404, "NotFound", f'namespaces "{name}" not found',
                           details={"name": name, "kind": "namespaces"})
        if namespace["metadata"].get("deletionTimestamp"):
            raise ApiError(403, "Forbidden", f"unable to create new content in namespace {name} "
                                             "because it is being terminated",
                           details={"name": name, "kind": "namespaces"})

    def delete(self, namespace: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        name = namespace["metadata"]["name"]
        if name in _UNDELETABLE:
            raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace '
                                             "may not be deleted",
                           details={"name": name, "kind": "namespaces"})
        store = self._store
        if not namespace["metadata"].get("deletionTimestamp"):
            terminating = clone(namespace)
            terminating["metadata"]["deletionTimestamp"] = now()
            terminating["status"] = {"phase": "Terminating"}
            store.commit(self._type, terminating, namespace, "MODIFIED")
        for rt in store.types.types:
            if rt.namespaced:
                contents = [obj for (ns, _), obj in store.objects(rt).items() if ns == name]
                store.delete_all(rt, contents)
        removed = self.maybe_finish(name)
        last = self._find(name)
        return clone(last if last is not None else namespace), removed

    def maybe_finish(self, name: str) -> bool:
        """Remove a terminating namespace once it is empty; True when it is gone."""
        namespace = self._find(name)
        if namespace is None:
            return True
        if not namespace["metadata"].get("deletionTimestamp"):
            return False
        if namespace["metadata"].get("finalizers"):
            return False
        if any(ns == name for rt in self._store.types.types if rt.namespaced
               for (ns, _) in self._store.objects(rt)):
            return False
        self._store.commit(self._type, clone(namespace), None, "DELETED")
        return True
