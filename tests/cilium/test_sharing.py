"""Sharing one address between Services with the same sharing key."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ciliumbgp.emulator.cilium.lbipam import LbIpam
from pytest_ciliumbgp.emulator.kubeapi.store import Store

from .conftest import add_pool, add_service, ingress, reason

KEY = "lbipam.cilium.io/sharing-key"
IPS = "lbipam.cilium.io/ips"


def shared(**extra: str) -> dict[str, str]:
    return {KEY: "web", IPS: "172.16.1.10", **extra}


@pytest.mark.parametrize(("second", "expected"), [
    ({"annotations": shared(), "ports": (443,)}, "satisfied"),
    ({"annotations": shared(), "ports": (80,)}, "already_allocated_incompatible_service"),
    ({"annotations": shared(), "ports": (443,), "externalTrafficPolicy": "Local"},
     "already_allocated_incompatible_service"),
    ({"annotations": {IPS: "172.16.1.10"}, "ports": (443,)}, "already_allocated"),
    ({"annotations": shared(**{KEY: "other"}), "ports": (443,)}, "already_allocated"),
], ids=["other-port", "same-port", "other-etp", "no-key", "other-key"])
def test_requested_shared_address(store: Store, ipam: LbIpam, second: dict[str, Any],
                                  expected: str) -> None:
    add_pool(store, "pool")
    add_service(store, "http", annotations=shared(), ports=(80,))
    add_service(store, "second", **second)
    ipam.reconcile()
    assert reason(store, "second") == expected
    assert (ingress(store, "second") == ["172.16.1.10"]) is (expected == "satisfied")
    assert ingress(store, "http") == ["172.16.1.10"]


@pytest.mark.parametrize(("selector", "expected"), [
    ({"app": "web"}, "satisfied"), ({"app": "other"}, "already_allocated_incompatible_service"),
], ids=["same-selector", "other-selector"])
def test_local_services_share_only_with_the_same_selector(
        store: Store, ipam: LbIpam, selector: dict[str, str], expected: str) -> None:
    add_pool(store, "pool")
    add_service(store, "http", annotations=shared(), ports=(80,),
                externalTrafficPolicy="Local", selector={"app": "web"})
    add_service(store, "https", annotations=shared(), ports=(443,),
                externalTrafficPolicy="Local", selector=selector)
    ipam.reconcile()
    assert reason(store, "https") == expected


def test_key_without_requested_address_joins_the_group(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    for name, port in (("http", 80), ("https", 443), ("again", 80)):
        add_service(store, name, annotations={KEY: "web"}, ports=(port,))
        ipam.reconcile()
    assert ingress(store, "http") == ingress(store, "https") == ["172.16.1.0"]
    assert ingress(store, "again") == ["172.16.1.1"]


@pytest.mark.parametrize(("cross", "expected"), [
    ("*", "satisfied"), ("default", "satisfied"), ("", "already_allocated_incompatible_service"),
], ids=["wildcard", "named", "none"])
def test_cross_namespace_sharing(store: Store, ipam: LbIpam, cross: str, expected: str) -> None:
    store.create("namespaces", {"metadata": {"name": "team"}})
    cross_annotation = {"lbipam.cilium.io/sharing-cross-namespace": cross} if cross else {}
    add_pool(store, "pool")
    add_service(store, "http", annotations=shared(
        **{"lbipam.cilium.io/sharing-cross-namespace": "team"}), ports=(80,))
    add_service(store, "https", "team", annotations=shared(**cross_annotation), ports=(443,))
    ipam.reconcile()
    assert reason(store, "https", "team") == expected
