"""Failure categories match the messages the suite really raises, in Allure 2's whole-message
and Allure 3's search semantics alike, and every category catches something."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ciliumbgp.evidence import allure3, categories
from pytest_ciliumbgp.evidence.categories import BROKEN, CATEGORIES, FAILED, category_of
from pytest_ciliumbgp.flows.attribution import FlowTable
from pytest_ciliumbgp.flows.http import WhoamiAnswer
from pytest_ciliumbgp.flows.scapy_probe import Flow
from pytest_ciliumbgp.inventory import Inventory, load_inventory
from pytest_ciliumbgp.kube.pool_slices import PoolSlice
from pytest_ciliumbgp.kube.scenario import LbService, Pool
from suites import test_ecmp, test_source_ip

REPO = Path(__file__).resolve().parents[2]

# Messages of failed or broken results (``statusDetails.message`` as allure-pytest writes it)
# from runs of suites/ on the embedded lab with the fault switch in the comment (long lists of
# requests cut after their first entries), each with the category it must land in.
CAPTURED = [
    # keep-local-route-after-last-endpoint
    (FAILED, "AssertionError: 172.16.1.32/32 next hops: expected none (k8s-w1 has no local "
     "backend left) within 15 s, router has ['k8s-w1'] in BGP and ['k8s-w1'] in its FIB",
     "Not withdrawn within the convergence budget"),
    (FAILED, "AssertionError: 172.16.1.48/32 next hops: expected ['k8s-w0'] (k8s-w1 has no local "
     "backend left) within 15 s, router has ['k8s-w0', 'k8s-w1'] in BGP and ['k8s-w0', "
     "'k8s-w1'] in its FIB", "Not withdrawn within the convergence budget"),
    (FAILED, "AssertionError: 172.16.1.96/32 next hops: expected ['k8s-ctr'] (the backend moved "
     "from k8s-w1 to k8s-ctr) within 15 s, router has ['k8s-ctr', 'k8s-w1'] in BGP and "
     "['k8s-ctr', 'k8s-w1'] in its FIB", "Not withdrawn within the convergence budget"),
    (FAILED, "AssertionError: 172.16.1.128/32 next hops: expected ['k8s-ctr', 'k8s-w0'] (nodes "
     "with a ready local backend: k8s-w1 has none left) within 15 s, router has ['k8s-ctr', "
     "'k8s-w0', 'k8s-w1'] in BGP and ['k8s-ctr', 'k8s-w0', 'k8s-w1'] in its FIB",
     "Not withdrawn within the convergence budget"),
    (FAILED, "AssertionError: 172.16.1.160/32 next hops: expected none (no "
     "CiliumBGPAdvertisement selects the Service any more) within 15 s, router has ['k8s-ctr', "
     "'k8s-w0', 'k8s-w1'] in BGP and ['k8s-ctr', 'k8s-w0', 'k8s-w1'] in its FIB",
     "Not withdrawn within the convergence budget"),
    # withdraw-after-terminating-gone
    (FAILED, "AssertionError: 172.16.1.80/32 next hops: expected ['k8s-w0'] (the only backend on "
     "k8s-w1 fails its readiness probe) within 15 s, router has ['k8s-w0', 'k8s-w1'] in BGP "
     "and ['k8s-w0', 'k8s-w1'] in its FIB", "Not withdrawn within the convergence budget"),
    (FAILED, "AssertionError: 172.16.1.16/32 next hops: expected ['k8s-w0'] (the only backend on "
     "k8s-w1 is terminating) within 15 s, router has ['k8s-w0', 'k8s-w1'] in BGP and "
     "['k8s-w0', 'k8s-w1'] in its FIB", "Not withdrawn within the convergence budget"),
    # withdraw-shared-vip-on-first-delete
    (FAILED, "AssertionError: 172.16.1.181/32 next hops: expected ['k8s-w0', 'k8s-w1'] to stay "
     "for 3 s (nodes with a ready local backend; Service default/svc-31996eae-7 still uses "
     "172.16.1.181), router has none in BGP and none in its FIB after 1.1 s",
     "Withdrawn while it should stay"),
    # snat-under-local
    (FAILED, "AssertionError: 30 of 30 requests: 10.10.1.100:36571 -> 172.16.1.240:80 via k8s-w1 "
     "answered by web-4f51c5c2-3: expected RemoteAddr 10.10.1.100 (Local never SNATs), backend "
     "saw 192.168.10.101; 10.10.1.100:58418 -> 172.16.1.240:80 via k8s-w0 answered by "
     "web-4f51c5c2-4: expected RemoteAddr 10.10.1.100 (Local never SNATs), backend saw "
     "192.168.20.100\nassert not ['10.10.1.100:36571 -> 172.16.1.240:80 via k8s-w1 answered by "
     "web-4f51c5c2-3: expected RemoteAddr']",
     "Source IP not preserved or unexpected SNAT"),
    (FAILED, "AssertionError: 16 of 30 requests to 172.16.1.0 (etp=Local, backends on "
     "['k8s-w1']): expected every request answered, unanswered: 10.10.1.100:56711 -> "
     "172.16.1.0:80 via k8s-w0, then k8s-ctr: GET http://172.16.1.0:80/: curl: (28) Connection "
     "timed out after 2022 milliseconds", "Traffic not delivered"),
    # allocate-from-conflicting-pool
    (FAILED, "Failed: Service default/svc-88245564-3: expected no IP and "
     "IPAMRequestSatisfied=False (its only pool pool-88245564-2 overlaps the older "
     "pool-88245564-1), it has cilium.io/IPAMRequestSatisfied=True satisfied, IPs "
     "['172.16.1.32']", "LB-IPAM allocation"),
    # ignore-bgp-control-plane-class
    (FAILED, "Failed: Service default/svc-6f854eb9-2: expected LB-IPAM to set "
     "cilium.io/IPAMRequestSatisfied within 10 s (LB-IPAM handles class "
     "io.cilium/bgp-control-plane), it has status.loadBalancer={} conditions=[]",
     "LB-IPAM allocation"),
    # wrong-prefix-length=24
    (FAILED, "AssertionError: 172.16.1.17/32 next hops: expected ['k8s-w1'] (a Local Service "
     "stays /32 under aggregation, from its backend's node) within 5 s, router has none in BGP "
     "and none in its FIB", "Not advertised within the convergence budget"),
    # one node's gobgpd stopped
    (FAILED, "Failed: node k8s-w0: expected an Established BGP session from 192.168.20.100 with "
     "remote AS 65001 within 30 s, router has it in state Active with remote AS 65001",
     "BGP session not Established"),
    (FAILED, "AssertionError: 172.16.1.16/32 next hops: expected ['k8s-ctr', 'k8s-w0', 'k8s-w1'] "
     "(every node under Cluster) within 3 s, router has ['k8s-ctr', 'k8s-w1'] in BGP and "
     "['k8s-ctr', 'k8s-w1'] in its FIB",
     "Wrong advertisers or next hops within the convergence budget"),
    # a loaded machine: the router's capture missed SYNs of answered requests
    (FAILED, "AssertionError: 4 of 30 requests: expected each connection's SYN to leave the router "
     "once, for one node, router sent 10.10.1.100:26596 -> 172.16.1.192:80 to no node; "
     "10.10.1.100:25267 -> 172.16.1.192:80 to no node\nassert not [Request(flow=Flow("
     "src='10.10.1.100', sport=26596, dst='172.16.1.192', dport=80)]",
     "Lab or probe not usable (router, Kubernetes API, packet capture)"),
    (BROKEN, "pytest_ciliumbgp.flows.attribution.CaptureError: capture on "
     "netns://cbgpha-router did not start: no output",
     "Lab or probe not usable (router, Kubernetes API, packet capture)"),
]

# Messages in the format the suite's code raises them, for kinds no fault switch produces (a
# node exclusion the cluster ignores, cleanup, a router or API that stops, path attributes,
# connection survival, graceful restart and upgrade disruption).
FORMATTED = [
    (FAILED, "Failed: session from k8s-w0 (192.168.20.100): expected down (k8s-w0 is left out "
     "of CiliumBGPClusterConfig bgp-65001) within 10 s, router has it Established",
     "Node exclusion not honoured"),
    (FAILED, "AssertionError: 172.16.1.4/32 next hops: expected ['k8s-ctr', 'k8s-w1'] (k8s-w0 is "
     "left out of CiliumBGPClusterConfig bgp-65001) within 15 s, router has ['k8s-ctr', "
     "'k8s-w0', 'k8s-w1'] in BGP and ['k8s-ctr', 'k8s-w0', 'k8s-w1'] in its FIB",
     "Node exclusion not honoured"),
    (FAILED, "Failed: objects of run 1a2b3c4d left behind after the session: Service "
     "default/svc-0a1b2c3d-1", "Objects left behind or cluster config not restored"),
    (FAILED, "AssertionError: 172.16.1.5/32 next hops: expected ['k8s-w1'] (nodes with a ready "
     "local backend) within 15 s, router has nothing readable (router not answering)",
     "Lab or probe not usable (router, Kubernetes API, packet capture)"),
    (FAILED, "Failed: cbgp: Kubernetes API of lab netns not usable: read /version on "
     "https://127.0.0.1:6443: connection refused (is the API server running?)",
     "Lab or probe not usable (router, Kubernetes API, packet capture)"),
    (BROKEN, "pytest_ciliumbgp.kube.errors.WaitTimeout: Service default/svc-1a2b3c4d-2: no "
     "LoadBalancer IP after 30 s; last seen status.loadBalancer={} conditions=[]",
     "LB-IPAM allocation"),
    (FAILED, "AssertionError: 172.16.1.1/32 from k8s-w1: expected a /32 of origin IGP with AS "
     "path 65001, router has 172.16.1.1/32 origin incomplete AS path '65001'\nassert "
     "('172.16.1.1/32', 'incomplete', '65001') == ('172.16.1.1/32', 'igp', '65001')",
     "Path attributes"),
    (FAILED, "Failed: 172.16.1.1/32 from k8s-ctr: expected community 65000:100 and large "
     "community 65001:1:100 (set by its advertisement), router has community none and large "
     "community none", "Path attributes"),
    (FAILED, "AssertionError: 172.16.1.2/32: expected no /32 (aggregated into 172.16.1.0/28), "
     "router has it from ['k8s-ctr', 'k8s-w0', 'k8s-w1']", "Path attributes"),
    (FAILED, "Failed: 172.16.1.1/32: expected a path from k8s-w0 (every node under Cluster), "
     "router has paths from ['k8s-ctr', 'k8s-w1']",
     "Wrong advertisers or next hops within the convergence budget"),
    (FAILED, "AssertionError: 172.16.1.1/32: expected from ['k8s-w1'] (nodes with a ready local "
     "backend), router no longer has it\nassert None is not None",
     "Withdrawn while it should stay"),
    (FAILED, "AssertionError: 2 of 10 connections whose next hop did not change broke while "
     "k8s-w1's backend came and went (hash=L4); expected at most 0 "
     "(--cbgp-connection-break-budget): 10.10.1.100:40001 -> 172.16.1.1:80 via k8s-w0: reset "
     "at 3.2 s (backend removed)\nassert 2 <= 0", "Connections broken by next-hop churn"),
    (FAILED, "AssertionError: 10 of 10 connections: expected the router to forward their packets "
     "to some node, capture saw none of 10.10.1.100:40001 -> 172.16.1.1:80",
     "Lab or probe not usable (router, Kubernetes API, packet capture)"),
    (FAILED, "AssertionError: 10 keep-alive connections to 172.16.1.1: expected each answered "
     "before the next hops change, unanswered: connection 3 (port 40003): timeout ",
     "Traffic not delivered"),
    (FAILED, "AssertionError: 172.16.1.1/32: expected the router to keep k8s-w1's path while its "
     "agent restarted (graceful restart negotiated), it was gone from BGP 1.2 s into the "
     "restart", "Graceful restart not honoured"),
    (FAILED, "AssertionError: 172.16.1.1/32: expected k8s-w1's path dropped within 5 s of its "
     "agent pod's deletion (no graceful restart), the router dropped it after 92.0 s",
     "Graceful restart not honoured"),
    (FAILED, "AssertionError: restart of the cilium agent on k8s-w1 (CiliumBGPPeerConfig "
     "cilium-peer: graceful restart on): expected at most 0 failed requests "
     "(--cbgp-disruption-budget), the client behind the router saw 3 of 120 requests failed, "
     "0 of 4 held connections broke: GET at 2.1 s: timeout",
     "Disruption over budget (agent restart or upgrade)"),
]

NODES = {"192.168.10.100": "k8s-ctr", "192.168.10.101": "k8s-w1", "192.168.20.100": "k8s-w0"}


def flows(count: int) -> list[Flow]:
    return [Flow("10.10.1.100", 20_000 + n, "172.16.1.1", 80) for n in range(count)]


def raised(check: Callable[..., object], *args: object) -> str:
    """The message allure-pytest records for the check's failure: ``ExceptionInfo.exconly``."""
    with pytest.raises(AssertionError) as failure:
        check(*args)
    return failure.exconly()


