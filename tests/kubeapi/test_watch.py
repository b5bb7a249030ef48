"""Watch through ``kubernetes.watch.Watch`` and raw streams: initial state, replay, expiry,
timeouts, selector transitions, bookmarks, and ordering under concurrent writers."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import requests

from pytest_ciliumbgp.emulator.kubeapi.store import Store

from .conftest import Api, k8s


def config_map(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def stream(api: Api, path: str, seconds: float = 2) -> list[dict[str, Any]]:
    certificate = api.server.certificate
    assert certificate is not None
    response = requests.get(api.server.url + path, stream=True, timeout=seconds + 5,
                            verify=str(certificate.certificate),
                            headers={"Authorization": f"Bearer {api.token}"})
    return [json.loads(line) for line in response.iter_lines() if line]


def test_watch_starts_with_added_then_live(api: Api) -> None:
    api.core.create_namespaced_config_map("default", config_map("old"))

    def later() -> None:
        time.sleep(0.3)
        api.core.create_namespaced_config_map("default", config_map("new"))
        api.core.delete_namespaced_config_map("old", "default")

    threading.Thread(target=later).start()
    seen = [(e["type"], e["object"].metadata.name) for e in k8s.watch.Watch().stream(
        api.core.list_namespaced_config_map, "default", timeout_seconds=1)]
    assert seen == [("ADDED", "old"), ("ADDED", "new"), ("DELETED", "old")]


def test_watch_resumes_from_a_resource_version(api: Api) -> None:
    first = api.core.create_namespaced_config_map("default", config_map("a"))
    api.core.create_namespaced_config_map("default", config_map("b"))
    api.core.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    events = stream(api, "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1"
                         f"&resourceVersion={first.metadata.resource_version}")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "b"), ("MODIFIED", "a")]


def test_legacy_watch_path(api: Api) -> None:
    api.core.create_namespaced_config_map("default", config_map("a"))
    api.core.create_namespaced_config_map("default", config_map("b"))
    events = stream(api, "/api/v1/watch/namespaces/default/configmaps/b?timeoutSeconds=1")
    assert [e["object"]["metadata"]["name"] for e in events] == ["b"]


def test_too_old_resource_version_is_expired(api: Api) -> None:
    small = Store(event_log_size=5)
    api.server.store = small
    api.server.resources.store = small
    for index in range(10):
        small.create("configmaps", config_map(f"c{index}"), "default")
    events = stream(api, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=3")
    assert [e["type"] for e in events] == ["ERROR"]
    assert (events[0]["object"]["code"], events[0]["object"]["reason"]) == (410, "Expired")


def test_timeout_seconds_ends_the_stream(api: Api) -> None:
    started = time.monotonic()
    assert stream(api, "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1") == []
    assert 0.9 < time.monotonic() - started < 3


def test_objects_entering_and_leaving_a_selector(api: Api) -> None:
    api.core.create_namespaced_config_map("default", config_map("c", role="other"))

    def relabel() -> None:
        time.sleep(0.3)
        api.core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {
            "role": "lb"}}})
        api.core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
        api.core.patch_namespaced_config_map("c", "default", {"metadata": {"labels": {
            "role": "other"}}})

    threading.Thread(target=relabel).start()
    events = stream(api, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1"
                         "&labelSelector=role%3Dlb")
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_bookmarks_when_asked(api: Api) -> None:
    api.core.create_namespaced_config_map("default", config_map("a"))
    events = stream(api, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1"
                         "&allowWatchBookmarks=true")
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks
    assert bookmarks[-1]["object"]["metadata"]["resourceVersion"] == str(
        api.store.resource_version)


def test_concurrent_watchers_and_writers_lose_nothing(api: Api) -> None:
    writers, writes_each = 4, 25
    start_version = api.store.resource_version
    results: list[list[dict[str, Any]]] = [[], []]

    def watcher(slot: int) -> None:
        results[slot] = stream(api, "/api/v1/namespaces/default/configmaps?watch=1"
                                    f"&resourceVersion={start_version}&timeoutSeconds=3")

    def writer(index: int) -> None:
        for count in range(writes_each):
            api.store.create("configmaps", config_map(f"w{index}-{count}"), "default")

    watchers = [threading.Thread(target=watcher, args=(slot,)) for slot in range(2)]
    for thread in watchers:
        thread.start()
    time.sleep(0.2)
    writer_threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in writer_threads:
        thread.start()
    for thread in writer_threads + watchers:
        thread.join()
    for events in results:
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert len(versions) == writers * writes_each
        assert versions == sorted(versions)
        assert len(set(versions)) == len(versions)
