"""Label and field selectors on lists."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from .conftest import Api


@pytest.fixture
def labelled(api: Api) -> Api:
    for name, labels in (("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}),
                         ("c", {"tier": "web", "canary": "yes"}), ("d", {})):
        api.core.create_namespaced_config_map("default", {"metadata": {"name": name,
                                                                       "labels": labels}})
    return api


@pytest.mark.parametrize(("selector", "expected"), [
    ("tier=web", "ac"), ("tier==web", "ac"), ("tier!=web", "bd"), ("tier in (db, web)", "abc"),
    ("tier notin (web)", "bd"), ("canary", "c"), ("!canary", "abd"), ("tier=web,!canary", "a"),
    ("", "abcd"),
], ids=lambda value: value if isinstance(value, str) and value else "all")
def test_label_selectors(labelled: Api, selector: str, expected: str) -> None:
    items = labelled.core.list_namespaced_config_map("default", label_selector=selector).items
    assert "".join(c.metadata.name for c in items) == expected


def test_field_selectors(labelled: Api) -> None:
    by_name = labelled.core.list_config_map_for_all_namespaces(field_selector="metadata.name=b")
    assert [c.metadata.name for c in by_name.items] == ["b"]
    not_default = labelled.core.list_config_map_for_all_namespaces(
        field_selector="metadata.namespace!=default")
    assert not_default.items == []


def test_pod_field_selectors(api: Api) -> None:
    for name, node in (("p1", "k8s-w0"), ("p2", "k8s-w1")):
        api.core.create_namespaced_pod("default", {"metadata": {"name": name}, "spec": {
            "nodeName": node, "containers": [{"name": "c", "image": "whoami"}]}})
    on_w1 = api.core.list_pod_for_all_namespaces(field_selector="spec.nodeName=k8s-w1")
    assert [p.metadata.name for p in on_w1.items] == ["p2"]
    pending = api.core.list_namespaced_pod("default", field_selector="status.phase=Pending")
    assert len(pending.items) == 2


def test_unsupported_field_selector_is_bad_request(api: Api) -> None:
    with pytest.raises(ApiException) as caught:
        api.core.list_namespaced_config_map("default", field_selector="data.a=1")
    assert caught.value.status == 400
