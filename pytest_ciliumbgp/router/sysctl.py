"""The router's ECMP hash policy, ``net.ipv4.fib_multipath_hash_policy`` (per network namespace).

It is router-global state: change it only through :func:`hash_policy`, which puts the previous
value back however the block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.transport import Transport, TransportError

HASH_POLICY_SYSCTL = "net.ipv4.fib_multipath_hash_policy"
#: The run-wide lock (``lifecycle.exclusive``) held by whoever changes the router's policy
#: until it is restored, so that readers of the default never see a test's setting.
HASH_POLICY_LOCK = "hash-policy"


class HashPolicy(IntEnum):
    """What the kernel hashes to pick one next hop of a multipath route."""

    L3 = 0  # source and destination address
    L4 = 1  # 5-tuple
    L3_INNER = 2  # L3, or the inner L3 header of encapsulated packets
    CUSTOM = 3  # the fields of net.ipv4.fib_multipath_hash_fields

    @property
    def label(self) -> str:
        return self.name


def _sysctl(transport: Transport, argv: list[str]) -> str:
    try:
        return transport.run(argv, timeout=15.0).check().stdout
    except TransportError as error:
        raise RouterError(f"{' '.join(argv)} on {transport}: {error}") from error


def read_hash_policy(transport: Transport) -> HashPolicy:
    text = _sysctl(transport, ["sysctl", "-n", HASH_POLICY_SYSCTL]).strip()
    try:
        return HashPolicy(int(text))
    except ValueError:
        raise RouterError(
            f"sysctl -n {HASH_POLICY_SYSCTL} on {transport}: unknown value {text!r}"
        ) from None


def set_hash_policy(transport: Transport, policy: HashPolicy) -> None:
    _sysctl(transport, ["sysctl", "-w", f"{HASH_POLICY_SYSCTL}={int(policy)}"])


@contextmanager
def hash_policy(transport: Transport, policy: HashPolicy) -> Iterator[HashPolicy]:
    """Run the block with ``policy`` in force, then restore what was there before.

    Yields the previous policy.
    """
    previous = read_hash_policy(transport)
    set_hash_policy(transport, policy)
    try:
        yield previous
    finally:
        set_hash_policy(transport, previous)