def ecmp_messages() -> list[tuple[str, str, str]]:
    spread = FlowTable({flow: Counter({address: 3})
                        for flow, address in zip(flows(3), NODES, strict=True)})
    lopsided = FlowTable({flow: Counter({"192.168.10.100": 3}) for flow in flows(90)})
    return [
        (FAILED, raised(test_ecmp.pinned_to_one_next_hop, spread, NODES, "hash policy L3"),
         "ECMP: one client's flows not on one next hop under L3 hashing"),
        (FAILED, raised(test_ecmp.spread_over_every_next_hop, lopsided, NODES, "hash policy L4"),
         "ECMP: no spread over the next hops"),
    ]


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(REPO / "lab" / "netns" / "inventory.yaml")


def source_ip_messages(inventory: Inventory) -> list[tuple[str, str, str]]:
    pool = Pool("pool-1", PoolSlice(0, ipaddress.IPv4Network("172.16.1.0/28")), {})
    service = LbService("svc", "default", "Cluster", pool, address="172.16.1.1")
    answer = WhoamiAnswer("web-1", "10.10.1.100", 20_000, 80, "")
    client = inventory.clients[0]
    split = [test_source_ip.Request(flow, ("k8s-w0", "k8s-ctr"), answer) for flow in flows(2)]
    one_node = [test_source_ip.Request(flow, ("k8s-w1",), answer) for flow in flows(30)]
    return [
        (FAILED, raised(test_source_ip.check_requests, split, service, inventory, client),
         "ECMP: a flow split across next hops"),
        (FAILED, raised(test_source_ip.check_requests, one_node, service, inventory, client),
         "ECMP: no spread over the next hops"),
    ]


