"""``cbgp_node`` parametrisation from the inventory, with and without xdist."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import REFERENCE_NODES, inventory_text

NODE_TEST = """
import pytest

def test_node(cbgp_node, cbgp_inventory):
    assert cbgp_node in cbgp_inventory.nodes

def test_same_run_id_everywhere(cbgp_settings, tmp_path_factory):
    (tmp_path_factory.getbasetemp().parent / f"run-id-{cbgp_settings.run_id}").touch()
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CBGP_LAB", "CBGP_LAB_FILE", "CBGP_KEEP_LAB"):
        monkeypatch.delenv(name, raising=False)


def test_ids_are_node_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NODE_TEST)
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-k", "test_node")
    result.stdout.fnmatch_lines(
        [f"test_ids_are_node_names.py::test_node[[]{name}[]]" for name in REFERENCE_NODES]
    )


def test_five_node_inventory_gives_five_tests(pytester: pytest.Pytester) -> None:
    (pytester.path / "five.yaml").write_text(inventory_text(5))
    pytester.makepyfile(NODE_TEST)
    result = pytester.runpytest_inprocess("--lab-file=five.yaml", "-v", "-k", "test_node")
    result.assert_outcomes(passed=5)
    for i in range(1, 6):
        result.stdout.fnmatch_lines([f"*::test_node[[]node-{i}[]] PASSED*"])


def test_without_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NODE_TEST)
    result = pytester.runpytest_inprocess("-p", "no:xdist")
    result.assert_outcomes(passed=4)


def test_with_two_xdist_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NODE_TEST)
    result = pytester.runpytest_subprocess("-n", "2")
    result.stdout.fnmatch_lines(["created: 2/2 workers"])
    result.assert_outcomes(passed=4)


def test_xdist_workers_share_the_controllers_run_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NODE_TEST)
    result = pytester.runpytest_subprocess("-n", "2", "--dist=each", "-k", "same_run_id")
    result.assert_outcomes(passed=2)
    assert len(list(pytester.path.glob("**/run-id-*"))) == 1
