"""Slices of the lab's LB range, so that tests running in parallel never share an address:
the range is cut into equal blocks and xdist worker *k* of *n* only hands out the blocks whose
index is *k* modulo *n*, one after another (a worker runs one test at a time)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

DEFAULT_PREFIX_LENGTH = 28


class PoolSliceError(ValueError):
    pass


@dataclass(frozen=True)
class PoolSlice:
    """One block of the LB range: ``network`` and its addresses (first and last included:
    the pools the suite makes set ``allowFirstLastIPs: "Yes"``)."""

    index: int
    network: ipaddress.IPv4Network

    @property
    def cidr(self) -> str:
        return str(self.network)

    def address(self, offset: int) -> str:
        """The ``offset``-th address of the block (0 = the network address)."""
        if not 0 <= offset < self.network.num_addresses:
            raise PoolSliceError(f"{self.network} has no address at offset {offset}")
        return str(self.network.network_address + offset)

    def __contains__(self, address: object) -> bool:
        return ipaddress.ip_address(str(address)) in self.network


class PoolSlicer:
    """Hands out this worker's slices of ``lb_range`` in turn, forever."""

    def __init__(self, lb_range: ipaddress.IPv4Network, worker: int = 0, workers: int = 1,
                 prefix_length: int = DEFAULT_PREFIX_LENGTH) -> None:
        if not 0 <= worker < workers:
            raise PoolSliceError(f"worker {worker} of {workers}")
        if prefix_length < lb_range.prefixlen:
            raise PoolSliceError(f"/{prefix_length} slices do not fit in {lb_range}")
        blocks = list(lb_range.subnets(new_prefix=prefix_length))
        mine = [PoolSlice(i, block) for i, block in enumerate(blocks) if i % workers == worker]
        if not mine:
            raise PoolSliceError(
                f"{lb_range} has {len(blocks)} /{prefix_length} slices, fewer than the "
                f"{workers} xdist workers; use fewer workers or a larger lb_pool")
        self._cycle = self._forever(mine)

    @staticmethod
    def _forever(slices: list[PoolSlice]) -> Iterator[PoolSlice]:
        while True:
            yield from slices

    def next(self) -> PoolSlice:
        return next(self._cycle)


def worker_position(worker_id: str | None, worker_count: str | None) -> tuple[int, int]:
    """(index, count) of this xdist worker from ``PYTEST_XDIST_WORKER`` (``gw3``) and
    ``PYTEST_XDIST_WORKER_COUNT``; (0, 1) outside xdist."""
    if not worker_id or not worker_count:
        return 0, 1
    return int(worker_id.removeprefix("gw")), int(worker_count)
