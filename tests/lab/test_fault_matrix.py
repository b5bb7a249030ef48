"""Proof that the suite catches every regression the embedded lab can reproduce.

For each fault switch of the emulated Cilium (``cbgp-lab faults``) the whole suite runs on a lab
of its own brought up with that fault, and the tests that fail must be exactly the ones this
table names: each fails because of the behaviour its name promises, and nothing else breaks.
The faithful lab — with the default agent options and with
``enable-no-service-endpoints-routable=false`` — passes it entirely.

The runs are independent labs, so they run a few at a time; a short convergence budget keeps
each failing wait short (the lab converges in well under a second, see
``benchmarks/emulated_cilium.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from pytest_ciliumbgp.emulator import faults
from pytest_ciliumbgp.kube.agent_config import NO_ENDPOINTS_ROUTABLE
from tests.lab.conftest import _require_lab
from tests.lab.suite_runs import SuiteRun, run_suite

pytestmark = pytest.mark.lab

#: Labs running at once: a suite run mostly waits (about 20 % of one core), so six share two cores.
PARALLEL_LABS = 6
BUDGET_S = 4.0

ADVERTISED = "test_advertisement.py::test_lb_ip_is_advertised_from_the_right_nodes"
SESSIONS = "test_bgp_sessions.py::test_router_has_established_session_with_node"
SURVIVAL = ("test_connection_survival.py::"
            "test_connections_on_an_unchanged_next_hop_survive_next_hop_churn")
LBIPAM = "test_lbipam.py::"
AGGREGATION = "test_path_attributes.py::test_aggregation_shortens_cluster_and_keeps_local_at_32"
COMMUNITIES = "test_path_attributes.py::test_communities_reach_the_router"
SHARED_VIP = "test_shared_vip.py::test_shared_vip_stays_advertised_until_its_last_service_goes"
SOURCE_IP = "test_source_ip.py::test_backend_sees_the_promised_source_address"
TOGGLE = "test_source_ip.py::test_traffic_policy_toggle_flips_advertisers_and_snat"
TERMINATING = "test_terminating.py::test_node_path_is_withdrawn_while_its_backend_terminates"
RECREATED = ("test_withdrawal.py::"
             "test_node_path_goes_with_its_deleted_backend_and_returns_with_a_recreated_one")
UNREADY = "test_withdrawal.py::test_node_path_goes_while_its_backend_is_unready"
MOVED = "test_withdrawal.py::test_node_path_moves_with_its_backend"
NO_LONGER_SERVED = "test_withdrawal.py::test_lb_ip_is_withdrawn_everywhere_when_no_longer_served"
NO_BACKENDS = ("test_withdrawal.py::"
               "test_cluster_lb_ip_without_backends_follows_no_service_endpoints_routable")
ECMP = "test_ecmp.py::"


def cases(test: str, *params: str) -> set[str]:
    return {f"{test}[{param}]" for param in params}


def local_advertisers_checks() -> set[str]:
    """Every test that checks which nodes advertise a Local Service."""
    return (cases(ADVERTISED, "etp=Local-backends=none", "etp=Local-backends=one",
                  "etp=Local-backends=two")
            | {AGGREGATION, TOGGLE, TERMINATING} | cases(SHARED_VIP, "etp=Local")
            | cases(SOURCE_IP, "etp=Local-backends=one", "etp=Local-backends=two")
            | cases(RECREATED, "backends=one", "backends=two")
            | cases(UNREADY, "backends=one", "backends=two")
            | cases(MOVED, "backends=one", "backends=two")
            | cases(NO_LONGER_SERVED, "etp=Local-change=service-deleted",
                    "etp=Local-change=type-clusterip", "etp=Local-change=advertisement-deleted")
            | cases(SURVIVAL, "hash=L3", "hash=L4"))


def local_withdrawal_checks() -> set[str]:
    """Every test in which a node's last local backend goes and its path must follow."""
    return (cases(RECREATED, "backends=one", "backends=two")
            | cases(UNREADY, "backends=one", "backends=two")
            | cases(MOVED, "backends=one", "backends=two")
            | {TERMINATING, TOGGLE} | cases(SURVIVAL, "hash=L3", "hash=L4"))


