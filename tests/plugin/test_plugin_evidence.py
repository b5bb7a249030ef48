"""The Allure evidence the plugin adds, with the fake lab: ``environment.properties`` and
``categories.json`` at the end of a run with ``--alluredir`` (written by the controller, with
what the first process to get the lab read from it), and the router's and Cilium's state
attached to a test that fails while it holds the lab — never starting a lab for it, never
hiding the test's own failure."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp.evidence import categories
from pytest_ciliumbgp.evidence.categories import category_of
from pytest_ciliumbgp.evidence.failure import STEP_TITLE
from tests.plugin.conftest import FakeLabRun

SHOW_VERSION = "FRRouting 9.1.2 (router) on Linux(6.1.0).\nCopyright 1996-2005 Kunihiro Ishiguro"
BGP_TABLE = {"routerId": "192.168.50.1", "localAS": 65000, "routes": {}}
LAB_CATEGORY = "Lab or probe not usable (router, Kubernetes API, packet capture)"

USES_ROUTER = """
def test_router(cbgp_router):
    pass
"""

FAILS_WITH_ROUTER = """
import pytest

def test_passes(cbgp_router):
    pass

def test_fails(cbgp_router):
    assert 1 == 2, "172.16.9.1/32 next hops: expected none (the test says so)"

def test_fails_without_the_lab():
    assert False, "nothing to do with the lab"

@pytest.fixture
def converged(cbgp_router):
    assert False, "172.16.9.1/32 next hops: expected ['node-1'] (in setup)"

def test_fails_in_setup(converged):
    pass
"""


@pytest.fixture(autouse=True)
def _no_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The fake lab has no Kubernetes API: its kubeconfig is ``$KUBECONFIG``, which is missing."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    for name in ("CBGP_LAB", "CBGP_LAB_FILE", "CBGP_KEEP_LAB"):
        monkeypatch.delenv(name, raising=False)


def properties(results: Path) -> dict[str, str]:
    """environment.properties as key → value (no value here needs unescaping)."""
    lines = (results / "environment.properties").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def results_by_name(results: Path) -> dict[str, dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    return {result["name"]: result for result in found}


def evidence(result: dict[str, Any], results: Path) -> dict[str, str]:
    """Attachment name → content of the result's failure evidence step (empty: no step)."""
    steps = [s for s in result.get("steps", []) if s["name"] == STEP_TITLE]
    if not steps:
        return {}
    [step] = steps
    return {a["name"]: (results / a["source"]).read_text() for a in step["attachments"]}


def host_hash_policy() -> str:
    # The fake lab's router is this machine: its policy, read here without sysctl.
    policy = int(Path("/proc/sys/net/ipv4/fib_multipath_hash_policy").read_text())
    return f"{policy} ({['L3', 'L4', 'L3_INNER', 'CUSTOM'][policy]})"


def test_environment_and_categories_after_a_run(fake_lab: FakeLabRun) -> None:
    fake_lab.answer("show version", SHOW_VERSION)
    fake_lab.pytester.makepyfile(USES_ROUTER)
    results = fake_lab.pytester.path / "allure-results"

    fake_lab.pytester.runpytest_inprocess(*fake_lab.args, f"--alluredir={results}",
                                          "--clean-alluredir").assert_outcomes(passed=1)

    written = properties(results)
    assert written["lab"] == "fake (from --lab)"
    assert written["lab.emulated"] == "everything"
    assert written["inventory"] == f"generated ({fake_lab.pytester.path / 'inventory.yaml'})"
    assert written["frr.version"] == "FRRouting 9.1.2"
    assert written["router.kernel"] == os.uname().release
    assert written["router.fib_multipath_hash_policy"] == host_hash_policy()
    assert written["cilium.version"].startswith("unreadable: kubeconfig ")
    assert written["cilium.version"].endswith("no-such-kubeconfig: no such file")
    assert written["cilium.api"] == written["cilium.version"]
    assert written["pytest.version"] == pytest.__version__
    assert json.loads((results / "categories.json").read_text()) == categories.as_allure()


def test_a_run_that_never_uses_the_lab_does_not_start_it(fake_lab: FakeLabRun) -> None:
    fake_lab.pytester.makepyfile("def test_plain(cbgp_inventory): pass\n")
    results = fake_lab.pytester.path / "allure-results"

    fake_lab.pytester.runpytest_inprocess(*fake_lab.args, f"--alluredir={results}")

    assert fake_lab.calls() == []
    written = properties(results)
    assert written["lab"] == "fake (from --lab)"
    assert written["frr.version"] == "not read: no test used the lab"
    assert written["cilium.version"] == "not read: no test used the lab"


def test_nothing_is_written_without_alluredir(fake_lab: FakeLabRun) -> None:
    fake_lab.answer("show version", SHOW_VERSION)
    fake_lab.pytester.makepyfile(FAILS_WITH_ROUTER)

    fake_lab.pytester.runpytest_inprocess(*fake_lab.args).assert_outcomes(
        passed=1, failed=2, errors=1)

    assert list(fake_lab.pytester.path.rglob("environment.properties")) == []
    assert list(fake_lab.pytester.path.rglob("categories.json")) == []


def test_under_xdist_the_controller_writes_what_a_worker_read(fake_lab: FakeLabRun) -> None:
    fake_lab.answer("show version", SHOW_VERSION)
    fake_lab.pytester.makepyfile(USES_ROUTER.replace("test_router", "test_a")
                                 + USES_ROUTER.replace("test_router", "test_b"))
    results = fake_lab.pytester.path / "allure-results"

    run = fake_lab.pytester.runpytest_subprocess(*fake_lab.args, "-n", "2",
                                                 f"--alluredir={results}")

    run.assert_outcomes(passed=2)
    assert properties(results)["frr.version"] == "FRRouting 9.1.2"
    assert (results / "categories.json").exists()


