"""Failure categories for the Allure report, matched on the messages the suite's checks raise.

Each category names a kind of failure an operator recognises (a node that should not advertise,
a client IP hidden by SNAT, a flow split across next hops, a lab that does not answer) and the
phrases of the suite's own assertion messages that mean it. The order matters: a result goes to
the first category that matches, so the lab's own failures come before what they would mimic.

Allure 2 matches ``messageRegex`` against the whole message (Java ``matches``) while Allure 3
searches it (JavaScript ``RegExp.test``), and messages span lines (pytest appends the failed
``assert`` expression). ``[\\s\\S]*`` around the phrases satisfies both without inline flags,
which JavaScript lacks; the phrases themselves use only syntax the three engines share.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATEGORIES_FILE = "categories.json"
FAILED = "failed"
#: what Allure calls a test that raised something other than an assertion (a lab error)
BROKEN = "broken"


@dataclass(frozen=True)
class Category:
    name: str
    description: str
    #: regular expressions, each a phrase of an assertion message meaning this kind of failure
    phrases: tuple[str, ...]
    statuses: tuple[str, ...] = (FAILED,)

    @property
    def message_regex(self) -> str:
        return r"[\s\S]*(?:" + "|".join(self.phrases) + r")[\s\S]*"

    def matches(self, status: str, message: str) -> bool:
        """Whether Allure puts a result of ``status`` failing with ``message`` here (given
        that no earlier category took it)."""
        return status in self.statuses and re.fullmatch(self.message_regex, message) is not None

    def as_allure(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "matchedStatuses": list(self.statuses), "messageRegex": self.message_regex}


CATEGORIES: tuple[Category, ...] = (
    Category(
        "Lab or probe not usable (router, Kubernetes API, packet capture)",
        "The suite could not read or drive the lab, or its capture missed packets of answered "
        "requests: this test tells nothing about Cilium.",
        (r"\b(?:KubeError|RouterError|TransportError|LabError|CaptureError|FlowProbeError|"
         r"RouteGetError|BackgroundError)\b",
         r"router not answering",
         r": not Ready after",
         r"expected each connection's SYN to leave the router once[^\n]* to no node",
         r"capture saw none of",
         r"Failed: cbgp: "),
        (BROKEN, FAILED),
    ),
    Category(
        "Objects left behind or cluster config not restored",
        "Cleanup failed: later tests may see this test's objects or its changed config.",
        (r"left behind after the session",
         r"spec not restored",
         r"objects of run \S+ (?:test \S+ )?still present"),
        (BROKEN, FAILED),
    ),
    Category(
        "BGP session not Established",
        "A node's BGP session with the router is down: nothing it advertises reaches the router.",
        (r"expected an Established BGP session",),
    ),
    Category(
        "Node exclusion not honoured",
        "A node left out of the cluster config's nodeSelector still advertises or peers.",
        (r"session from \S+ \(\S+\): expected down",
         r"is left out of CiliumBGPClusterConfig"),
    ),
    Category(
        "LB-IPAM allocation",
        "A Service got no address, the wrong one, or a pool's status or counters are wrong.",
        (r"expected LB-IPAM to set",
         r"IPAMRequestSatisfied=",
         r"cilium\.io/PoolConflict",
         r"expected counters",
         r"a disabled pool keeps what it gave",
         r"outside its pool",
         r"LB-IPAM gave",
         r": no LoadBalancer IP after"),
        (FAILED, BROKEN),
    ),
    Category(
        "Not withdrawn within the convergence budget",
        "The LB IP, or the path of a node whose last ready local backend went, stayed on the "
        "router after what justified it was gone.",
        (r"next hops: expected none \(",
         r"next hops: expected \[[^\]]*\] \([^()]*(?:has no local backend left|has none left|"
         r"fails its readiness probe|is terminating|the backend moved from)",
         r"path withdrawn while \S+ is still Terminating"),
    ),
    Category(
        "Withdrawn while it should stay",
        "The LB IP (or a node's path) left the router although something still justified it.",
        (r"to stay for [\d.]+ s",
         r"router no longer has it"),
    ),
    Category(
        "Not advertised within the convergence budget",
        "The router has no path at all to the LB IP that the Service's policy has advertised.",
        (r"next hops: expected \[[^\n]*, router has none in BGP and none in its FIB",),
    ),
    Category(
        "Wrong advertisers or next hops within the convergence budget",
        "The router's ECMP set for the LB IP is not the nodes the Service's policy selects.",
        (r"next hops: expected \[",
         r", not a node",
         r"expected a path from \S+ \("),
    ),
    Category(
        "Path attributes",
        "Prefix length, origin, AS path, communities, LOCAL_PREF or aggregation differ from the "
        "advertisement.",
        (r"expected a /32 of origin IGP",
         r"expected community",
         r"expected LOCAL_PREF",
         r"expected no /32 \(aggregated"),
    ),
    Category(
        "Source IP not preserved or unexpected SNAT",
        "A backend saw another RemoteAddr than the Service's traffic policy promises.",
        (r"expected RemoteAddr",),
    ),
    Category(
        "ECMP: a flow split across next hops",
        "Packets of one flow left the router by different next hops: connections would break.",
        (r"expected every packet of a flow on one next hop",
         r"expected each connection's SYN to leave the router once[^\n]*, then "),
    ),
    Category(
        "ECMP: one client's flows not on one next hop under L3 hashing",
        "Hash policy 0 should ignore ports, yet one client's flows took several next hops.",
        (r"expected all on one next hop",),
    ),
    Category(
        "ECMP: no spread over the next hops",
        "Flows did not reach every advertising node, or not evenly enough (chi-squared test).",
        (r"expected an even spread over",
         r"expected some through each of"),
    ),
    Category(
        "Connections broken by next-hop churn",
        "Long-lived connections whose next hop did not change broke while another node's path "
        "came and went (more than the budget allows).",
        (r"connections whose next hop did not change broke",),
    ),
    Category(
        "Graceful restart not honoured",
        "The router dropped a restarting node's path despite graceful restart, never marked it "
        "stale, kept it without graceful restart, or did not take it back.",
        (r"expected the router to keep \S+ path while its agent restarted",
         r"path marked stale while its agent was away",
         r"expected the router to drop \S+ path when its agent stopped",
         r"path dropped within [\d.]+ s of its agent pod's deletion",
         r"path back \(not stale\)"),
    ),
    Category(
        "Disruption over budget (agent restart or upgrade)",
        "The client behind the router saw more failed requests or broken connections than the "
        "budget allows while Cilium agents restarted or were upgraded.",
        (r"expected at most \d+ failed requests",),
    ),
    Category(
        "Traffic not delivered",
        "Requests went unanswered or crafted flows never left the router towards a node.",
        (r"expected every request answered",
         r"expected each answered before",
         r"never left the router towards a node"),
    ),
)


def category_of(status: str, message: str) -> str | None:
    """The name of the category Allure files a result under, or None (its defaults)."""
    return next((c.name for c in CATEGORIES if c.matches(status, message)), None)


def as_allure() -> list[dict[str, Any]]:
    """The categories in the ``categories.json`` format (Allure 2, and Allure 3's reader)."""
    return [category.as_allure() for category in CATEGORIES]


def write_categories(alluredir: Path) -> Path:
    path = alluredir / CATEGORIES_FILE
    alluredir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(as_allure(), indent=2, ensure_ascii=False) + "\n")
    return path
