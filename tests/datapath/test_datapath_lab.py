"""End to end through real namespaces: a client reaches a Service's LB IP through node-a, whose
nftables datapath the controller wrote, and the whoami pods say who they saw.

Expected, as Cilium's kube-proxy replacement in SNAT mode: under Cluster both pods answer, node-a's
own pod sees the client and node-b's pod sees node-a; under Local only node-a's pod answers and
sees the client; with no usable backend on node-a the connection is dropped (no answer at all,
not a refusal). The SNAT faults turn the client's address into node-a's where they apply.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from pytest_ciliumbgp.emulator.cilium.datapath import Datapath
from pytest_ciliumbgp.emulator.cilium.datapath_rules import TABLE
from pytest_ciliumbgp.emulator.faults import (
    SNAT_LOCAL_BACKEND_UNDER_CLUSTER,
    SNAT_UNDER_LOCAL,
    Faults,
)
from pytest_ciliumbgp.emulator.kubeapi.store import Store

from .conftest import (
    CLIENT_ADDRESS,
    LB_IP,
    NODE_A,
    NODE_ADDRESSES,
    NODE_B,
    SERVICE_PORT,
    add_endpoints,
    add_service,
    inventory,
)
from .netlab import Answer, NetLab, connect, net_lab, probe, request

pytestmark = pytest.mark.lab

CONNECTIONS = 30  # P(one of two backends never picked at random) = 2 ** -29


@pytest.fixture(scope="module")
def lab() -> Iterator[NetLab]:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("needs root and nft")
    with net_lab() as made:
        yield made


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def datapath(lab: NetLab, store: Store) -> Iterator[Datapath]:
    made = Datapath(store, lab_id=lab.lab_id, inventory=inventory())
    yield made
    made.stopped()


def answers(lab: NetLab, count: int = CONNECTIONS) -> set[Answer | None]:
    """Who answered ``count`` new connections from the client to the LB IP."""
    return {probe(lab.client, LB_IP, SERVICE_PORT) for _ in range(count)}


def expect(lab: NetLab, seen: set[Answer | None], *pairs: tuple[str, str]) -> None:
    __tracebackhide__ = True
    wanted = {Answer(lab.pods[node], remote) for node, remote in pairs}
    assert seen == wanted, (f"{LB_IP}:{SERVICE_PORT} via {NODE_A}: expected answers {wanted}, "
                            f"got {seen}")


CLIENT_SEEN_BY_A = (NODE_A, CLIENT_ADDRESS)
NODE_A_SEEN_BY_A = (NODE_A, NODE_ADDRESSES[NODE_A])
NODE_A_SEEN_BY_B = (NODE_B, NODE_ADDRESSES[NODE_A])


def test_cluster_snats_only_to_remote_backends(lab: NetLab, store: Store,
                                               datapath: Datapath) -> None:
    add_service(store, "Cluster")
    add_endpoints(store, NODE_A, NODE_B)
    datapath.reconcile()
    expect(lab, answers(lab), CLIENT_SEEN_BY_A, NODE_A_SEEN_BY_B)


def test_local_keeps_to_the_local_backend(lab: NetLab, store: Store,
                                          datapath: Datapath) -> None:
    add_service(store, "Local")
    add_endpoints(store, NODE_A, NODE_B)
    datapath.reconcile()
    expect(lab, answers(lab, 10), CLIENT_SEEN_BY_A)


@pytest.mark.parametrize(("policy", "nodes"), [("Local", (NODE_B,)), ("Cluster", ())],
                         ids=["etp=Local-backend-on-other-node", "etp=Cluster-no-endpoints"])
def test_no_usable_backend_drops(lab: NetLab, store: Store, datapath: Datapath, policy: str,
                                 nodes: tuple[str, ...]) -> None:
    add_service(store, policy)
    add_endpoints(store, *nodes)
    datapath.reconcile()
    assert answers(lab, 2) == {None}, f"{LB_IP} via {NODE_A} should be dropped ({policy})"


def test_unready_backend_keeps_its_connections_only(lab: NetLab, store: Store,
                                                     datapath: Datapath) -> None:
    add_service(store, "Local")
    add_endpoints(store, NODE_A)
    datapath.reconcile()
    established = connect(lab.client, LB_IP, SERVICE_PORT)
    assert established is not None, f"{LB_IP} via {NODE_A}: no connection with a ready backend"
    store.delete("endpointslices", "web-hand1", "default")
    add_endpoints(store, NODE_A, ready=False)
    datapath.reconcile()
    assert answers(lab, 2) == {None}, "an unready backend must get no new connection"
    assert request(established) == Answer(lab.pods[NODE_A], CLIENT_ADDRESS), (
        "the connection made before the backend turned unready must go on")


@pytest.mark.parametrize(("fault", "policy", "pairs"), [
    (SNAT_LOCAL_BACKEND_UNDER_CLUSTER, "Cluster", (NODE_A_SEEN_BY_A, NODE_A_SEEN_BY_B)),
    (SNAT_UNDER_LOCAL, "Local", (NODE_A_SEEN_BY_A,)),
], ids=[SNAT_LOCAL_BACKEND_UNDER_CLUSTER, SNAT_UNDER_LOCAL])
def test_snat_faults(lab: NetLab, store: Store, datapath: Datapath, fault: str, policy: str,
                     pairs: tuple[tuple[str, str], ...]) -> None:
    add_service(store, policy)
    add_endpoints(store, NODE_A, NODE_B)
    datapath.set_faults(Faults({fault: None}))
    datapath.reconcile()
    expect(lab, answers(lab), *pairs)


def _served(lab: NetLab) -> bool:
    try:
        return probe(lab.client, LB_IP, SERVICE_PORT, timeout=0.2) is not None
    except OSError:  # before the datapath: node-a has no route for the LB IP but back
        return False


def _has_table(namespace: str) -> bool:
    listed = subprocess.run(["ip", "netns", "exec", namespace, "nft", "list", "tables"],
                            capture_output=True, text=True, check=True).stdout
    return f"table ip {TABLE}" in listed


def test_running_controller_applies_and_removes(lab: NetLab, store: Store) -> None:
    add_service(store, "Local")
    add_endpoints(store, NODE_A)
    running = Datapath(store, lab_id=lab.lab_id, inventory=inventory())
    running.start()
    try:
        deadline = time.monotonic() + 5
        while not _served(lab):
            assert time.monotonic() < deadline, f"{LB_IP} not served within 5 s of start"
    finally:
        running.stop()
    nodes = [lab.names.namespace(node) for node in (NODE_A, NODE_B)]
    assert [node for node in nodes if _has_table(node)] == [], "tables left after stop()"
