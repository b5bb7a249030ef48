"""Who starts and stops the lab: a lab this run started is stopped at the end (unless
``--keep-lab``), a lab found running is adopted and left alone, a broken lab ends the run in one
line."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import FakeLabRun

USES_LAB = """
def test_one(cbgp_lab):
    assert cbgp_lab.name == "fake"

def test_two(cbgp_lab):
    pass

def test_three(cbgp_lab):
    pass
"""

NO_LAB = "def test_plain(cbgp_inventory): pass\n"


def test_lab_started_by_this_run_is_stopped_at_the_end(fake_lab: FakeLabRun) -> None:
    fake_lab.pytester.makepyfile(USES_LAB)
    fake_lab.pytester.runpytest_inprocess(*fake_lab.args).assert_outcomes(passed=3)
    assert fake_lab.calls() == ["ensure_running", "stop"]
    assert not fake_lab.running


def test_lab_already_running_is_adopted_and_left_running(fake_lab: FakeLabRun) -> None:
    fake_lab.set_running()
    fake_lab.pytester.makepyfile(USES_LAB)
    fake_lab.pytester.runpytest_inprocess(*fake_lab.args).assert_outcomes(passed=3)
    assert fake_lab.calls() == ["ensure_running"]
    assert fake_lab.running


def test_keep_lab_leaves_a_lab_it_started_running(fake_lab: FakeLabRun) -> None:
    fake_lab.pytester.makepyfile(USES_LAB)
    result = fake_lab.pytester.runpytest_inprocess(*fake_lab.args, "--keep-lab")
    result.assert_outcomes(passed=3)
    assert fake_lab.calls() == ["ensure_running"]
    assert fake_lab.running


def test_a_run_that_never_asks_for_the_lab_leaves_it_alone(fake_lab: FakeLabRun) -> None:
    fake_lab.pytester.makepyfile(NO_LAB)
    fake_lab.pytester.runpytest_inprocess(*fake_lab.args).assert_outcomes(passed=1)
    assert fake_lab.calls() == []


def test_xdist_workers_start_the_lab_once_and_the_controller_stops_it(
    fake_lab: FakeLabRun,
) -> None:
    fake_lab.pytester.makepyfile(USES_LAB)
    result = fake_lab.pytester.runpytest_subprocess(*fake_lab.args, "-n", "2", "--dist=each")
    result.assert_outcomes(passed=6)
    assert fake_lab.calls() == ["ensure_running", "ensure_running", "stop"]
    assert not fake_lab.running


def test_broken_lab_ends_the_run_in_one_line(fake_lab: FakeLabRun) -> None:
    fake_lab.break_with("not root: the fake lab needs root (run with sudo)")
    fake_lab.pytester.makepyfile(USES_LAB)
    result = fake_lab.pytester.runpytest_subprocess(*fake_lab.args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.lines + result.stderr.lines
    said = [line for line in output if "cbgp: not root" in line]
    assert len(said) == 1, output
    assert said[0].strip("! ").endswith(
        "cbgp: not root: the fake lab needs root (run with sudo)"
    )
    assert "Traceback" not in "\n".join(output)
    assert fake_lab.calls() == ["ensure_running"]


def test_broken_lab_under_xdist_ends_the_run_with_exit_code_4(fake_lab: FakeLabRun) -> None:
    fake_lab.break_with("gobgpd is missing: apt-get install gobgpd")
    fake_lab.pytester.makepyfile(USES_LAB)
    result = fake_lab.pytester.runpytest_subprocess(*fake_lab.args, "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = "\n".join(result.stdout.lines + result.stderr.lines)
    assert "INTERNALERROR" not in output
    assert "Traceback" not in output
    result.stdout.fnmatch_lines(["*Interrupted: cbgp: gobgpd is missing: apt-get install gobgpd*"])


def test_keep_lab_says_the_lab_was_left_running(fake_lab: FakeLabRun) -> None:
    fake_lab.pytester.makepyfile(USES_LAB)
    result = fake_lab.pytester.runpytest_inprocess(*fake_lab.args, "--keep-lab")
    result.stdout.fnmatch_lines(["cbgp: lab fake left running (--keep-lab)"])
