"""The first conformance check, run against the fake lab's router: one test per node, and a
failure that names the node and what the router has, with the router's summary attached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugin.conftest import FakeLabRun

SUITE = Path(__file__).parents[2] / "suites" / "test_bgp_sessions.py"
SUMMARY_TEXT = "Neighbor        V         AS   MsgRcvd\n192.168.50.12  4      65102  Active"


def peer(state: str, remote_as: int) -> dict[str, object]:
    return {"remoteAs": remote_as, "state": state, "pfxRcd": 0, "peerUptime": "00:01:00"}


@pytest.fixture
def suite(fake_lab: FakeLabRun) -> FakeLabRun:
    fake_lab.pytester.makepyfile(test_bgp_sessions=SUITE.read_text())
    # Wait briefly instead of the suite's 30 s: nothing here is still coming up.
    fake_lab.pytester.makeconftest(
        "import pytest\n"
        "from pytest_ciliumbgp import labs\n"
        "labs.LABS['fake'] = 'fakelab:FakeLab'\n"
        "@pytest.fixture(autouse=True)\n"
        "def _short_wait(request, monkeypatch):\n"
        "    monkeypatch.setattr(request.module, 'SESSION_WAIT_S', 0.6)\n"
        "    monkeypatch.setattr(request.module, 'POLL_S', 0.2)\n"
    )
    fake_lab.answer("show bgp summary", SUMMARY_TEXT)
    return fake_lab


def answer_peers(lab: FakeLabRun, peers: dict[str, dict[str, object]]) -> None:
    lab.answer("show bgp summary json", json.dumps({"ipv4Unicast": {"peers": peers}}))


def test_every_node_established_passes(suite: FakeLabRun) -> None:
    answer_peers(suite, {"192.168.50.11": peer("Established", 65101),
                         "192.168.50.12": peer("Established", 65102)})
    result = suite.pytester.runpytest_inprocess(*suite.args, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*[[]node-1[]] PASSED*", "*[[]node-2[]] PASSED*"])


def test_node_whose_session_is_down_fails_alone(suite: FakeLabRun) -> None:
    answer_peers(suite, {"192.168.50.11": peer("Established", 65101),
                         "192.168.50.12": peer("Active", 65102)})
    results = suite.pytester.path / "allure-results"
    result = suite.pytester.runpytest_inprocess(*suite.args, f"--alluredir={results}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "node node-2: expected an Established BGP session"
        " from 192.168.50.12 with remote AS 65102 within 0.6 s,"
        " router has it in state Active with remote AS 65102",
    ])
    [failed] = [doc for doc in (json.loads(p.read_text()) for p in results.glob("*-result.json"))
                if doc["status"] == "failed"]
    [attachment] = failed["attachments"]  # the evidence of the failure sits in a step
    assert (results / attachment["source"]).read_text() == SUMMARY_TEXT + "\n"


def test_node_without_any_session_says_so(suite: FakeLabRun) -> None:
    answer_peers(suite, {"192.168.50.11": peer("Established", 65101)})
    result = suite.pytester.runpytest_inprocess(*suite.args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["node node-2: *, router has no session at all from that address"])


def test_wrong_remote_as_fails(suite: FakeLabRun) -> None:
    answer_peers(suite, {"192.168.50.11": peer("Established", 65101),
                         "192.168.50.12": peer("Established", 65999)})
    result = suite.pytester.runpytest_inprocess(*suite.args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["node node-2: *, router has it in state Established with remote AS 65999"]
    )
