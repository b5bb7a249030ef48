"""Starting a watch: the events a new subscription begins with (synthetic ADDED for the current
state, or a replay of the event log after a resourceVersion) are queued and the subscription
registered under the store's lock, so nothing falls between the initial state and live events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ApiError
from .resources import ResourceType
from .watch import Filter, Subscription, WatchEvent

if TYPE_CHECKING:
    from .store import Store


def parse_resource_version(text: str | None) -> int | None:
    """None for "start from the current state" (absent, empty or "0"); 400 if not a number."""
    if text in (None, "", "0"):
        return None
    try:
        return int(str(text))
    except ValueError as error:
        raise ApiError(400, "BadRequest", f"invalid resource version: {text}") from error


def expired(revision: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {revision} ({oldest})")


def start_subscription(
    store: Store, rt: ResourceType | None, namespace: str | None, accepts: Filter,
    resource_version: str | None,
) -> Subscription:
    since = parse_resource_version(resource_version)
    subscription = Subscription(rt, namespace, accepts, store.drop_subscription)
    with store.lock:
        if since is None:
            types = [rt] if rt is not None else []
            for current_type in types:
                items, revision = store.snapshot(current_type, namespace, accepts)
                for item in items:
                    subscription.offer(WatchEvent("ADDED", current_type, item, None, revision))
        else:
            if since < store.oldest_replayable:
                raise expired(since, store.oldest_replayable)
            for event in store.log_since(since):
                subscription.offer(event)
        store.add_subscription(subscription)
    return subscription
