"""Which pool serves a Service, requested addresses, and the reasons when none can be given."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ciliumbgp.emulator.cilium.lbipam import LbIpam
from pytest_ciliumbgp.emulator.kubeapi.store import Store

from .conftest import add_pool, add_service, ingress, reason, request_condition


def test_lowest_free_address_of_first_pool_by_name(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "b-pool", {"cidr": "10.0.2.0/24"})
    add_pool(store, "a-pool", {"cidr": "10.0.1.0/30"})
    for name in ("one", "two", "three", "four", "five"):
        add_service(store, name)
        ipam.reconcile()
    assert [ingress(store, n)[0] for n in ("one", "two", "three", "four", "five")] == [
        "10.0.1.0", "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.2.0"]
    found = request_condition(store, "one")
    assert found is not None
    assert (found["status"], found["reason"]) == ("True", "satisfied")


@pytest.mark.parametrize(("selector", "selected"), [
    ({"matchLabels": {"color": "blue"}}, True),
    ({"matchLabels": {"color": "red"}}, False),
    ({"matchExpressions": [{"key": "color", "operator": "In", "values": ["blue", "x"]}]}, True),
    ({"matchExpressions": [{"key": "color", "operator": "NotIn", "values": ["blue"]}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, True),
    ({"matchLabels": {"io.kubernetes.service.name": "web"}}, True),
    ({"matchLabels": {"io.kubernetes.service.namespace": "default"}}, True),
    ({"matchLabels": {"io.kubernetes.service.namespace": "other"}}, False),
    ({}, True),
], ids=["labels", "labels-miss", "in", "notin", "doesnotexist", "pseudo-name",
        "pseudo-namespace", "pseudo-namespace-miss", "empty"])
def test_service_selector(store: Store, ipam: LbIpam, selector: dict[str, Any],
                          selected: bool) -> None:
    add_pool(store, "pool", serviceSelector=selector)
    add_service(store, "web", labels={"color": "blue"})
    ipam.reconcile()
    assert (ingress(store, "web") == ["172.16.1.0"]) is selected
    assert reason(store, "web") == ("satisfied" if selected else "no_pool")


def test_no_pool_at_all(store: Store, ipam: LbIpam) -> None:
    add_service(store, "web")
    ipam.reconcile()
    found = request_condition(store, "web")
    assert found is not None
    assert (found["status"], found["reason"]) == ("False", "no_pool")


def test_out_of_ips(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool", {"cidr": "10.0.0.0/31"})
    for name in ("one", "two", "three"):
        add_service(store, name)
        ipam.reconcile()
    assert reason(store, "three") == "out_of_ips"
    assert ingress(store, "three") == []


@pytest.mark.parametrize("how", ["annotation", "alias", "loadBalancerIP"])
def test_requested_address_is_honoured(store: Store, ipam: LbIpam, how: str) -> None:
    add_pool(store, "pool")
    if how == "loadBalancerIP":
        add_service(store, "web", loadBalancerIP="172.16.1.77")
    else:
        key = "lbipam.cilium.io/ips" if how == "annotation" else "io.cilium/lb-ipam-ips"
        add_service(store, "web", annotations={key: "172.16.1.77"})
    ipam.reconcile()
    assert ingress(store, "web") == ["172.16.1.77"]
    assert reason(store, "web") == "satisfied"


def test_several_requested_addresses(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_service(store, "web", annotations={"lbipam.cilium.io/ips": "172.16.1.9, 172.16.1.8"})
    ipam.reconcile()
    assert ingress(store, "web") == ["172.16.1.9", "172.16.1.8"]


def test_requested_address_outside_every_pool(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_service(store, "web", annotations={"lbipam.cilium.io/ips": "192.0.2.1"})
    ipam.reconcile()
    assert ingress(store, "web") == []
    assert reason(store, "web") == "no_pool"


def test_requested_address_in_pool_that_does_not_select(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool", serviceSelector={"matchLabels": {"team": "a"}})
    add_service(store, "web", annotations={"lbipam.cilium.io/ips": "172.16.1.5"})
    ipam.reconcile()
    assert reason(store, "web") == "pool_selector_mismatch"


def test_requested_address_already_taken(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_service(store, "first", annotations={"lbipam.cilium.io/ips": "172.16.1.5"})
    add_service(store, "second", annotations={"lbipam.cilium.io/ips": "172.16.1.5"}, ports=(81,))
    ipam.reconcile()
    assert ingress(store, "first") == ["172.16.1.5"]
    assert ingress(store, "second") == []
    assert reason(store, "second") == "already_allocated"


def test_allocation_skips_requested_addresses(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_service(store, "pinned", annotations={"lbipam.cilium.io/ips": "172.16.1.0"})
    add_service(store, "web")
    ipam.reconcile()
    assert ingress(store, "web") == ["172.16.1.1"]
