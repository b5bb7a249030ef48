"""A program held across a test's steps, run on this machine through the local transport."""

from __future__ import annotations

import sys
import textwrap

import pytest

from pytest_ciliumbgp.flows.background import Background, BackgroundError
from pytest_ciliumbgp.transport import LocalTransport

# Says hello, then ready; echoes each mark with the step count; reports when stdin closes.
ECHO = textwrap.dedent("""
    import sys
    print("hello", flush=True)
    print("ready", flush=True)
    marks = [line.strip() for line in sys.stdin]
    print("marks: " + ",".join(marks))
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
""")


def program(source: str, *arguments: str, timeout: float = 10.0) -> Background:
    return Background(LocalTransport(), [sys.executable, "-c", source, *arguments],
                      what="test program", timeout=timeout)


def test_marks_reach_the_program_and_its_report_comes_back() -> None:
    with program(ECHO) as echo:
        assert echo.preamble == ["hello"]
        echo.mark("one")
        echo.mark("two\nlines")
        assert echo.finish() == ["marks: one,two lines"]


def test_a_program_that_ends_before_ready_says_why() -> None:
    failing = program("import sys; sys.exit('no scapy here')")
    with pytest.raises(BackgroundError, match=r"^test program on local:// did not start: "
                                              r"no scapy here$"):
        failing.start()


def test_a_program_that_never_gets_ready_is_killed() -> None:
    silent = program("import time; time.sleep(30)", timeout=0.5)
    with pytest.raises(BackgroundError, match=r"did not start: nothing said within 0\.5 s$"):
        silent.start()
    assert silent._process is not None
    assert silent._process.poll() is not None


def test_a_failing_exit_is_an_error_with_its_code() -> None:
    with program(ECHO, "4") as echo, pytest.raises(BackgroundError, match="exited 4"):
        echo.finish()


def test_a_missing_program_is_one_line() -> None:
    missing = Background(LocalTransport(), ["/nonexistent/cbgp-program"], what="probe")
    with pytest.raises(BackgroundError, match="cannot start /nonexistent/cbgp-program"):
        missing.start()


def test_marking_a_program_never_started_is_an_error() -> None:
    with pytest.raises(BackgroundError, match="was never started"):
        program(ECHO).mark("one")


def test_leaving_the_block_early_kills_the_program() -> None:
    with program(ECHO) as echo:
        process = echo._process
    assert process is not None
    assert process.poll() is not None


def test_a_silent_failure_is_told_by_its_exit_code() -> None:
    with pytest.raises(BackgroundError, match=r"did not start: exit 5$"):
        program("import sys; sys.exit(5)").start()


def test_launch_leaves_the_wait_for_later() -> None:
    echo = program(ECHO)
    echo.launch()
    try:
        assert echo.preamble == []  # nothing read yet: the test sets up meanwhile
        echo.wait_ready()
        echo.wait_ready()  # once ready, at once
        assert echo.preamble == ["hello"]
        echo.mark("one")
        assert echo.finish() == ["marks: one"]
    finally:
        echo.kill()
