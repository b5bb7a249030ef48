"""``--cbgp-convergence-budget``: from the command line, the environment or the ini file, checked
to be a positive number of seconds, shown in the report header and handed to ``cbgp_paths``."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import header_run, inventory_text

ENV = "CBGP_CONVERGENCE_BUDGET"


pytestmark = pytest.mark.usefixtures("clean_cbgp_env")
header = header_run


def test_default_is_15_seconds(pytester: pytest.Pytester) -> None:
    header(pytester).stdout.fnmatch_lines([
        "cbgp keep lab: no (default)",
        "cbgp convergence budget: 15 s (default)",
    ])


def test_command_line(pytester: pytest.Pytester) -> None:
    header(pytester, "--cbgp-convergence-budget=2.5").stdout.fnmatch_lines(
        ["cbgp convergence budget: 2.5 s (from --cbgp-convergence-budget)"])


def test_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "30")
    header(pytester).stdout.fnmatch_lines([f"cbgp convergence budget: 30 s (from env {ENV})"])


def test_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncbgp_convergence_budget = 45\n")
    header(pytester).stdout.fnmatch_lines(
        ["cbgp convergence budget: 45 s (from ini cbgp_convergence_budget)"])


def test_command_line_beats_env_beats_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\ncbgp_convergence_budget = 45\n")
    monkeypatch.setenv(ENV, "30")
    header(pytester).stdout.fnmatch_lines([f"cbgp convergence budget: 30 s (from env {ENV})"])
    header(pytester, "--cbgp-convergence-budget", "7").stdout.fnmatch_lines(
        ["cbgp convergence budget: 7 s (from --cbgp-convergence-budget)"])


@pytest.mark.parametrize("given", ["soon", "0", "-3", "nan", "inf", ""])
def test_budget_must_be_a_positive_number(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv(ENV, given)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines == [
        f"ERROR: env {ENV}: expected a positive number of seconds, got {given!r}", ""]


def test_bad_command_line_value_names_the_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--cbgp-convergence-budget=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --cbgp-convergence-budget: expected a positive number of seconds, got '0'"])


def test_option_is_listed_in_help(pytester: pytest.Pytester) -> None:
    pytester.runpytest_inprocess("--help").stdout.fnmatch_lines(
        ["*--cbgp-convergence-budget=SECONDS*"])


def test_cbgp_paths_uses_the_budget(pytester: pytest.Pytester) -> None:
    # The router fixture is replaced: the budget reaches NodePaths without a lab.
    pytester.makeconftest(
        "import pytest\n"
        "@pytest.fixture(scope='session')\n"
        "def cbgp_router():\n"
        "    return 'router'\n"
    )
    pytester.makepyfile(
        "def test_budget(cbgp_paths, cbgp_inventory):\n"
        "    assert (cbgp_paths.budget, cbgp_paths.router) == (4.5, 'router')\n"
        "    assert cbgp_paths.inventory is cbgp_inventory\n"
    )
    result = pytester.runpytest_inprocess("--cbgp-convergence-budget=4.5", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_cbgp_client_host_is_the_first_client_or_a_skip(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_client(cbgp_client_host, cbgp_inventory):\n"
        "    assert cbgp_client_host is cbgp_inventory.clients[0]\n"
        "    assert str(cbgp_client_host.address) == '10.10.1.100'\n"
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)
    (pytester.path / "no_client.yaml").write_text(inventory_text(2))
    result = pytester.runpytest_inprocess("--lab-file=no_client.yaml", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*inventory generated has no client host behind the router"])