def test_failed_test_gets_the_router_state_in_one_step(fake_lab: FakeLabRun) -> None:
    fake_lab.answer("show bgp ipv4 unicast json", json.dumps(BGP_TABLE))
    fake_lab.pytester.makepyfile(FAILS_WITH_ROUTER)
    results = fake_lab.pytester.path / "allure-results"

    fake_lab.pytester.runpytest_inprocess(*fake_lab.args, f"--alluredir={results}")

    found = results_by_name(results)
    failed = found["test_fails"]
    assert failed["status"] == "failed"
    assert "expected none (the test says so)" in failed["statusDetails"]["message"]
    attached = evidence(failed, results)
    assert list(attached) == ["router: show bgp ipv4 unicast json", "router: ip route (FIB)",
                              "router: show bgp summary"]
    assert json.loads(attached["router: show bgp ipv4 unicast json"]) == BGP_TABLE
    assert attached["router: show bgp summary"] == (
        "not readable: exited 1: % Unknown command: show bgp summary")
    assert not attached["router: ip route (FIB)"].startswith("not readable")
    in_setup = evidence(found["test_fails_in_setup"], results)
    assert list(in_setup) == list(attached)
    assert in_setup["router: show bgp ipv4 unicast json"] == (
        attached["router: show bgp ipv4 unicast json"])
    assert evidence(found["test_passes"], results) == {}
    assert evidence(found["test_fails_without_the_lab"], results) == {}


def test_a_router_that_does_not_answer_is_tried_once(fake_lab: FakeLabRun) -> None:
    tried = fake_lab.pytester.path / "tried.log"
    fake_lab.pytester.makeconftest(
        "import pytest\n"
        "from pytest_ciliumbgp import labs\n"
        "from pytest_ciliumbgp.router.frr import FrrRouter\n"
        "from pytest_ciliumbgp.transport import Transport, TransportError\n"
        "labs.LABS['fake'] = 'fakelab:FakeLab'\n"
        "class Unreachable(Transport):\n"
        "    def run(self, command, *, input=None, timeout=60.0):\n"
        f"        with open({str(tried)!r}, 'a') as log:\n"
        "            log.write(' '.join(command) + '\\n')\n"
        "        raise TransportError(f'no answer within {timeout:g} s')\n"
        "@pytest.fixture(scope='session')\n"
        "def cbgp_router(cbgp_lab):\n"
        "    return FrrRouter(Unreachable())\n"
    )
    fake_lab.pytester.makepyfile(FAILS_WITH_ROUTER)
    results = fake_lab.pytester.path / "allure-results"

    fake_lab.pytester.runpytest_inprocess(*fake_lab.args, f"--alluredir={results}",
                                          "-k", "test_fails and not setup and not without")

    failed = results_by_name(results)["test_fails"]
    assert failed["status"] == "failed"
    assert "expected none (the test says so)" in failed["statusDetails"]["message"]
    attached = evidence(failed, results)
    assert attached["router: show bgp ipv4 unicast json"] == (
        "not readable: no answer within 10 s")
    assert attached["router: ip route (FIB)"] == (
        "not readable: not tried: router did not answer (no answer within 10 s)")
    assert tried.read_text().splitlines() == ["vtysh -c show bgp ipv4 unicast json"]


def test_a_router_error_is_a_broken_lab_test(fake_lab: FakeLabRun) -> None:
    fake_lab.pytester.makepyfile("def test_peers(cbgp_router):\n    cbgp_router.bgp_peers()\n")
    results = fake_lab.pytester.path / "allure-results"

    fake_lab.pytester.runpytest_inprocess(*fake_lab.args, f"--alluredir={results}")

    result = results_by_name(results)["test_peers"]
    assert result["status"] == "broken"
    assert category_of(result["status"], result["statusDetails"]["message"]) == LAB_CATEGORY


def test_an_unusable_api_under_xdist_is_a_lab_failure(
    fake_lab: FakeLabRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = fake_lab.pytester.path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    fake_lab.pytester.makepyfile("def test_api(cbgp_kube):\n    pass\n")
    results = fake_lab.pytester.path / "allure-results"

    fake_lab.pytester.runpytest_subprocess(*fake_lab.args, "-n", "2", f"--alluredir={results}")

    result = results_by_name(results)["test_api"]
    assert result["statusDetails"]["message"].startswith(
        "Failed: cbgp: Kubernetes API of lab fake not usable")
    assert category_of(result["status"], result["statusDetails"]["message"]) == LAB_CATEGORY


def test_chart_is_attached_as_png(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "from pytest_ciliumbgp.evidence.charts import attach_flow_counts\n"
        "def test_chart():\n"
        "    attach_flow_counts('chart: flows', {'hash=L4 (1)': {'a': 2, 'b': 1}}, ['a', 'b'],"
        " '3 flows')\n")
    results = pytester.path / "allure-results"

    pytester.runpytest_inprocess(f"--alluredir={results}").assert_outcomes(passed=1)

    [attachment] = results_by_name(results)["test_chart"]["attachments"]
    assert (attachment["name"], attachment["type"]) == ("chart: flows", "image/png")
    assert (results / attachment["source"]).read_bytes().startswith(b"\x89PNG")
