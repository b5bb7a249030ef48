"""``--cbgp-upgrade-to``: every check runs before the upgrade and again after it, the upgrade
check in between; an upgrade that does not roll out skips the checks after it; the terminal
summary says before / during / after; xdist and bad values are refused in one line. Run on the
fake lab, with the upgrade itself replaced (``tests/unit/test_upgrade_rollout.py`` tests it)."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.upgrade import plugin
from pytest_ciliumbgp.upgrade.rollout import Upgrade, UpgradeError
from tests.plugin.conftest import FakeLabRun

CONFTEST = """
import pytest
from pytest_ciliumbgp import labs
labs.LABS['fake'] = 'fakelab:FakeLab'

@pytest.fixture
def cbgp_kube():
    return object()
"""

CHECKS = """
import pytest
from pytest_ciliumbgp.disruption.steady_client import Disruption

@pytest.mark.parametrize("node", ["a", "b"])
def test_check(node):
    pass

def test_upgrade(cbgp_upgrade):
    cbgp_upgrade.run()
    cbgp_upgrade.measured(Disruption(requests=10, failed_requests=FAILED, steps=(),
                                     failures=(), failing=None, pods={}))
"""


@pytest.fixture
def gate_run(fake_lab: FakeLabRun, monkeypatch: pytest.MonkeyPatch) -> FakeLabRun:
    fake_lab.pytester.makeconftest(CONFTEST)
    for name in ("CBGP_UPGRADE_TO", "CBGP_DISRUPTION_BUDGET"):
        monkeypatch.delenv(name, raising=False)
    return fake_lab


def upgraded_to(version: str) -> Upgrade:
    return Upgrade("quay.io/cilium/cilium:v1.18.2", f"quay.io/cilium/cilium:v{version}",
                   "image set", 12.5)


def checks(run: FakeLabRun, failed: int = 0) -> None:
    run.pytester.makepyfile(test_suite=CHECKS.replace("FAILED", str(failed)))


def test_without_the_option_the_checks_run_once_and_the_upgrade_check_skips(
    gate_run: FakeLabRun,
) -> None:
    checks(gate_run)
    result = gate_run.pytester.runpytest_inprocess(*gate_run.args, "-rs")

    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*no upgrade asked for: --cbgp-upgrade-to=VERSION runs the "
                                 "upgrade gate*"])
    assert "cbgp upgrade gate" not in result.stdout.str()


def test_the_checks_run_before_the_upgrade_and_again_after_it(
    gate_run: FakeLabRun, monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    def fake_upgrade(cluster: object, version: str, **options: object) -> Upgrade:
        asked.append(version)
        return upgraded_to(version)

    monkeypatch.setattr(plugin, "upgrade", fake_upgrade)
    checks(gate_run)
    result = gate_run.pytester.runpytest_inprocess(*gate_run.args, "-v",
                                                   "--cbgp-upgrade-to=v1.19.0")

    result.assert_outcomes(passed=5)
    assert asked == ["1.19.0"]
    result.stdout.fnmatch_lines([
        "cbgp upgrade gate: to Cilium 1.19.0 (from --cbgp-upgrade-to)",
        "*test_check?before-upgrade-a? PASSED*",
        "*test_check?before-upgrade-b? PASSED*",
        "*test_upgrade PASSED*",
        "*test_check?after-upgrade-a? PASSED*",
        "*test_check?after-upgrade-b? PASSED*",
        "*cbgp upgrade gate: Cilium 1.19.0*",
        "before: 2 passed",
        "during: quay.io/cilium/cilium:v1.18.2 -> quay.io/cilium/cilium:v1.19.0 by image set, "
        "rolled out in 12.5 s",
        "during: steady client: 0 of 10 requests failed, 0 of 0 held connections broke; "
        "within the budget of 0 failed requests (--cbgp-disruption-budget)",
        "after: 2 passed",
    ])


def test_a_disruption_over_budget_shows_in_the_summary(
    gate_run: FakeLabRun, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(plugin, "upgrade", lambda cluster, version, **_: upgraded_to(version))
    checks(gate_run, failed=3)
    result = gate_run.pytester.runpytest_inprocess(*gate_run.args, "--cbgp-upgrade-to=1.19.0",
                                                   "--cbgp-disruption-budget=2")

    result.stdout.fnmatch_lines(["during: steady client: 3 of 10 requests failed, *; OVER the "
                                 "budget of 2 failed requests (--cbgp-disruption-budget)"])


def test_an_upgrade_that_does_not_roll_out_skips_the_checks_after_it(
    gate_run: FakeLabRun, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def stuck(cluster: object, version: str, **options: object) -> Upgrade:
        raise UpgradeError("gave up waiting until DaemonSet kube-system/cilium rolled out")

    monkeypatch.setattr(plugin, "upgrade", stuck)
    checks(gate_run)
    result = gate_run.pytester.runpytest_inprocess(*gate_run.args, "--cbgp-upgrade-to=1.19.0")

    result.assert_outcomes(passed=2, failed=1, skipped=2)
    recorded: pytest.HookRecorder = result.reprec  # type: ignore[attr-defined]
    _, skipped, _ = recorded.listoutcomes()
    assert {str(report.longrepr[2]) for report in skipped} == {  # type: ignore[index]
        "Skipped: Cilium was not upgraded to 1.19.0: gave up waiting until DaemonSet "
        "kube-system/cilium rolled out"}
    result.stdout.fnmatch_lines([
        "before: 2 passed",
        "during: not upgraded (gave up waiting until DaemonSet kube-system/cilium rolled out)",
        "after: 2 skipped",
    ])


def test_the_gate_refuses_xdist(gate_run: FakeLabRun) -> None:
    checks(gate_run)
    result = gate_run.pytester.runpytest_subprocess(*gate_run.args, "-n", "2",
                                                    "--cbgp-upgrade-to=1.19.0")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: --cbgp-upgrade-to: the upgrade gate runs its phases in order in one process; "
        "drop -n/--numprocesses")


@pytest.mark.parametrize(("given", "message"), [
    ("--cbgp-upgrade-to=latest",
     "ERROR: --cbgp-upgrade-to: expected a Cilium version such as 1.18.3, got 'latest'"),
    ("--cbgp-disruption-budget=-1",
     "ERROR: --cbgp-disruption-budget: expected a whole number of failed requests (0 or more), "
     "got '-1'"),
])
def test_bad_values_are_one_line(gate_run: FakeLabRun, given: str, message: str) -> None:
    result = gate_run.pytester.runpytest_subprocess(*gate_run.args, given)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines == [message, ""]


def test_the_budget_comes_from_the_environment_and_shows_in_the_header(
    gate_run: FakeLabRun, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CBGP_DISRUPTION_BUDGET", "5")
    gate_run.pytester.makepyfile("def test_nothing(): pass")
    result = gate_run.pytester.runpytest_inprocess(*gate_run.args)

    result.stdout.fnmatch_lines(
        ["cbgp disruption budget: 5 failed requests (from env CBGP_DISRUPTION_BUDGET)"])