def cluster_advertisers_checks() -> set[str]:
    """Every test that needs a Cluster Service advertised from nodes without a backend (the
    ECMP checks put a backend on every node, so they cannot tell)."""
    return (cases(ADVERTISED, "etp=Cluster-backends=none", "etp=Cluster-backends=one",
                  "etp=Cluster-backends=two")
            | {AGGREGATION, COMMUNITIES, TOGGLE, NO_BACKENDS,
               f"{LBIPAM}test_bgp_control_plane_class_is_served_and_advertised"}
            | cases(SHARED_VIP, "etp=Cluster")
            | cases(SOURCE_IP, "etp=Cluster-backends=one", "etp=Cluster-backends=two")
            | cases(NO_LONGER_SERVED, "etp=Cluster-change=service-deleted",
                    "etp=Cluster-change=type-clusterip",
                    "etp=Cluster-change=advertisement-deleted"))


def every_route_check(run: SuiteRun) -> set[str]:
    """Every test of the run that looks at a Service's route on the router: all but the BGP
    session and LB-IPAM allocation checks, the Local Service without backends (it expects no
    route at all, whatever its form) and what the run skipped (such as local preference on an
    eBGP lab)."""
    route_free = {test for test in run.outcomes if test.startswith((SESSIONS, LBIPAM))}
    route_free.discard(f"{LBIPAM}test_bgp_control_plane_class_is_served_and_advertised")
    route_free.add(f"{ADVERTISED}[etp=Local-backends=none]")
    return set(run.outcomes) - route_free - run.with_outcome("skipped")


@dataclass(frozen=True)
class Case:
    """One lab configuration and the tests it must fail."""

    name: str
    faults: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    expected: Callable[[SuiteRun], set[str]] = field(default=lambda run: set())

    def __str__(self) -> str:
        return self.name


def fixed(tests: set[str]) -> Callable[[SuiteRun], set[str]]:
    return lambda run: tests


ROUTABLE_OFF = f"{NO_ENDPOINTS_ROUTABLE}=false"

