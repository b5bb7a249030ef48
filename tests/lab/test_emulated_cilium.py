"""The faithful embedded lab behaves like Cilium 1.18 with BGP Control Plane v2, seen the way an
operator checks a real cluster: the router's BGP table and kernel FIB, HTTP answers on the
client host behind the router, and object status through the Kubernetes API.

Every test makes its own pool (a few addresses of the inventory's LB range), advertisement,
Service and backends, selected by its own label, and deletes them afterwards, so the one lab
of the module stays usable whatever a test does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_ciliumbgp.kube import ObjectRef, objects
from pytest_ciliumbgp.kube import manifests as m
from pytest_ciliumbgp.router import HashPolicy
from tests.lab.cluster import (
    CLIENT,
    CLIENT_IP,
    INVENTORY,
    NODE_IP,
    NODES,
    Lab,
    Scenario,
    fresh_copy,
    ignore_missing,
    nodes_text,
    scenario_name,
    wait_for,
)
from tests.lab.conftest import lab_cli

pytestmark = pytest.mark.lab

CLUSTER_CONFIG = ObjectRef("CiliumBGPClusterConfig", "cilium-bgp")
PEER_CONFIG = ObjectRef("CiliumBGPPeerConfig", "cilium-peer")
NO_ENDPOINTS_ROUTABLE = "enable-no-service-endpoints-routable"
EVERY_NODE = "every node, ETP=Cluster"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    for cli in lab_cli("cbgpt2", tmp_path_factory.mktemp("cbgpt2")):
        up = cli.run("up")
        assert up.returncode == 0, up.stderr
        with Lab.connected(cli) as running:
            yield running


@pytest.fixture
def scenario(lab: Lab, request: pytest.FixtureRequest) -> Iterator[Scenario]:
    made = Scenario(lab, scenario_name(request.node.name))
    yield made
    made.cleanup()


def test_boot_state_peers_every_node_and_routes_its_pod_cidr(lab: Lab) -> None:
    def node_states() -> tuple[bool, dict[str, str]]:
        states = {}
        for config in objects.list_objects(lab.cluster, "CiliumBGPNodeConfig"):
            peers = [p for i in config.get("status", {}).get("bgpInstances", [])
                     for p in i.get("peers", [])]
            states[config["metadata"]["name"]] = ",".join(p.get("peeringState") for p in peers)
        return states == dict.fromkeys(NODES, "established"), states

    wait_for("every CiliumBGPNodeConfig reports its peer established", node_states,
             failure=f"NodeConfig peeringState: expected established for {nodes_text(set(NODES))}")
    peers = lab.router.bgp_peers()
    for node in INVENTORY.nodes:
        peer = peers.get(str(node.address))
        session = (peer.established, peer.remote_as) if peer else None
        assert session == (True, node.asn), (
            f"node {node.name}: expected an Established session from {node.address} "
            f"AS {node.asn}, router has {peer}"
        )
    routes = lab.router.bgp_routes()
    for node in INVENTORY.nodes:
        cidr = str(node.pod_cidr)
        hops = routes[cidr].ecmp_next_hops if cidr in routes else frozenset()
        assert hops == {str(node.address)}, (
            f"PodCIDR {cidr} of {node.name}: expected next hop {node.address}, router has "
            f"{set(hops) or 'no route'}"
        )
    daemonset = lab.cluster.call_json("read DaemonSet kube-system/cilium",
                                      lab.cluster.apps.read_namespaced_daemon_set,
                                      "cilium", "kube-system")
    image = daemonset["spec"]["template"]["spec"]["containers"][0]["image"]
    tag = image.rpartition(":")[2]
    assert tuple(int(n) for n in tag.lstrip("v").split(".")[:2]) >= (1, 18), image
    options = lab.configmap("cilium-config")["data"]
    assert options["enable-bgp-control-plane"] == "true"
    assert options[NO_ENDPOINTS_ROUTABLE] == "true"


def test_acceptance_walk_through(scenario: Scenario) -> None:
    lab = scenario.lab
    scenario.pool("172.16.1.1/32")
    scenario.advertisement()
    deployment = ObjectRef("Deployment", scenario.name, "default")
    scenario.create(m.backend_deployment(scenario.name, scenario.app, replicas=3,
                                         one_per_node=True, labels=scenario.label))

    pods = scenario.ready_backends(3)
    placement = {p["spec"]["nodeName"]: p["metadata"]["name"] for p in pods}
    assert set(placement) == set(NODES), (
        f"hostname anti-affinity: expected one pod on each of {nodes_text(set(NODES))}, "
        f"pods are on {sorted(p['spec']['nodeName'] for p in pods)}"
    )
    scenario.service(service_type="ClusterIP")
    service = ObjectRef("Service", scenario.name, "default")
    objects.patch(lab.cluster, service, {"spec": {"type": "LoadBalancer"}})
    address = scenario.lb_ip()
    assert address == "172.16.1.1", f"LB IP: expected 172.16.1.1 (the pool), got {address}"
    prefix = f"{address}/32"

    lab.wait_routed(prefix, NODES, EVERY_NODE)
    answer = lab.http(address)
    assert answer.hostname in placement.values(), (
        f"{address}: expected an answer from one of {sorted(placement.values())}, got {answer}"
    )

    objects.patch(lab.cluster, deployment, {"spec": {"replicas": 2}})
    pods = scenario.ready_backends(2)
    lab.assert_routing_holds(prefix, NODES, f"{EVERY_NODE}, 2 replicas", seconds=1.5)

    objects.patch(lab.cluster, service, {"spec": {"externalTrafficPolicy": "Local"}})
    with_pod = {p["spec"]["nodeName"] for p in pods}
    lab.wait_routed(prefix, with_pod, "nodes with a ready local backend, ETP=Local")
    remote = {lab.http(address).remote_ip for _ in range(6)}
    assert remote == {CLIENT_IP}, (
        f"{address} ETP=Local: expected every RemoteAddr to be the client {CLIENT_IP}, "
        f"backends saw {sorted(remote)}"
    )


@pytest.mark.parametrize("placed", [("k8s-w0",), ("k8s-ctr", "k8s-w1")],
                         ids=lambda nodes: "nodes=" + ",".join(nodes))
def test_local_next_hops_follow_the_last_local_backend(
    scenario: Scenario, placed: tuple[str, ...]
) -> None:
    lab = scenario.lab
    address = f"172.16.1.{10 + len(placed)}"
    scenario.pool(f"{address}/32")
    scenario.advertisement()
    for node in placed:
        scenario.pod(node)
    scenario.service(policy="Local")
    prefix = f"{scenario.lb_ip()}/32"
    lab.wait_routed(prefix, placed, "nodes with a ready local backend")

    gone = placed[-1]
    scenario.delete(ObjectRef("Pod", f"{scenario.name}-{gone}", "default"), wait=False)
    lab.wait_routed(prefix, placed[:-1], f"the last local backend on {gone} was deleted")


def test_local_unready_backend_is_withdrawn_and_returns(scenario: Scenario) -> None:
    lab = scenario.lab
    scenario.pool("172.16.1.20/32")
    scenario.advertisement()
    ready = scenario.pod("k8s-w0")
    scenario.pod("k8s-w1")
    scenario.service(policy="Local")
    prefix = f"{scenario.lb_ip()}/32"
    lab.wait_routed(prefix, {"k8s-w0", "k8s-w1"}, "nodes with a ready local backend")

    lab.set_health(ready["status"]["podIP"], 500)
    lab.wait_routed(prefix, {"k8s-w1"}, "the backend on k8s-w0 fails its readiness probe")
    lab.set_health(ready["status"]["podIP"], 200)
    lab.wait_routed(prefix, {"k8s-w0", "k8s-w1"}, "the backend on k8s-w0 is ready again")


def test_local_terminating_backend_is_withdrawn_while_terminating(scenario: Scenario) -> None:
    lab = scenario.lab
    scenario.pool("172.16.1.21/32")
    scenario.advertisement()
    scenario.pod("k8s-w0", pre_stop_sleep_seconds=4)
    scenario.pod("k8s-w1")
    scenario.service(policy="Local")
    prefix = f"{scenario.lb_ip()}/32"
    lab.wait_routed(prefix, {"k8s-w0", "k8s-w1"}, "nodes with a ready local backend")

    terminating = ObjectRef("Pod", f"{scenario.name}-k8s-w0", "default")
    objects.delete(lab.cluster, terminating)
    lab.wait_routed(prefix, {"k8s-w1"}, "the backend on k8s-w0 is terminating", timeout=3.5)
    still = objects.find(lab.cluster, terminating) or {"metadata": {}}
    assert still["metadata"].get("deletionTimestamp"), (
        f"{terminating}: expected it still Terminating (preStop sleep 4 s) when k8s-w0's path "
        "was withdrawn, but it is already gone"
    )


def test_cluster_policy_snats_only_when_the_backend_is_remote(scenario: Scenario) -> None:
    lab = scenario.lab
    pod_node = "k8s-w0"
    scenario.pool("172.16.1.24/32")
    scenario.advertisement()
    backend = scenario.pod(pod_node)
    # Pods that are no backend of the Service: on a real cluster every node runs some, and the
    # lab enables forwarding on a node only once a pod runs there (see the report).
    for node in set(NODES) - {pod_node}:
        scenario.pod(node, name=f"{scenario.name}-bystander-{node}", app_labels={"app": "none"})
    scenario.service(policy="Cluster")
    address = scenario.lb_ip()
    lab.wait_routed(f"{address}/32", NODES, EVERY_NODE)

    # L4 hashing spreads the client's connections over the three next hops.
    seen: dict[tuple[str | None, int], str] = {}
    with lab.hash_policy(HashPolicy.L4):
        for source_port in range(41000, 41040):
            answer = lab.http(address, source_port=source_port)
            assert answer.hostname == backend["metadata"]["name"], answer
            seen[(lab.receiving_node(address, source_port), source_port)] = answer.remote_ip
            if {node for node, _ in seen} == set(NODES):
                break
    expected = {(node, port): CLIENT_IP if node == pod_node else NODE_IP.get(node or "", "?")
                for node, port in seen}
    assert seen == expected, (
        f"RemoteAddr by (receiving node, source port), backend on {pod_node}: expected the "
        f"client's address when the receiving node has the backend, else that node's address; "
        f"expected {expected}, backend saw {seen}"
    )
    assert {node for node, _ in seen} == set(NODES), (
        f"40 connections from {CLIENT} under L4 hashing: expected them to reach "
        f"{nodes_text(set(NODES))}, they reached {sorted(str(node) for node, _ in seen)}"
    )


@pytest.fixture
def no_endpoints_option(lab: Lab) -> Iterator[None]:
    yield
    lab.patch_configmap_data("cilium-config", {NO_ENDPOINTS_ROUTABLE: "true"})


def test_service_without_backends_follows_no_endpoints_routable(
    scenario: Scenario, no_endpoints_option: None
) -> None:
    lab = scenario.lab
    scenario.pool("172.16.1.28/32")
    scenario.advertisement()
    scenario.service(policy="Cluster")
    prefix = f"{scenario.lb_ip()}/32"
    lab.wait_routed(prefix, NODES, f"{EVERY_NODE}, no backends, {NO_ENDPOINTS_ROUTABLE}=true")

    lab.patch_configmap_data("cilium-config", {NO_ENDPOINTS_ROUTABLE: "false"})
    lab.wait_routed(prefix, (), f"no backends and {NO_ENDPOINTS_ROUTABLE}=false")
    lab.patch_configmap_data("cilium-config", {NO_ENDPOINTS_ROUTABLE: "true"})
    lab.wait_routed(prefix, NODES, f"{NO_ENDPOINTS_ROUTABLE} back to true")


@pytest.mark.parametrize("change", ["service-deleted", "type-clusterip", "advert-deleted"])
def test_lb_ip_is_withdrawn_when(scenario: Scenario, change: str) -> None:
    lab = scenario.lab
    address = {"service-deleted": "172.16.1.32", "type-clusterip": "172.16.1.33",
               "advert-deleted": "172.16.1.34"}[change]
    scenario.pool(f"{address}/32")
    scenario.advertisement()
    scenario.pod("k8s-w1")
    scenario.service(policy="Cluster")
    prefix = f"{scenario.lb_ip()}/32"
    lab.wait_routed(prefix, NODES, EVERY_NODE)

    if change == "service-deleted":
        scenario.delete(ObjectRef("Service", scenario.name, "default"))
    elif change == "type-clusterip":
        objects.patch(lab.cluster, ObjectRef("Service", scenario.name, "default"),
                      {"spec": {"type": "ClusterIP", "externalTrafficPolicy": None}})
    else:
        scenario.delete(ObjectRef("CiliumBGPAdvertisement", scenario.name))
    lab.wait_routed(prefix, (), change.replace("-", " "))


def test_shared_vip_stays_while_one_service_remains(scenario: Scenario) -> None:
    lab = scenario.lab
    address = "172.16.1.36"
    scenario.pool(f"{address}/32")
    scenario.advertisement()
    scenario.pod("k8s-ctr")
    for name, port in ((f"{scenario.name}-a", 80), (f"{scenario.name}-b", 8080)):
        scenario.service(name, ports=[port], sharing_key=scenario.name, requested_ips=[address])
        assert scenario.lb_ip(name) == address
    prefix = f"{address}/32"
    lab.wait_routed(prefix, NODES, EVERY_NODE)

    scenario.delete(ObjectRef("Service", f"{scenario.name}-a", "default"))
    lab.assert_routing_holds(prefix, NODES, f"Service {scenario.name}-b still uses the shared IP",
                             seconds=2)
    assert lab.http(address, 8080).hostname == f"{scenario.name}-k8s-ctr"


def test_advertisement_communities_reach_the_router(scenario: Scenario) -> None:
    lab = scenario.lab
    scenario.pool("172.16.1.40/32")
    scenario.advertisement(communities=["65000:100"])
    scenario.service(policy="Cluster")
    prefix = f"{scenario.lb_ip()}/32"
    seen = lab.wait_routed(prefix, NODES, EVERY_NODE)

    with_community = [c for c in seen.communities if "65000:100" in c]
    assert len(with_community) == len(NODES), (
        f"{prefix} communities: expected 65000:100 on every path, router has "
        f"{[sorted(c) for c in seen.communities]}"
    )


def test_aggregation_length_aggregates_cluster_but_not_local(scenario: Scenario) -> None:
    lab = scenario.lab
    scenario.pool("172.16.1.44/30")
    scenario.advertisement(aggregation_length=24)
    scenario.pod("k8s-w1")
    cluster, local = f"{scenario.name}-cluster", f"{scenario.name}-local"
    scenario.service(cluster, policy="Cluster", requested_ips=["172.16.1.44"])
    scenario.service(local, policy="Local", requested_ips=["172.16.1.45"])
    assert (scenario.lb_ip(cluster), scenario.lb_ip(local)) == ("172.16.1.44", "172.16.1.45")

    lab.wait_routed("172.16.1.0/24", NODES, f"{EVERY_NODE}, aggregationLengthIPv4 24")
    lab.wait_routed("172.16.1.45/32", {"k8s-w1"}, "ETP=Local keeps /32, node with the backend")
    assert "172.16.1.44/32" not in lab.bgp_prefixes(), (
        "172.16.1.44 (ETP=Cluster, aggregationLengthIPv4 24): expected only the /24, "
        "router also has the /32"
    )


@pytest.fixture
def saved_cluster_config(lab: Lab) -> Iterator[dict[str, Any]]:
    saved = objects.get(lab.cluster, CLUSTER_CONFIG)
    yield saved
    if objects.find(lab.cluster, CLUSTER_CONFIG) is None:
        objects.create(lab.cluster, fresh_copy(saved))
    wait_for("every node's session is Established again",
             lambda: (lab.established_nodes() == set(NODES), lab.established_nodes()), 20)


def test_cluster_config_deleted_and_recreated(
    lab: Lab, saved_cluster_config: dict[str, Any]
) -> None:
    objects.delete(lab.cluster, CLUSTER_CONFIG)
    wait_for("no session is Established", lambda: (not lab.established_nodes(),
                                                   lab.established_nodes()), 20,
             failure="CiliumBGPClusterConfig deleted: expected no Established session")

    objects.create(lab.cluster, fresh_copy(saved_cluster_config))
    wait_for("every session is Established", lambda: (lab.established_nodes() == set(NODES),
                                                      lab.established_nodes()), 20,
             failure=f"CiliumBGPClusterConfig re-created: expected sessions from "
                     f"{nodes_text(set(NODES))}")


@pytest.fixture
def saved_peer_config(lab: Lab) -> Iterator[dict[str, Any]]:
    saved = objects.get(lab.cluster, PEER_CONFIG)
    yield saved
    ignore_missing(lambda: objects.patch(lab.cluster, PEER_CONFIG,
                                         {"spec": {"timers": saved["spec"]["timers"]}}))
    hold = saved["spec"]["timers"]["holdTimeSeconds"]
    restored = dict.fromkeys(NODES, hold)
    wait_for(f"every session negotiated hold time {hold} s again",
             lambda: (lab.hold_times() == restored, lab.hold_times()), 30)


def test_peer_config_timers_reach_the_router(
    lab: Lab, saved_peer_config: dict[str, Any]
) -> None:
    objects.patch(lab.cluster, PEER_CONFIG,
                  {"spec": {"timers": {"holdTimeSeconds": 30, "keepAliveTimeSeconds": 10}}})

    expected = dict.fromkeys(NODES, 30)
    wait_for("every session negotiated hold time 30 s",
             lambda: (lab.hold_times() == expected, lab.hold_times()), 15,
             failure="CiliumBGPPeerConfig holdTimeSeconds 30: expected the router to negotiate "
                     f"30 s with {nodes_text(set(NODES))}")

