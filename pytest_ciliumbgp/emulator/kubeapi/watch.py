"""Watch events and subscriptions. A ``Subscription`` is a queue of the events one watcher
asked for: the initial state (synthetic ADDED, or a replay from the store's event log after a
given resourceVersion), then every live change, with objects that start or stop matching its
selectors turned into ADDED / DELETED the way the apiserver's watch cache does."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .resources import ResourceType

Filter = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class WatchEvent:
    """One change: ``type`` is ADDED, MODIFIED or DELETED; ``object`` the state after it (the
    last state for DELETED) and ``old`` the state before a MODIFIED. Objects are shared by every
    subscriber: treat them as read-only (``clone`` them before changing)."""

    type: str
    resource: ResourceType
    object: dict[str, Any]
    old: dict[str, Any] | None
    resource_version: int

    @property
    def name(self) -> str:
        return str(self.object["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.object["metadata"].get("namespace") or "")


def everything(obj: Mapping[str, Any]) -> bool:
    return True


def as_seen_through(event: WatchEvent, accepts: Filter) -> WatchEvent | None:
    """The event a watcher with this filter sees, or None: a MODIFIED that moves an object into
    the filter is an ADDED for it, one that moves it out a DELETED."""
    now = accepts(event.object)
    if event.type != "MODIFIED":
        return event if now else None
    before = event.old is not None and accepts(event.old)
    if now and before:
        return event
    if now:
        return WatchEvent("ADDED", event.resource, event.object, None, event.resource_version)
    if before:
        return WatchEvent("DELETED", event.resource, event.object, None, event.resource_version)
    return None


class Subscription:
    """Events for one watcher, in resourceVersion order. Iterate it (blocks) or call ``next``
    with a timeout; ``close`` stops delivery. Created by ``Store.watch``."""

    def __init__(
        self, resource: ResourceType | None, namespace: str | None, accepts: Filter,
        on_close: Callable[[Subscription], None],
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.accepts = accepts
        self._queue: queue.SimpleQueue[WatchEvent | None] = queue.SimpleQueue()
        self._on_close = on_close
        self.closed = False

    def wants(self, event: WatchEvent) -> WatchEvent | None:
        if self.resource is not None and event.resource.key != self.resource.key:
            return None
        if self.namespace and event.namespace != self.namespace:
            return None
        return as_seen_through(event, self.accepts)

    def offer(self, event: WatchEvent) -> None:
        """Called by the store, in order, for every change (the store holds its lock)."""
        seen = self.wants(event)
        if seen is not None:
            self._queue.put(seen)

    def next(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, or None after ``timeout`` seconds or once closed."""
        if self.closed:
            return None
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def empty(self) -> bool:
        """Whether every event offered so far has been taken (meaningful under the store lock)."""
        return self._queue.empty()

    def __iter__(self) -> Iterator[WatchEvent]:
        while (event := self.next()) is not None:
            yield event

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._on_close(self)
            self._queue.put(None)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