CASES = (
    Case("faithful"),
    Case("faithful-no-endpoints-unroutable", options=(ROUTABLE_OFF,)),
    Case(faults.ADVERTISE_LOCAL_FROM_ALL_NODES, (faults.ADVERTISE_LOCAL_FROM_ALL_NODES,),
         expected=fixed(local_advertisers_checks())),
    Case(faults.KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT,
         (faults.KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT,),
         expected=fixed(local_withdrawal_checks())),
    Case(faults.WITHDRAW_AFTER_TERMINATING_GONE, (faults.WITHDRAW_AFTER_TERMINATING_GONE,),
         expected=fixed({TERMINATING} | cases(UNREADY, "backends=one", "backends=two"))),
    Case(faults.ADVERTISE_CLUSTER_ONLY_WITH_LOCAL_BACKEND,
         (faults.ADVERTISE_CLUSTER_ONLY_WITH_LOCAL_BACKEND,),
         expected=fixed(cluster_advertisers_checks())),
    Case(faults.KEEP_ADVERTISED_WITHOUT_ENDPOINTS, (faults.KEEP_ADVERTISED_WITHOUT_ENDPOINTS,),
         options=(ROUTABLE_OFF,),
         expected=fixed({NO_BACKENDS, f"{ADVERTISED}[etp=Cluster-backends=none]"})),
    Case(faults.WITHDRAW_SHARED_VIP_ON_FIRST_DELETE, (faults.WITHDRAW_SHARED_VIP_ON_FIRST_DELETE,),
         expected=fixed(cases(SHARED_VIP, "etp=Cluster", "etp=Local"))),
    Case(faults.LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION,
         (faults.LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION,),
         expected=fixed(cases(RECREATED, "backends=one", "backends=two")
                        | cases(MOVED, "backends=one", "backends=two") | {NO_BACKENDS})),
    Case(faults.SNAT_LOCAL_BACKEND_UNDER_CLUSTER, (faults.SNAT_LOCAL_BACKEND_UNDER_CLUSTER,),
         expected=fixed(cases(SOURCE_IP, "etp=Cluster-backends=one", "etp=Cluster-backends=two")
                        | {TOGGLE})),
    Case(faults.SNAT_UNDER_LOCAL, (faults.SNAT_UNDER_LOCAL,),
         expected=fixed(cases(SOURCE_IP, "etp=Local-backends=one", "etp=Local-backends=two")
                        | {TOGGLE})),
    Case(faults.ALLOCATE_FROM_CONFLICTING_POOL, (faults.ALLOCATE_FROM_CONFLICTING_POOL,),
         expected=fixed({f"{LBIPAM}test_newer_overlapping_pool_conflicts_and_allocates_nothing"})),
    Case(faults.IGNORE_BGP_CONTROL_PLANE_CLASS, (faults.IGNORE_BGP_CONTROL_PLANE_CLASS,),
         expected=fixed({f"{LBIPAM}test_bgp_control_plane_class_is_served_and_advertised"})),
    Case(faults.WRONG_PREFIX_LENGTH, (faults.WRONG_PREFIX_LENGTH,), expected=every_route_check),
    Case(faults.ADVERTISE_CLUSTER_IP_INSTEAD_OF_LB_IP,
         (faults.ADVERTISE_CLUSTER_IP_INSTEAD_OF_LB_IP,), expected=every_route_check),
    Case(faults.DELAY_ANNOUNCEMENTS, (f"{faults.DELAY_ANNOUNCEMENTS}={2 * BUDGET_S:g}",),
         expected=every_route_check),
)


def test_every_fault_of_the_catalogue_has_a_case() -> None:
    covered = {fault.split("=")[0] for case in CASES for fault in case.faults}
    assert covered == set(faults.CATALOGUE)


def _lab_id(index: int) -> str:
    return f"cbgpm{index:x}"


@pytest.fixture(scope="module")
def matrix_runs(request: pytest.FixtureRequest) -> Iterator[dict[str, SuiteRun]]:
    """The suite run of every case this session selected, a few labs at a time."""
    _require_lab()
    selected = {str(item.callspec.params["case"]) for item in request.session.items
                if isinstance(item, pytest.Function)
                and item.originalname == "test_suite_fails_exactly_where_it_should"}
    chosen = [(index, case) for index, case in enumerate(CASES) if case.name in selected]

    def one(job: tuple[int, Case]) -> tuple[str, SuiteRun]:
        index, case = job
        return case.name, run_suite(_lab_id(index), faults=case.faults, options=case.options,
                                    pytest_args=(f"--cbgp-convergence-budget={BUDGET_S:g}",))

    with ThreadPoolExecutor(PARALLEL_LABS) as pool:
        yield dict(pool.map(one, chosen))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_suite_fails_exactly_where_it_should(case: Case, matrix_runs: dict[str, SuiteRun]) -> None:
    run = matrix_runs[case.name]
    assert run.outcomes, f"{case}: the suite did not run:\n{run.tail()}"
    expected = case.expected(run)
    failing = run.failing
    missed = sorted(expected - failing)
    extra = sorted(failing - expected)
    assert (missed, extra) == ([], []), (
        f"{case}: the suite should fail exactly {len(expected)} tests;\n"
        f"passed although they should catch it: {missed}\n"
        f"failed although unaffected: {extra}\n{run.tail(60)}")
    assert run.exit_code == (1 if expected else 0), run.tail()
