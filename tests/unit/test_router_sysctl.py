"""The ECMP hash policy helpers: with a fake transport, and for real in a throwaway netns."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence

import pytest

from pytest_ciliumbgp.router import (
    HashPolicy,
    RouterError,
    hash_policy,
    read_hash_policy,
    set_hash_policy,
)
from pytest_ciliumbgp.transport import CommandResult, NetnsTransport, Transport

SYSCTL = "net.ipv4.fib_multipath_hash_policy"


class SysctlTransport(Transport):
    """Keeps one sysctl value in memory and answers ``sysctl -n`` / ``sysctl -w``."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.written: list[str] = []

    def run(
        self, command: Sequence[str], *, input: str | None = None, timeout: float = 60.0
    ) -> CommandResult:
        argv = tuple(command)
        if argv == ("sysctl", "-n", SYSCTL):
            return CommandResult(argv, 0, f"{self.value}\n", "")
        if argv[:2] == ("sysctl", "-w") and argv[2].startswith(f"{SYSCTL}="):
            self.value = argv[2].partition("=")[2]
            self.written.append(self.value)
            return CommandResult(argv, 0, f"{argv[2].replace('=', ' = ')}\n", "")
        return CommandResult(argv, 255, "", f"sysctl: cannot stat {argv[-1]}")


@pytest.mark.parametrize(
    ("policy", "label"),
    [(HashPolicy.L3, "L3"), (HashPolicy.L4, "L4"), (HashPolicy.L3_INNER, "L3_INNER"),
     (HashPolicy.CUSTOM, "CUSTOM")],
)
def test_policy_values_are_the_kernel_numbers(policy: HashPolicy, label: str) -> None:
    assert policy.label == label
    assert HashPolicy(int(policy)) is policy


def test_read_and_set() -> None:
    transport = SysctlTransport("0")
    assert read_hash_policy(transport) is HashPolicy.L3
    set_hash_policy(transport, HashPolicy.L4)
    assert read_hash_policy(transport) is HashPolicy.L4


class BodyFailed(Exception):
    pass


def fail_under(transport: Transport, policy: HashPolicy) -> list[HashPolicy]:
    """Run a failing block under ``policy``; return [previous policy, policy seen inside]."""
    seen: list[HashPolicy] = []
    try:
        with hash_policy(transport, policy) as previous:
            seen += [previous, read_hash_policy(transport)]
            raise BodyFailed
    except BodyFailed:
        return seen


def test_context_restores_after_an_error_in_the_block() -> None:
    transport = SysctlTransport("0")
    assert fail_under(transport, HashPolicy.L4) == [HashPolicy.L3, HashPolicy.L4]
    assert transport.written == ["1", "0"]


def test_unknown_value_is_a_router_error() -> None:
    with pytest.raises(RouterError, match=r"unknown value '7'"):
        read_hash_policy(SysctlTransport("7"))


def test_missing_sysctl_is_a_router_error() -> None:
    class NoSysctl(SysctlTransport):
        def run(
            self, command: Sequence[str], *, input: str | None = None, timeout: float = 60.0
        ) -> CommandResult:
            return CommandResult(tuple(command), 255, "", f"sysctl: cannot stat {SYSCTL}")

    with pytest.raises(RouterError, match=r"^sysctl -n net\.ipv4\.fib_multipath_hash_policy on "):
        read_hash_policy(NoSysctl("0"))


@pytest.fixture
def throwaway_netns() -> Iterator[NetnsTransport]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to make a network namespace")
    name = f"cbgph-s{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield NetnsTransport(name)
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


@pytest.mark.lab
def test_hash_policy_for_real_in_a_namespace(throwaway_netns: NetnsTransport) -> None:
    initial = read_hash_policy(throwaway_netns)
    target = HashPolicy.L4 if initial is not HashPolicy.L4 else HashPolicy.L3
    with hash_policy(throwaway_netns, target) as previous:
        assert previous is initial
        assert read_hash_policy(throwaway_netns) is target
    assert read_hash_policy(throwaway_netns) is initial

    assert fail_under(throwaway_netns, HashPolicy.CUSTOM) == [initial, HashPolicy.CUSTOM]
    assert read_hash_policy(throwaway_netns) is initial
