"""Options from the command line, the environment and the ini file, and the report header."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.conftest import inventory_text

NETNS_INVENTORY = Path(__file__).parents[2] / "lab" / "netns" / "inventory.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CBGP_LAB", "CBGP_LAB_FILE", "CBGP_KEEP_LAB"):
        monkeypatch.delenv(name, raising=False)


def header(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    return result


def test_defaults_are_netns_with_its_shipped_inventory(pytester: pytest.Pytester) -> None:
    result = header(pytester)
    result.stdout.fnmatch_lines([
        "cbgp lab: netns (default)",
        f"cbgp inventory: {NETNS_INVENTORY.resolve()} (default for lab netns)",
        "cbgp keep lab: no (default)",
        "cbgp: Kubernetes API and Cilium are emulated in this lab",
    ])


def test_command_line(pytester: pytest.Pytester) -> None:
    (pytester.path / "five.yaml").write_text(inventory_text(5))
    result = header(pytester, "--lab=existing", "--lab-file=five.yaml", "--keep-lab")
    result.stdout.fnmatch_lines([
        "cbgp lab: existing (from --lab)",
        f"cbgp inventory: {pytester.path / 'five.yaml'} (from --lab-file)",
        "cbgp keep lab: yes (from --keep-lab)",
    ])
    result.stdout.no_fnmatch_line("*emulated*")


def test_environment(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    (pytester.path / "five.yaml").write_text(inventory_text(5))
    monkeypatch.setenv("CBGP_LAB", "existing")
    monkeypatch.setenv("CBGP_LAB_FILE", "five.yaml")
    monkeypatch.setenv("CBGP_KEEP_LAB", "yes")
    header(pytester).stdout.fnmatch_lines([
        "cbgp lab: existing (from env CBGP_LAB)",
        f"cbgp inventory: {pytester.path / 'five.yaml'} (from env CBGP_LAB_FILE)",
        "cbgp keep lab: yes (from env CBGP_KEEP_LAB)",
    ])


def test_ini_paths_are_relative_to_the_ini_file(pytester: pytest.Pytester) -> None:
    (pytester.mkdir("labs") / "five.yaml").write_text(inventory_text(5))
    pytester.makeini(
        "[pytest]\ncbgp_lab = existing\ncbgp_lab_file = labs/five.yaml\ncbgp_keep_lab = true\n"
    )
    header(pytester).stdout.fnmatch_lines([
        "cbgp lab: existing (from ini cbgp_lab)",
        f"cbgp inventory: {pytester.path / 'labs' / 'five.yaml'} (from ini cbgp_lab_file)",
        "cbgp keep lab: yes (from ini cbgp_keep_lab)",
    ])


def test_command_line_beats_env_beats_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "five.yaml").write_text(inventory_text(5))
    pytester.makeini("[pytest]\ncbgp_lab = bogus-from-ini\ncbgp_lab_file = missing.yaml\n")
    monkeypatch.setenv("CBGP_LAB", "existing")
    monkeypatch.setenv("CBGP_LAB_FILE", "five.yaml")
    header(pytester, "--lab=netns").stdout.fnmatch_lines([
        "cbgp lab: netns (from --lab)",
        "cbgp inventory: *five.yaml (from env CBGP_LAB_FILE)",
    ])


def test_unknown_lab_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--lab=bogus")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines == [
        "ERROR: unknown lab 'bogus'; known labs: existing, kind, netns, vagrant", ""]


def test_lab_without_inventory_asks_for_lab_file(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--lab=existing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: lab 'existing' has no inventory of its own; pass --lab-file*"]
    )


def test_malformed_lab_file_names_file_and_field(pytester: pytest.Pytester) -> None:
    broken = pytester.path / "broken.yaml"
    broken.write_text(inventory_text(3).replace("asn: 65102", "asn: lots"))
    result = pytester.runpytest_subprocess(f"--lab-file={broken}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines == [
        f"ERROR: {broken}: nodes[1].asn: expected an integer 1..4294967295, got 'lots'", ""
    ]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_keep_lab_env_must_be_a_yes_or_no(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CBGP_KEEP_LAB", "maybe")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: env CBGP_KEEP_LAB: expected one of *, got 'maybe'"])


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines([
        "Cilium BGP LoadBalancer conformance:",
        "*--lab=LAB*",
        "*--lab-file=LAB_FILE*",
        "*--keep-lab*",
    ])
