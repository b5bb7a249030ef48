"""Every fault of the embedded lab's catalogue shows its regression, the way an operator would
see it: each test reproduces the scenario of the Cilium issue, switches the fault on through
the ConfigMap ``kube-system/cbgp-lab-faults`` (or, for one, at ``cbgp-lab up --fault``) and
checks the router, the client's answers or the Service status show the misbehaviour; where the
fault can be switched on a live scenario, the faithful behaviour is checked first.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from pytest_ciliumbgp.emulator import faults as f
from pytest_ciliumbgp.kube import KubeError, ObjectRef, objects
from pytest_ciliumbgp.kube.manifests import BGP_CONTROL_PLANE_CLASS
from pytest_ciliumbgp.kube.waits import IPAM_REQUEST_SATISFIED, ServiceSeen, wait_for_condition
from pytest_ciliumbgp.router import HashPolicy
from tests.lab.cluster import (
    CLIENT_IP,
    NODE_IP,
    NODES,
    Lab,
    Scenario,
    ignore_missing,
    scenario_name,
    wait_for,
)
from tests.lab.conftest import CBGP_LAB, ROOT, LabCli, lab_cli

pytestmark = pytest.mark.lab

EVERY_NODE = "every node, ETP=Cluster"
NO_ENDPOINTS_ROUTABLE = "enable-no-service-endpoints-routable"
# Given at `cbgp-lab up`, so it holds for the whole module: it changes only ETP=Local traffic's
# source address, which no other test here looks at.
AT_START = f.SNAT_UNDER_LOCAL


@dataclass(frozen=True)
class RefusedUp:
    result: subprocess.CompletedProcess[str]
    namespaces: list[str]
    daemons: list[str]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCli]:
    yield from lab_cli("cbgpt3", tmp_path_factory.mktemp("cbgpt3"))


@pytest.fixture(scope="module")
def refused_up(cli: LabCli) -> RefusedUp:
    """``cbgp-lab up --fault nope``, tried before the module's lab exists."""
    cli.run("down")  # whatever a crashed earlier run left
    result = cli.run("up", "--fault", "nope")
    return RefusedUp(result, cli.namespaces(), cli.daemons())


@pytest.fixture(scope="module")
def lab(cli: LabCli, refused_up: RefusedUp) -> Iterator[Lab]:
    up = cli.run("up", "--fault", AT_START)
    assert up.returncode == 0, up.stderr
    with Lab.connected(cli) as running:
        yield running


@pytest.fixture
def scenario(lab: Lab, request: pytest.FixtureRequest) -> Iterator[Scenario]:
    made = Scenario(lab, scenario_name(request.node.name))
    yield made
    made.cleanup()


