"""Allure steps and attachments are recorded with --alluredir and do nothing without it."""

from __future__ import annotations

import json

import pytest

USES_REPORT = """
from pytest_ciliumbgp import report

def test_reports():
    with report.step("Read the router"):
        report.attach_text("router: show bgp summary", "Neighbor  V  AS")
"""


def test_without_alluredir_nothing_is_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REPORT)
    pytester.runpytest_inprocess().assert_outcomes(passed=1)
    assert [path.name for path in pytester.path.rglob("*-*.json")] == []
    assert [path.name for path in pytester.path.rglob("*-attachment.*")] == []


def test_with_alluredir_step_and_attachment_are_recorded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_REPORT)
    results = pytester.path / "allure-results"
    pytester.runpytest_inprocess(f"--alluredir={results}").assert_outcomes(passed=1)
    [result_file] = results.glob("*-result.json")
    [step] = json.loads(result_file.read_text())["steps"]
    assert step["name"] == "Read the router"
    [attachment] = step["attachments"]
    assert attachment["name"] == "router: show bgp summary"
    assert (results / attachment["source"]).read_text() == "Neighbor  V  AS"
