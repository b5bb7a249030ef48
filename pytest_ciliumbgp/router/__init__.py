"""Router side of the suite: FRR's BGP table and RIB, the kernel FIB and the ECMP hash policy.

No pytest here: the fixtures wire it up, and scripts can use it directly::

    router = FrrRouter(NetnsTransport("lab-router"), vtysh=("vtysh", "-N", "lab"))
    router.bgp_prefix("172.16.1.1/32").ecmp_next_hops
"""

from __future__ import annotations

from pytest_ciliumbgp.router.errors import RouterError
from pytest_ciliumbgp.router.frr import (
    FrrRouter,
    parse_bgp_prefix,
    parse_bgp_summary,
    parse_bgp_table,
    parse_rib_route,
)
from pytest_ciliumbgp.router.kernel import parse_kernel_routes
from pytest_ciliumbgp.router.model import (
    BgpPath,
    BgpPeer,
    BgpPrefix,
    KernelNextHop,
    KernelRoute,
    RibNextHop,
    RibRoute,
)
from pytest_ciliumbgp.router.sysctl import (
    HashPolicy,
    hash_policy,
    read_hash_policy,
    set_hash_policy,
)

__all__ = [
    "BgpPath",
    "BgpPeer",
    "BgpPrefix",
    "FrrRouter",
    "HashPolicy",
    "KernelNextHop",
    "KernelRoute",
    "RibNextHop",
    "RibRoute",
    "RouterError",
    "hash_policy",
    "parse_bgp_prefix",
    "parse_bgp_summary",
    "parse_bgp_table",
    "parse_kernel_routes",
    "parse_rib_route",
    "read_hash_policy",
    "set_hash_policy",
]