class FaultSwitches:
    """The ConfigMap ``kube-system/cbgp-lab-faults``."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def set(self, name: str, argument: str = "") -> None:
        try:
            self.lab.patch_configmap_data(f.CONFIGMAP_NAME, {name: argument})
        except KubeError as err:
            if not err.not_found:
                raise
            body = {"metadata": {"name": f.CONFIGMAP_NAME, "namespace": f.CONFIGMAP_NAMESPACE},
                    "data": {name: argument}}
            self.lab.cluster.call_json(f"create ConfigMap {f.CONFIGMAP_NAME}",
                                       self.lab.cluster.core.create_namespaced_config_map,
                                       f.CONFIGMAP_NAMESPACE, body)

    def clear(self) -> None:
        core = self.lab.cluster.core
        ignore_missing(lambda: self.lab.cluster.call_json(
            f"delete ConfigMap {f.CONFIGMAP_NAME}", core.delete_namespaced_config_map,
            f.CONFIGMAP_NAME, f.CONFIGMAP_NAMESPACE))


@pytest.fixture
def fault(scenario: Scenario) -> Iterator[FaultSwitches]:
    """Fault switches, all cleared after the test (before its objects are deleted)."""
    switches = FaultSwitches(scenario.lab)
    yield switches
    switches.clear()


@pytest.fixture
def no_endpoints_routable_false(lab: Lab) -> Iterator[None]:
    lab.patch_configmap_data("cilium-config", {NO_ENDPOINTS_ROUTABLE: "false"})
    yield
    lab.patch_configmap_data("cilium-config", {NO_ENDPOINTS_ROUTABLE: "true"})


def routed_service(scenario: Scenario, address: str, *, policy: str = "Cluster",
                   pods: tuple[str, ...] = ()) -> str:
    """Pool of one address, advertisement, backends on ``pods`` and the Service; its /32."""
    scenario.pool(f"{address}/32")
    scenario.advertisement()
    for node in pods:
        scenario.pod(node)
    scenario.service(policy=policy)
    assert scenario.lb_ip() == address
    return f"{address}/32"


def touch(scenario: Scenario, name: str | None = None) -> None:
    objects.patch(scenario.cluster, ObjectRef("Service", name or scenario.name, "default"),
                  {"metadata": {"annotations": {"cbgp.io/touched": str(time.time())}}})


def test_advertise_local_from_all_nodes(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    prefix = routed_service(scenario, "172.16.1.100", policy="Local", pods=("k8s-w0",))
    lab.wait_routed(prefix, {"k8s-w0"}, "faithful: the node with the local backend")

    fault.set(f.ADVERTISE_LOCAL_FROM_ALL_NODES)
    lab.wait_routed(prefix, NODES, f"{f.ADVERTISE_LOCAL_FROM_ALL_NODES}: every node, although "
                                   "only k8s-w0 has a backend")


def test_keep_local_route_after_last_endpoint(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    fault.set(f.KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT)
    prefix = routed_service(scenario, "172.16.1.101", policy="Local", pods=("k8s-w0",))
    lab.wait_routed(prefix, {"k8s-w0"}, "the node with the local backend")

    scenario.delete(ObjectRef("Pod", f"{scenario.name}-k8s-w0", "default"),
                    grace_period_seconds=0)
    lab.assert_routing_holds(prefix, {"k8s-w0"}, f"{f.KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT}: "
                             "k8s-w0 keeps its path after its last backend is gone "
                             "(faithful: withdrawn within about a second)", seconds=2.5)


def test_withdraw_after_terminating_gone(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    fault.set(f.WITHDRAW_AFTER_TERMINATING_GONE)
    scenario.pool("172.16.1.102/32")
    scenario.advertisement()
    scenario.pod("k8s-w0", pre_stop_sleep_seconds=4)
    scenario.pod("k8s-w1")
    scenario.service(policy="Local")
    prefix = f"{scenario.lb_ip()}/32"
    lab.wait_routed(prefix, {"k8s-w0", "k8s-w1"}, "nodes with a ready local backend")

    terminating = ObjectRef("Pod", f"{scenario.name}-k8s-w0", "default")
    objects.delete(lab.cluster, terminating)
    lab.assert_routing_holds(prefix, {"k8s-w0", "k8s-w1"}, f"{f.WITHDRAW_AFTER_TERMINATING_GONE}: "
                             "k8s-w0 keeps its path while its backend is Terminating (faithful: "
                             "withdrawn at once)", seconds=2)
    assert objects.find(lab.cluster, terminating) is not None, f"{terminating} is already gone"
    lab.wait_routed(prefix, {"k8s-w1"}, "the terminating backend is gone", timeout=10)


def test_advertise_cluster_only_with_local_backend(
    scenario: Scenario, fault: FaultSwitches
) -> None:
    lab = scenario.lab
    prefix = routed_service(scenario, "172.16.1.103", pods=("k8s-w0",))
    lab.wait_routed(prefix, NODES, f"faithful: {EVERY_NODE}")

    fault.set(f.ADVERTISE_CLUSTER_ONLY_WITH_LOCAL_BACKEND)
    lab.wait_routed(prefix, {"k8s-w0"}, f"{f.ADVERTISE_CLUSTER_ONLY_WITH_LOCAL_BACKEND}: only "
                                        "the node with a backend")


def test_keep_advertised_without_endpoints(
    scenario: Scenario, fault: FaultSwitches, no_endpoints_routable_false: None
) -> None:
    lab = scenario.lab
    prefix = routed_service(scenario, "172.16.1.104", pods=("k8s-w1",))
    lab.wait_routed(prefix, NODES, f"{EVERY_NODE}, one backend")
    scenario.delete(ObjectRef("Pod", f"{scenario.name}-k8s-w1", "default"),
                    grace_period_seconds=0)
    lab.wait_routed(prefix, (), f"faithful: no backend left and {NO_ENDPOINTS_ROUTABLE}=false")

    fault.set(f.KEEP_ADVERTISED_WITHOUT_ENDPOINTS)
    lab.wait_routed(prefix, NODES, f"{f.KEEP_ADVERTISED_WITHOUT_ENDPOINTS}: every node although "
                                   f"{NO_ENDPOINTS_ROUTABLE}=false and no backend")


def test_withdraw_shared_vip_on_first_delete(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    fault.set(f.WITHDRAW_SHARED_VIP_ON_FIRST_DELETE)
    address = "172.16.1.105"
    scenario.pool(f"{address}/32")
    scenario.advertisement()
    first, second = f"{scenario.name}-a", f"{scenario.name}-b"
    for name, port in ((first, 80), (second, 8080)):
        scenario.service(name, ports=[port], sharing_key=scenario.name, requested_ips=[address])
        assert scenario.lb_ip(name) == address
    prefix = f"{address}/32"
    lab.wait_routed(prefix, NODES, EVERY_NODE)

    scenario.delete(ObjectRef("Service", first, "default"))
    lab.wait_routed(prefix, (), f"{f.WITHDRAW_SHARED_VIP_ON_FIRST_DELETE}: withdrawn although "
                                f"Service {second} still uses it")
    touch(scenario, second)
    lab.wait_routed(prefix, NODES, f"Service {second} touched: announced again")


def test_lose_announcement_after_pod_recreation(
    scenario: Scenario, fault: FaultSwitches
) -> None:
    lab = scenario.lab
    fault.set(f.LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION)
    prefix = routed_service(scenario, "172.16.1.106", pods=("k8s-w0",))
    lab.wait_routed(prefix, NODES, EVERY_NODE)

    scenario.delete(ObjectRef("Pod", f"{scenario.name}-k8s-w0", "default"),
                    grace_period_seconds=0)
    scenario.pod("k8s-w0")
    lab.wait_routed(prefix, (), f"{f.LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION}: withdrawn after "
                                "the backend was recreated (faithful: announced throughout)")
    touch(scenario)
    lab.wait_routed(prefix, NODES, "Service touched: announced again")


def test_snat_local_backend_under_cluster(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    address = "172.16.1.107"
    scenario.pool(f"{address}/32")
    scenario.advertisement()
    scenario.service(policy="Cluster")
    assert scenario.lb_ip() == address
    lab.wait_routed(f"{address}/32", NODES, EVERY_NODE)
    with lab.hash_policy(HashPolicy.L3):
        # L3 hashing sends every flow of the client to one next hop; the backend goes there,
        # so every request is received by the node that has the backend.
        backend_node = lab.fib_next_hop(address)
        scenario.pod(backend_node)

        def remote_addr(source_port: int) -> str:
            answer = lab.http(address, source_port=source_port)
            received_by = lab.receiving_node(address, source_port)
            assert received_by == backend_node, (
                f"request from source port {source_port}: expected it received by "
                f"{backend_node} (the router's FIB next hop), it reached {received_by}"
            )
            return answer.remote_ip

        seen = remote_addr(43000)
        assert seen == CLIENT_IP, (
            f"faithful: ETP=Cluster request received by {backend_node}, which has the backend: "
            f"expected RemoteAddr {CLIENT_IP} (the client), backend saw {seen}"
        )
        fault.set(f.SNAT_LOCAL_BACKEND_UNDER_CLUSTER)
        ports = iter(range(43001, 43100))
        wait_for(f"{f.SNAT_LOCAL_BACKEND_UNDER_CLUSTER} shows",
                 lambda: ((seen := remote_addr(next(ports))) == NODE_IP[backend_node], seen),
                 failure=f"{f.SNAT_LOCAL_BACKEND_UNDER_CLUSTER}: expected RemoteAddr "
                         f"{NODE_IP[backend_node]} ({backend_node} SNATs although the backend "
                         "is local)")


def test_snat_under_local(scenario: Scenario, lab: Lab) -> None:
    prefix = routed_service(scenario, "172.16.1.108", policy="Local", pods=("k8s-w0",))
    lab.wait_routed(prefix, {"k8s-w0"}, "the node with the local backend")

    remote = {lab.http(prefix.removesuffix("/32")).remote_ip for _ in range(3)}
    assert remote == {NODE_IP["k8s-w0"]}, (
        f"{AT_START} (given at cbgp-lab up): expected RemoteAddr {NODE_IP['k8s-w0']} (k8s-w0, "
        f"SNATed; faithful: the client {CLIENT_IP}), backend saw {sorted(remote)}"
    )
    with pytest.raises(KubeError) as raised:
        lab.configmap(f.CONFIGMAP_NAME)
    assert raised.value.not_found, f"the fault came from up, not the ConfigMap: {raised.value}"


def test_allocate_from_conflicting_pool(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    older, newer = f"{scenario.name}-a", f"{scenario.name}-b"
    scenario.pool("172.16.1.112/30", name=older, service_label={"cbgp.io/nobody": "x"})
    scenario.pool("172.16.1.112/30", name=newer)
    wait_for_condition(lab.cluster, ObjectRef("CiliumLoadBalancerIPPool", newer),
                       "cilium.io/PoolConflict", "True", timeout=10, interval=0.2)
    scenario.service()
    service = ObjectRef("Service", scenario.name, "default")
    wait_for_condition(lab.cluster, service, IPAM_REQUEST_SATISFIED, "False", timeout=10,
                       interval=0.2)
    assert service_ips(scenario) == [], "faithful: a conflicting pool allocates nothing"

    fault.set(f.ALLOCATE_FROM_CONFLICTING_POOL)
    address = scenario.lb_ip()
    assert ipaddress.ip_address(address) in ipaddress.ip_network("172.16.1.112/30"), (
        f"{f.ALLOCATE_FROM_CONFLICTING_POOL}: expected an address of {newer} (172.16.1.112/30, "
        f"marked PoolConflict), got {address}"
    )


def service_status(scenario: Scenario) -> ServiceSeen:
    found = objects.get(scenario.cluster, ObjectRef("Service", scenario.name, "default"))
    status = found.get("status") or {}
    return ServiceSeen(status.get("loadBalancer") or {}, status.get("conditions") or [])


def service_ips(scenario: Scenario) -> list[str]:
    return service_status(scenario).ips


def test_ignore_bgp_control_plane_class(scenario: Scenario, fault: FaultSwitches) -> None:
    fault.set(f.IGNORE_BGP_CONTROL_PLANE_CLASS)
    scenario.pool("172.16.1.116/32")
    scenario.service(load_balancer_class=BGP_CONTROL_PLANE_CLASS)
    time.sleep(1.5)
    seen = service_status(scenario)
    assert (seen.ips, [c for c in seen.conditions if c.get("type") in IPAM_REQUEST_SATISFIED]) \
        == ([], []), (
        f"{f.IGNORE_BGP_CONTROL_PLANE_CLASS}: expected LB-IPAM to leave the Service of "
        f"loadBalancerClass {BGP_CONTROL_PLANE_CLASS} alone (no IP, no condition), it has {seen}"
    )

    fault.clear()
    assert scenario.lb_ip() == "172.16.1.116", "faithful: the BGP class gets an IP"


def test_wrong_prefix_length(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    prefix = routed_service(scenario, "172.16.1.120", pods=("k8s-w1",))
    lab.wait_routed(prefix, NODES, f"faithful: {EVERY_NODE}, /32")

    fault.set(f.WRONG_PREFIX_LENGTH, "24")
    lab.wait_routed("172.16.1.0/24", NODES, f"{f.WRONG_PREFIX_LENGTH}=24: a /24 from every node")
    lab.wait_routed(prefix, (), f"{f.WRONG_PREFIX_LENGTH}=24: no /32 any more")


def test_advertise_clusterip_instead_of_lb_ip(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    prefix = routed_service(scenario, "172.16.1.121", pods=("k8s-w1",))
    lab.wait_routed(prefix, NODES, f"faithful: {EVERY_NODE}")
    cluster_ip = objects.get(lab.cluster, ObjectRef("Service", scenario.name, "default"))[
        "spec"]["clusterIP"]

    fault.set(f.ADVERTISE_CLUSTER_IP_INSTEAD_OF_LB_IP)
    lab.wait_routed(f"{cluster_ip}/32", NODES, f"{f.ADVERTISE_CLUSTER_IP_INSTEAD_OF_LB_IP}: the "
                                               f"ClusterIP {cluster_ip} from every node")
    lab.wait_routed(prefix, (), f"{f.ADVERTISE_CLUSTER_IP_INSTEAD_OF_LB_IP}: LB IP not announced")


def test_delay_announcements(scenario: Scenario, fault: FaultSwitches) -> None:
    lab = scenario.lab
    fault.set(f.DELAY_ANNOUNCEMENTS, "3")
    scenario.pool("172.16.1.122/32")
    scenario.advertisement()
    scenario.service()
    address = scenario.lb_ip()
    allocated = time.monotonic()
    lab.wait_routed(f"{address}/32", NODES, EVERY_NODE, timeout=10)
    delay = time.monotonic() - allocated
    assert delay >= 2.5, (
        f"{f.DELAY_ANNOUNCEMENTS}=3: expected {address}/32 no sooner than about 3 s after the "
        f"Service got its IP (faithful: about 1 s), router had it after {delay:.1f} s"
    )


def test_up_refuses_an_unknown_fault_and_leaves_no_lab(refused_up: RefusedUp) -> None:
    result = refused_up.result
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1, result.stderr
    assert "nope" in result.stderr, result.stderr
    assert (refused_up.namespaces, refused_up.daemons) == ([], [])


def test_every_fault_of_the_catalogue_is_listed_and_tested() -> None:
    listed = subprocess.run([*CBGP_LAB, "faults"], capture_output=True, text=True, cwd=ROOT,
                            check=True, timeout=30).stdout
    module = sys.modules[__name__]
    for name in f.CATALOGUE:
        assert name in listed, f"cbgp-lab faults does not list {name}"
        assert hasattr(module, f"test_{name.replace('-', '_')}"), f"no test for fault {name}"
