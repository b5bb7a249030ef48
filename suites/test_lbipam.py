"""LB-IPAM hands out LoadBalancer IPs from the right pool, and refuses the right requests.

A Service gets an address of the pool that selects it; a requested address of that pool is
honoured; an address in no pool is refused with ``no_pool``; of two overlapping pools the newer
is marked ``cilium.io/PoolConflict`` and serves nothing (cilium#46051); a pool's counters add up
(cilium#41536); Services of ``loadBalancerClass: io.cilium/bgp-control-plane`` are served
(cilium#26939); a disabled pool keeps what it gave and gives nothing more.
"""

from __future__ import annotations

import pytest

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Inventory
from pytest_ciliumbgp.kube import objects
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import WaitTimeout
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.scenario import LbService, Pool, Scenario
from pytest_ciliumbgp.kube.waits import (
    IPAM_REQUEST_SATISFIED,
    ServiceSeen,
    render_conditions,
    wait_until,
)
from pytest_ciliumbgp.router.node_paths import NodePaths

# LB-IPAM answers within a second in the lab; a refusal only shows once it answers at all.
IPAM_WAIT_S = 10.0
POOL_CONFLICT = "cilium.io/PoolConflict"
COUNTERS = ("cilium.io/IPsTotal", "cilium.io/IPsAvailable", "cilium.io/IPsUsed")
BGP_CONTROL_PLANE_CLASS = "io.cilium/bgp-control-plane"
# RFC 5737 documentation address: no real pool holds it.
ADDRESS_IN_NO_POOL = "192.0.2.10"


def ipam_answer(cluster: Cluster, service: LbService, why: str) -> ServiceSeen:
    """The Service's status once LB-IPAM has set its request condition (either spelling);
    fails the test, saying ``why`` LB-IPAM should have answered, when it never does."""

    def probe() -> tuple[bool, ServiceSeen]:
        found = objects.find(cluster, service.ref) or {}
        status = found.get("status") or {}
        seen = ServiceSeen(status.get("loadBalancer") or {}, status.get("conditions") or [],
                           found=bool(found))
        return request_condition(seen) is not None, seen

    try:
        return wait_until(f"LB-IPAM answers {service.ref}", probe, IPAM_WAIT_S)
    except WaitTimeout as timeout:
        last = timeout.last_state
    # Outside the except block, so the failure reads as one message, not a chained traceback.
    pytest.fail(f"{service.ref}: expected LB-IPAM to set {IPAM_REQUEST_SATISFIED[0]} within "
                f"{IPAM_WAIT_S:g} s ({why}), it has {last}", pytrace=False)


def request_condition(seen: ServiceSeen) -> dict[str, str] | None:
    return next((dict(c) for c in seen.conditions if c.get("type") in IPAM_REQUEST_SATISFIED),
                None)


def verdict(seen: ServiceSeen) -> str:
    """``IPAMRequestSatisfied=False no_pool, IPs none`` — how an operator summarises it."""
    condition = request_condition(seen) or {}
    return (f"{condition.get('type', 'no condition')}={condition.get('status')} "
            f"{condition.get('reason')}, IPs {seen.ips or 'none'}")


def assert_served(seen: ServiceSeen, service: LbService, pool: Pool, why: str,
                  address: str | None = None) -> str:
    """The Service holds one address of ``pool`` (``address`` when given) and says satisfied."""
    __tracebackhide__ = True
    wanted = address or f"one address of {pool.slice.cidr}"
    condition = request_condition(seen) or {}
    served = len(seen.ips) == 1 and seen.ips[0] in pool.slice and (
        address is None or seen.ips[0] == address)
    if not served or (condition.get("status"), condition.get("reason")) != ("True", "satisfied"):
        pytest.fail(f"{service.ref}: expected {wanted} and IPAMRequestSatisfied=True satisfied "
                    f"({why}), it has {verdict(seen)}", pytrace=False)
    return seen.ips[0]


def assert_refused(seen: ServiceSeen, service: LbService, why: str,
                   reason: str | None = None) -> None:
    """The Service holds no address and its request condition is False (with ``reason``)."""
    __tracebackhide__ = True
    condition = request_condition(seen) or {}
    wanted = "IPAMRequestSatisfied=False" + (f" {reason}" if reason else "")
    refused = condition.get("status") == "False" and reason in (None, condition.get("reason"))
    if seen.ips or not refused:
        pytest.fail(f"{service.ref}: expected no IP and {wanted} ({why}), it has "
                    f"{verdict(seen)}", pytrace=False)


def pool_conditions(cluster: Cluster, pool: Pool) -> dict[str, dict[str, str]]:
    found = objects.find(cluster, ObjectRef("CiliumLoadBalancerIPPool", pool.name)) or {}
    return {str(c.get("type")): dict(c)
            for c in (found.get("status") or {}).get("conditions") or []}


def test_service_gets_an_address_of_its_pool(cbgp_scenario: Scenario, cbgp_pool: Pool,
                                             cbgp_kube: Cluster) -> None:
    with report.step(f"Service drawing from pool {cbgp_pool.name} ({cbgp_pool.slice.cidr})"):
        service = cbgp_scenario.service(cbgp_pool, advertise=False, wait_for_ip=False)
    why = f"pool {cbgp_pool.name} selects it"
    assert_served(ipam_answer(cbgp_kube, service, why), service, cbgp_pool, why)


