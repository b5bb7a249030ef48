"""The Datapath controller over a bare Store: the ruleset each node namespace gets, and that it
follows Services, EndpointSlices and faults (no namespaces needed: ``rulesets`` is the plan)."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.emulator.cilium.datapath import Datapath
from pytest_ciliumbgp.emulator.faults import SNAT_UNDER_LOCAL, Faults
from pytest_ciliumbgp.emulator.kubeapi.store import Store

from .conftest import LB_IP, NODE_A, NODE_ADDRESSES, NODE_B, add_endpoints, add_service, inventory


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def datapath(store: Store) -> Datapath:
    return Datapath(store, lab_id="cbgpd", inventory=inventory())


def lb_rules(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if f"ip daddr {LB_IP} " in line]


def test_one_ruleset_per_node_namespace(store: Store, datapath: Datapath) -> None:
    add_service(store, "Cluster")
    add_endpoints(store, NODE_A, NODE_B)
    rulesets = datapath.rulesets()
    assert set(rulesets) == {f"cbgpd-{NODE_A}", f"cbgpd-{NODE_B}"}
    for node, text in ((NODE_A, rulesets[f"cbgpd-{NODE_A}"]),
                       (NODE_B, rulesets[f"cbgpd-{NODE_B}"])):
        assert f"snat ip to {NODE_ADDRESSES[node]}" in text
        [rule] = lb_rules(text)
        assert "numgen random mod 2" in rule


def test_local_service_on_each_node(store: Store, datapath: Datapath) -> None:
    add_service(store, "Local")
    add_endpoints(store, NODE_A)
    rulesets = datapath.rulesets()
    assert lb_rules(rulesets[f"cbgpd-{NODE_A}"]) == [
        f"ip daddr {LB_IP} tcp dport 80 ct mark set 0x2 dnat ip to 172.20.0.10:8080 "
        "comment \"default/web:http\""]
    assert lb_rules(rulesets[f"cbgpd-{NODE_B}"]) == [
        f"ip daddr {LB_IP} tcp dport 80 ct state new drop comment \"default/web:http\""]


def test_unready_endpoints_take_no_new_connections(store: Store, datapath: Datapath) -> None:
    add_service(store, "Cluster")
    add_endpoints(store, NODE_A, ready=False)
    assert lb_rules(datapath.rulesets()[f"cbgpd-{NODE_A}"]) == [
        f"ip daddr {LB_IP} tcp dport 80 ct state new drop comment \"default/web:http\""]


def test_faults_change_the_rules(store: Store, datapath: Datapath) -> None:
    add_service(store, "Local")
    add_endpoints(store, NODE_A)
    before = datapath.rulesets()[f"cbgpd-{NODE_A}"]
    datapath.set_faults(Faults({SNAT_UNDER_LOCAL: None}))
    after = datapath.rulesets()[f"cbgpd-{NODE_A}"]
    snat_local = f"\t\tct mark 0x2 snat ip to {NODE_ADDRESSES[NODE_A]}"
    assert snat_local not in before.splitlines()
    assert snat_local in after.splitlines()
