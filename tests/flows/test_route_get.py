"""``ip -batch route get`` input and output, without a router."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from pytest_ciliumbgp.flows.route_get import (
    RouteGetError,
    batch_lines,
    parse_batch,
    route_next_hops,
)
from pytest_ciliumbgp.flows.scapy_probe import Flow
from pytest_ciliumbgp.transport import CommandResult, Transport

FLOWS = [Flow("10.10.1.100", 20001, "172.16.1.1", 80), Flow("10.10.1.100", 20002, "172.16.1.1", 80)]
ANSWERS = "".join(json.dumps([{"dst": "172.16.1.1", "from": "10.10.1.100", "gateway": gateway,
                               "dev": "eth1", "iif": "loop1"}]) + "\n"
                  for gateway in ("192.168.10.100", "192.168.10.101"))


class Canned(Transport):
    def __init__(self, stdout: str, rc: int = 0) -> None:
        self.stdout, self.rc = stdout, rc
        self.inputs: list[str | None] = []

    def run(self, command: Sequence[str], *, input: str | None = None,
            timeout: float = 60.0) -> CommandResult:
        self.inputs.append(input)
        return CommandResult(tuple(command), self.rc, self.stdout, "Error: boom" if self.rc else "")


def test_batch_lines_ask_a_forwarding_lookup_per_flow() -> None:
    assert batch_lines(FLOWS[:1], "loop1") == (
        "route get 172.16.1.1 from 10.10.1.100 iif loop1 ipproto tcp sport 20001 dport 80\n")


def test_parse_batch_reads_one_json_list_per_line() -> None:
    assert parse_batch(ANSWERS) == ["192.168.10.100", "192.168.10.101"]


def test_directly_connected_destination_gives_its_address() -> None:
    assert parse_batch('[{"dst":"10.10.1.100","dev":"loop1"}]\n') == ["10.10.1.100"]


def test_next_hops_per_flow() -> None:
    transport = Canned(ANSWERS)
    assert route_next_hops(transport, FLOWS, "loop1") == {
        FLOWS[0]: "192.168.10.100", FLOWS[1]: "192.168.10.101"}
    assert transport.inputs == [batch_lines(FLOWS, "loop1")]


def test_missing_answers_are_an_error() -> None:
    with pytest.raises(RouteGetError, match="0 answers for 2 flows: Error: boom"):
        route_next_hops(Canned(ANSWERS.splitlines()[0], rc=1), FLOWS, "loop1")