def test_requested_address_is_honoured(cbgp_scenario: Scenario, cbgp_pool: Pool,
                                       cbgp_kube: Cluster) -> None:
    # Not the first address: a lab that hands out the lowest free one would pass by chance.
    requested = cbgp_pool.slice.address(5)
    with report.step(f"Service requesting {requested} (lbipam.cilium.io/ips)"):
        service = cbgp_scenario.service(cbgp_pool, advertise=False, wait_for_ip=False,
                                        requested_ips=[requested])
    why = f"it requested {requested} of its pool {cbgp_pool.name}"
    assert_served(ipam_answer(cbgp_kube, service, why), service, cbgp_pool, why,
                  address=requested)


def test_address_in_no_pool_is_refused(cbgp_scenario: Scenario, cbgp_pool: Pool,
                                       cbgp_kube: Cluster) -> None:
    with report.step(f"Service requesting {ADDRESS_IN_NO_POOL}, in no pool"):
        service = cbgp_scenario.service(cbgp_pool, advertise=False, wait_for_ip=False,
                                        requested_ips=[ADDRESS_IN_NO_POOL])
    why = f"no pool holds {ADDRESS_IN_NO_POOL}"
    assert_refused(ipam_answer(cbgp_kube, service, why), service, why, reason="no_pool")


def test_newer_overlapping_pool_conflicts_and_allocates_nothing(
    cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster,
) -> None:
    with report.step(f"Second pool on {cbgp_pool.slice.cidr}, with a Service of its own"):
        newer = cbgp_scenario.pool(cbgp_pool.slice)
        service = cbgp_scenario.service(newer, advertise=False, wait_for_ip=False)
    why = f"its only pool {newer.name} overlaps the older {cbgp_pool.name}"
    seen = ipam_answer(cbgp_kube, service, why)
    conditions = {pool.name: pool_conditions(cbgp_kube, pool) for pool in (cbgp_pool, newer)}
    report.attach_json("pool conditions", conditions)
    conflict = conditions[newer.name].get(POOL_CONFLICT) or {}
    assert (conflict.get("status"), conflict.get("reason")) == ("True", "cidr_overlap"), (
        f"pool {newer.name}: expected {POOL_CONFLICT}=True cidr_overlap (it overlaps the older "
        f"{cbgp_pool.name}), it has {render_conditions(list(conditions[newer.name].values()))}")
    older = conditions[cbgp_pool.name].get(POOL_CONFLICT) or {}
    assert older.get("status") != "True", (
        f"pool {cbgp_pool.name}: expected no {POOL_CONFLICT}=True (it is the older pool), it "
        f"has {render_conditions([older])}")
    assert_refused(seen, service, why)


def test_pool_counters_add_up(cbgp_scenario: Scenario, cbgp_pool: Pool,
                              cbgp_kube: Cluster) -> None:
    made = 3
    with report.step(f"{made} Services drawing from pool {cbgp_pool.name}"):
        for _ in range(made):
            cbgp_scenario.service(cbgp_pool, advertise=False)
    total = cbgp_pool.slice.network.num_addresses  # allowFirstLastIPs: "Yes"
    expected = dict(zip(COUNTERS, (str(total), str(total - made), str(made)), strict=True))

    def probe() -> tuple[bool, dict[str, str | None]]:
        conditions = pool_conditions(cbgp_kube, cbgp_pool)
        seen = {kind: (conditions.get(kind) or {}).get("message") for kind in COUNTERS}
        return seen == expected, seen

    try:
        wait_until(f"pool {cbgp_pool.name} counts {made} used", probe, IPAM_WAIT_S)
        return
    except WaitTimeout as timeout:
        last = timeout.last_state
    report.attach_json("pool conditions", pool_conditions(cbgp_kube, cbgp_pool))
    pytest.fail(f"pool {cbgp_pool.name}: expected counters {expected} ({cbgp_pool.slice.cidr} "
                f"with first and last IPs allowed, {made} Services), it has {last}",
                pytrace=False)


def test_bgp_control_plane_class_is_served_and_advertised(
    cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster, cbgp_inventory: Inventory,
    cbgp_paths: NodePaths,
) -> None:
    backend = [cbgp_inventory.nodes[0].name]
    with report.step(f"Service of loadBalancerClass {BGP_CONTROL_PLANE_CLASS}"):
        service = cbgp_scenario.service(cbgp_pool, backend_nodes=backend, wait_for_ip=False,
                                        load_balancer_class=BGP_CONTROL_PLANE_CLASS)
    why = f"LB-IPAM handles class {BGP_CONTROL_PLANE_CLASS}"
    service.address = assert_served(ipam_answer(cbgp_kube, service, why), service, cbgp_pool,
                                    why)
    every_node = [node.name for node in cbgp_inventory.nodes]
    with report.step(f"Router holds {service.prefix} from every node"):
        cbgp_paths.converge(service.prefix, every_node, "every node under Cluster")


def test_disabled_pool_keeps_its_addresses_and_gives_no_new_one(
    cbgp_scenario: Scenario, cbgp_pool: Pool, cbgp_kube: Cluster,
) -> None:
    with report.step(f"Service served by pool {cbgp_pool.name} before it is disabled"):
        served = cbgp_scenario.service(cbgp_pool, advertise=False)
    with report.step(f"Disable pool {cbgp_pool.name}, then add a Service"):
        objects.patch(cbgp_kube, ObjectRef("CiliumLoadBalancerIPPool", cbgp_pool.name),
                      {"spec": {"disabled": True}})
        refused = cbgp_scenario.service(cbgp_pool, advertise=False, wait_for_ip=False)
    why = f"its only pool {cbgp_pool.name} is disabled"
    assert_refused(ipam_answer(cbgp_kube, refused, why), refused, why)
    kept = ipam_answer(cbgp_kube, served, "it was served before")
    assert kept.ips == [served.address], (
        f"{served.ref}: expected to keep {served.address} (a disabled pool keeps what it gave), "
        f"it has {verdict(kept)}")
