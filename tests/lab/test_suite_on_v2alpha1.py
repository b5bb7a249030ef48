"""The conformance suite runs unchanged on a cluster that serves the BGP and LB-IPAM kinds only
as cilium.io/v2alpha1: an embedded lab playing Cilium 1.17 runs the whole suite under
``-n 2 --dist loadgroup``, green, every object made in v2alpha1, and the checks that need a newer
Cilium skip with a reason that names the version."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ciliumbgp.kube.client import connect
from pytest_ciliumbgp.kube.versions import detect_cilium_api
from tests.lab.conftest import ROOT, LabCli, lab_cli
from tests.lab.suite_runs import outcomes_from_junit

pytestmark = pytest.mark.lab

LAB_ID = "cbgpt5"
CILIUM = "1.17"
# Suite checks that need Cilium >= 1.18, and what their skip reason must say.
NEWER_ONLY = {
    "test_path_attributes.py::test_aggregation_shortens_cluster_and_keeps_local_at_32":
        "Cilium < 1.18",
    "test_withdrawal.py::"
    "test_cluster_lb_ip_without_backends_follows_no_service_endpoints_routable":
        "after Cilium 1.18.0",
}
# Skips that have nothing to do with the version: the node exclusion check runs only serially,
# LOCAL_PREF cannot reach an eBGP router, the upgrade gate runs only when asked for.
UNRELATED_SKIPS = {
    "test_node_exclusion.py::test_excluded_node_advertises_nothing",
    "test_path_attributes.py::test_local_preference_reaches_an_ibgp_router",
    "test_upgrade.py::test_cilium_upgrade_stays_within_the_disruption_budget",
}


@dataclass
class SuiteOnOlderCilium:
    lab: LabCli
    result: subprocess.CompletedProcess[str]
    junit: Path
    allure: Path
    cilium_api: str
    status: dict[str, Any]

    @property
    def output(self) -> str:
        return "\n".join((self.result.stdout + self.result.stderr).splitlines()[-60:])


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteOnOlderCilium]:
    work = tmp_path_factory.mktemp("suite-on-v2alpha1")
    for cli in lab_cli(LAB_ID, work):
        up = cli.run("up", "--cilium-version", CILIUM)
        assert up.returncode == 0, up.stderr
        status = cli.status()
        with connect(str(status["kubeconfig"]), request_timeout=10) as cluster:
            api = detect_cilium_api(cluster).api_version
        junit, allure = work / "junit.xml", work / "allure"
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "suites/", "--lab=netns", "-p", "no:cacheprovider",
             "-q", "-rsfE", "-n", "2", "--dist", "loadgroup", f"--junitxml={junit}",
             f"--alluredir={allure}"],
            env=cli.env, cwd=ROOT, capture_output=True, text=True, timeout=1500, check=False,
        )
        yield SuiteOnOlderCilium(cli, result, junit, allure, api, status)


def skip_reasons(junit: Path) -> dict[str, str]:
    """``{module.py::test: skip message}`` of the skipped tests (parameters dropped)."""
    reasons = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            module = case.get("classname", "").rsplit(".", 1)[-1]
            test = str(case.get("name")).split("[", 1)[0]
            reasons[f"{module}.py::{test}"] = skipped.get("message", "")
    return reasons


def test_the_lab_serves_the_bgp_kinds_only_as_v2alpha1(suite_run: SuiteOnOlderCilium) -> None:
    assert suite_run.status["cilium_version"] == "1.17.0"
    assert suite_run.cilium_api == "cilium.io/v2alpha1"


def test_the_whole_suite_is_green(suite_run: SuiteOnOlderCilium) -> None:
    assert suite_run.result.returncode == 0, suite_run.output
    outcomes = outcomes_from_junit(suite_run.junit)
    failing = sorted(test for test, outcome in outcomes.items() if outcome in ("failed", "error"))
    assert failing == [], suite_run.output
    assert sum(outcome == "passed" for outcome in outcomes.values()) >= 30, outcomes
    assert "cbgp: Cilium v1.17.0, API cilium.io/v2alpha1" in suite_run.result.stdout


def test_checks_for_newer_releases_skip_naming_the_version(
    suite_run: SuiteOnOlderCilium,
) -> None:
    reasons = skip_reasons(suite_run.junit)
    for test, names in NEWER_ONLY.items():
        assert names in reasons.get(test, "(not skipped)"), f"{test}: {reasons.get(test)}"
    unexpected = set(reasons) - set(NEWER_ONLY) - UNRELATED_SKIPS
    assert unexpected == set(), {test: reasons[test] for test in unexpected}


def test_every_cilium_object_the_suite_made_is_v2alpha1(suite_run: SuiteOnOlderCilium) -> None:
    made = [document for path in sorted(suite_run.allure.glob("*-attachment.yaml"))
            for document in yaml.safe_load_all(path.read_text())
            if isinstance(document, dict) and str(document.get("kind", "")).startswith("Cilium")]
    assert {document["kind"] for document in made} >= {"CiliumLoadBalancerIPPool",
                                                        "CiliumBGPAdvertisement"}
    versions = {(document["kind"], document["apiVersion"]) for document in made}
    assert {api_version for _, api_version in versions} == {"cilium.io/v2alpha1"}, versions


def test_the_running_lab_is_not_taken_for_another_release(suite_run: SuiteOnOlderCilium) -> None:
    newer = suite_run.lab.run("up", "--cilium-version", "1.18")
    assert newer.returncode == 2
    assert f"lab '{LAB_ID}' already runs Cilium 1.17.0, not 1.18.2" in newer.stderr
    adopted = suite_run.lab.run("up")
    assert adopted.returncode == 0, adopted.stderr
    assert "already running" in adopted.stderr