@pytest.fixture(scope="module")
def samples(inventory: Inventory) -> list[tuple[str, str, str]]:
    return CAPTURED + FORMATTED + ecmp_messages() + source_ip_messages(inventory)


def test_each_message_lands_in_its_category(samples: list[tuple[str, str, str]]) -> None:
    landed = [(category_of(status, message), expected) for status, message, expected in samples]

    assert [got for got, _ in landed] == [expected for _, expected in landed]


def test_every_category_catches_a_message(samples: list[tuple[str, str, str]]) -> None:
    caught = {category_of(status, message) for status, message, _ in samples}

    assert [c.name for c in CATEGORIES if c.name not in caught] == []


def test_a_message_of_another_status_is_not_taken() -> None:
    message = "Failed: node k8s-w0: expected an Established BGP session from 192.168.20.100"

    assert category_of(FAILED, message) == "BGP session not Established"
    assert category_of("skipped", message) is None
    assert category_of(FAILED, "AssertionError: assert 1 == 2") is None


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_regexps_file_them_alike(samples: list[tuple[str, str, str]],
                                             tmp_path: Path) -> None:
    """Allure 3 matches ``new RegExp(messageRegex).test(message)``: the same categories."""
    script = tmp_path / "match.js"
    script.write_text(
        "const {categories, samples} = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "const first = ([status, message]) => {\n"
        "  const hit = categories.find(c => c.matchedStatuses.includes(status)\n"
        "    && new RegExp(c.messageRegex).test(message));\n"
        "  return hit ? hit.name : null;\n"
        "};\n"
        "process.stdout.write(JSON.stringify(samples.map(first)));\n")
    given = json.dumps({"categories": categories.as_allure(),
                        "samples": [[status, message] for status, message, _ in samples]})
    done = subprocess.run(["node", str(script)], input=given, capture_output=True, text=True,
                          timeout=60, check=True)

    assert json.loads(done.stdout) == [expected for _, _, expected in samples]


def test_categories_file_is_what_allure_reads(tmp_path: Path) -> None:
    path = categories.write_categories(tmp_path / "allure-results")

    written = json.loads(path.read_text())
    assert path.name == "categories.json"
    assert [c["name"] for c in written] == [c.name for c in CATEGORIES]
    assert all(set(c) == {"name", "description", "matchedStatuses", "messageRegex"}
               for c in written)


def test_allure3_config_carries_the_same_categories(tmp_path: Path) -> None:
    target = tmp_path / "tool" / "allurerc.json"

    assert allure3.main([str(target)]) == 0
    config = json.loads(target.read_text())
    assert config["categories"] == categories.as_allure()
    assert config["plugins"] == {"awesome": {"options": {"singleFile": True}}}


def test_allure3_config_into_an_unwritable_place_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    assert allure3.main([str(blocker / "allurerc.json")]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert allure3.main([]) == 2
