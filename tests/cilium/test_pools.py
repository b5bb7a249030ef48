"""Pool blocks, reserved addresses, counters, disabled pools and overlapping pools."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.emulator.cilium.lbipam import LbIpam
from pytest_ciliumbgp.emulator.cilium.lbipam_pools import Pool, conflicting_pools
from pytest_ciliumbgp.emulator.kubeapi.store import Store

from .conftest import add_pool, add_service, counters, ingress, pool_conditions, reason


@pytest.mark.parametrize(("allow", "total"), [("Yes", 256), ("No", 254), (None, 256)],
                         ids=["allowFirstLastIPs=Yes", "allowFirstLastIPs=No", "unset"])
def test_counters_of_a_slash_24(store: Store, ipam: LbIpam, allow: str | None,
                                total: int) -> None:
    spec = {"allowFirstLastIPs": allow} if allow else {}
    add_pool(store, "pool", **spec)
    add_service(store, "web")
    ipam.reconcile()
    assert counters(store, "pool") == (total, total - 1, 1)
    expected_first = "172.16.1.0" if total == 256 else "172.16.1.1"
    assert ingress(store, "web") == [expected_first]


def test_counter_conditions_have_status_unknown(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    ipam.reconcile()
    found = pool_conditions(store, "pool")
    assert {found[k]["status"] for k in ("cilium.io/IPsTotal", "cilium.io/IPsAvailable",
                                         "cilium.io/IPsUsed")} == {"Unknown"}
    assert found["cilium.io/PoolConflict"]["status"] == "False"


def test_no_reserves_nothing_in_start_stop_blocks_and_small_cidrs(store: Store,
                                                                    ipam: LbIpam) -> None:
    add_pool(store, "pool", {"start": "10.0.0.10", "stop": "10.0.0.19"}, {"cidr": "10.0.1.0/31"},
             {"cidr": "10.0.2.0/30"}, allowFirstLastIPs="No")
    add_service(store, "web")
    ipam.reconcile()
    assert counters(store, "pool") == (10 + 2 + 2, 13, 1)
    assert ingress(store, "web") == ["10.0.0.10"]


def test_start_without_stop_is_one_address(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool", {"start": "10.0.0.7"})
    for name in ("one", "two"):
        add_service(store, name)
        ipam.reconcile()
    assert counters(store, "pool") == (1, 0, 1)
    assert ingress(store, "one") == ["10.0.0.7"]
    assert reason(store, "two") == "out_of_ips"


def test_shared_address_counts_once(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool", {"cidr": "10.0.0.0/29"})
    key = {"lbipam.cilium.io/sharing-key": "k"}
    add_service(store, "http", annotations=key, ports=(80,))
    add_service(store, "https", annotations=key, ports=(443,))
    ipam.reconcile()
    assert ingress(store, "http") == ingress(store, "https") == ["10.0.0.0"]
    assert counters(store, "pool") == (8, 7, 1)


def test_newer_overlapping_pool_is_conflicting_and_allocates_nothing(store: Store,
                                                                      ipam: LbIpam) -> None:
    add_pool(store, "first", {"cidr": "10.0.0.0/24"},
             serviceSelector={"matchLabels": {"pool": "first"}})
    add_pool(store, "second", {"cidr": "10.0.0.128/25"})
    add_service(store, "web")
    ipam.reconcile()
    second, first = pool_conditions(store, "second"), pool_conditions(store, "first")
    assert second["cilium.io/PoolConflict"]["status"] == "True"
    assert second["cilium.io/PoolConflict"]["reason"] == "cidr_overlap"
    assert first["cilium.io/PoolConflict"]["status"] == "False"
    assert ingress(store, "web") == []
    assert reason(store, "web") == "no_pool"


def test_conflict_is_resolved_when_the_older_pool_goes(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "first", {"cidr": "10.0.0.0/24"})
    add_pool(store, "second", {"cidr": "10.0.0.0/24"})
    ipam.reconcile()
    store.delete("ciliumloadbalancerippools", "first")
    ipam.reconcile()
    assert pool_conditions(store, "second")["cilium.io/PoolConflict"]["status"] == "False"


def test_conflict_order_is_creation_time_then_name() -> None:
    def pool(name: str, created: str) -> Pool:
        return Pool.from_object({"metadata": {"name": name, "creationTimestamp": created},
                                 "spec": {"blocks": [{"cidr": "10.0.0.0/24"}]}})
    assert conflicting_pools([pool("a", "2025-01-02T00:00:00Z"),
                              pool("b", "2025-01-01T00:00:00Z")]) == {"a"}
    assert conflicting_pools([pool("b", "2025-01-01T00:00:00Z"),
                              pool("a", "2025-01-01T00:00:00Z")]) == {"b"}


def test_disabled_pool_keeps_existing_but_allocates_no_more(store: Store, ipam: LbIpam) -> None:
    add_pool(store, "pool")
    add_service(store, "first")
    ipam.reconcile()
    store.patch("ciliumloadbalancerippools", "pool", {"spec": {"disabled": True}})
    add_service(store, "second")
    ipam.reconcile()
    assert ingress(store, "first") == ["172.16.1.0"]
    assert ingress(store, "second") == []
    assert reason(store, "second") == "no_pool"
    assert counters(store, "pool") == (256, 255, 1)
