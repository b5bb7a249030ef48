"""``--cbgp-connection-break-budget``: from the command line, the environment or the ini file,
checked to be a whole number of connections, shown in the report header and handed to tests
through ``cbgp_settings``."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import header_run

ENV = "CBGP_CONNECTION_BREAK_BUDGET"


pytestmark = pytest.mark.usefixtures("clean_cbgp_env")
header = header_run


def test_default_is_no_connection(pytester: pytest.Pytester) -> None:
    header(pytester).stdout.fnmatch_lines([
        "cbgp convergence budget: 15 s (default)",
        "cbgp connection break budget: 0 connections on an unchanged next hop (default)",
    ])


def test_command_line(pytester: pytest.Pytester) -> None:
    header(pytester, "--cbgp-connection-break-budget=1").stdout.fnmatch_lines(
        ["cbgp connection break budget: 1 connection on an unchanged next hop "
         "(from --cbgp-connection-break-budget)"])


def test_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, " 3 ")
    header(pytester).stdout.fnmatch_lines(
        [f"cbgp connection break budget: 3 connections on an unchanged next hop (from env {ENV})"])


def test_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ncbgp_connection_break_budget = 5\n")
    header(pytester).stdout.fnmatch_lines(
        ["cbgp connection break budget: 5 connections on an unchanged next hop "
         "(from ini cbgp_connection_break_budget)"])


def test_command_line_beats_env_beats_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\ncbgp_connection_break_budget = 5\n")
    monkeypatch.setenv(ENV, "3")
    header(pytester).stdout.fnmatch_lines(["cbgp connection break budget: 3 * (from env *)"])
    header(pytester, "--cbgp-connection-break-budget", "0").stdout.fnmatch_lines(
        ["cbgp connection break budget: 0 * (from --cbgp-connection-break-budget)"])


@pytest.mark.parametrize("given", ["some", "-1", "1.5", "", "\u00b2"])
def test_budget_must_be_a_whole_number(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv(ENV, given)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines == [
        f"ERROR: env {ENV}: expected a whole number of connections (0 or more), got {given!r}",
        ""]


def test_bad_command_line_value_names_the_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--cbgp-connection-break-budget=-2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --cbgp-connection-break-budget: expected a whole number "
                                 "of connections (0 or more), got '-2'"])


def test_option_is_listed_in_help(pytester: pytest.Pytester) -> None:
    pytester.runpytest_inprocess("--help").stdout.fnmatch_lines(
        ["*--cbgp-connection-break-budget=COUNT*"])


def test_tests_read_the_budget_from_cbgp_settings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "def test_budget(cbgp_settings):\n"
        "    budget = cbgp_settings.connection_break_budget\n"
        "    assert (budget.value, budget.source) == (2, '--cbgp-connection-break-budget')\n"
    )
    result = pytester.runpytest_inprocess("--cbgp-connection-break-budget=2", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
