"""The history-dependent agent faults: kept Local routes, a shared VIP withdrawn on the first
delete, an announcement lost after pod recreation — each lasting until the Service is touched."""

from __future__ import annotations

import ipaddress
from typing import Any

from pytest_ciliumbgp.emulator import faults as names
from pytest_ciliumbgp.emulator.cilium.bgp_memory import FaultMemory
from pytest_ciliumbgp.emulator.cilium.bgp_paths import Route, ServiceState, endpoints_by_service
from pytest_ciliumbgp.emulator.faults import Faults

from .conftest import endpoint_slice, service

VIP = ipaddress.IPv4Network("172.16.1.10/32")
ROUTES = {VIP: Route(VIP)}


def states(objects: list[dict[str, Any]], slices: list[dict[str, Any]]) -> list[ServiceState]:
    endpoints = endpoints_by_service(slices)
    made = []
    for obj in objects:
        state = ServiceState.from_object(obj)
        state.endpoints = endpoints.get(state.key, [])
        made.append(state)
    return made


def test_without_faults_routes_pass_unchanged() -> None:
    memory, objects = FaultMemory(), [service("web")]
    assert memory.apply(Faults(), objects, states(objects, []), ROUTES) == ROUTES
    assert memory.apply(Faults(), objects, states(objects, []), {}) == {}


def test_kept_local_route_stays_while_only_endpoints_took_it_away() -> None:
    fault = Faults({names.KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT: None})
    memory, objects = FaultMemory(), [service("web", policy="Local")]
    memory.apply(fault, objects, states(objects, []), ROUTES, {VIP})
    assert memory.apply(fault, objects, states(objects, []), {}, {VIP}) == ROUTES
    assert memory.apply(fault, [], [], {}, set()) == {}


def test_kept_local_route_goes_when_no_longer_advertised_for_another_reason() -> None:
    """Its advertisement deleted (or the Service retyped): the agent reconciles that."""
    fault = Faults({names.KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT: None})
    memory, objects = FaultMemory(), [service("web", policy="Local")]
    memory.apply(fault, objects, states(objects, []), ROUTES, {VIP})
    assert memory.apply(fault, objects, states(objects, []), {}, set()) == {}


def test_shared_vip_withdrawn_when_one_user_is_deleted_until_the_other_is_touched() -> None:
    fault = Faults({names.WITHDRAW_SHARED_VIP_ON_FIRST_DELETE: None})
    memory = FaultMemory()
    both = [service("a"), service("b")]
    assert memory.apply(fault, both, states(both, []), ROUTES) == ROUTES
    left = [service("b")]
    assert memory.apply(fault, left, states(left, []), ROUTES) == {}
    touched = [service("b")]
    touched[0]["metadata"]["resourceVersion"] = "2"
    assert memory.apply(fault, touched, states(touched, []), ROUTES) == ROUTES


def test_shared_vip_kept_without_the_fault() -> None:
    memory = FaultMemory()
    both, left = [service("a"), service("b")], [service("b")]
    memory.apply(Faults(), both, states(both, []), ROUTES)
    assert memory.apply(Faults(), left, states(left, []), ROUTES) == ROUTES


def test_announcement_lost_after_pod_recreation_until_touched() -> None:
    fault = Faults({names.LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION: None})
    memory, objects = FaultMemory(), [service("web")]
    first = [endpoint_slice("web", ("uid-1", "k8s-w1", True, False))]
    recreated = [endpoint_slice("web", ("uid-2", "k8s-w1", True, False))]
    assert memory.apply(fault, objects, states(objects, first), ROUTES) == ROUTES
    assert memory.apply(fault, objects, states(objects, []), ROUTES) == ROUTES
    assert memory.apply(fault, objects, states(objects, recreated), ROUTES) == {}
    objects[0]["metadata"]["resourceVersion"] = "9"
    assert memory.apply(fault, objects, states(objects, recreated), ROUTES) == ROUTES


def test_scaling_up_is_not_a_recreation() -> None:
    fault = Faults({names.LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION: None})
    memory, objects = FaultMemory(), [service("web")]
    one = [endpoint_slice("web", ("uid-1", "k8s-w1", True, False))]
    two = [endpoint_slice("web", ("uid-1", "k8s-w1", True, False),
                          ("uid-2", "k8s-w0", True, False))]
    memory.apply(fault, objects, states(objects, one), ROUTES)
    assert memory.apply(fault, objects, states(objects, two), ROUTES) == ROUTES
