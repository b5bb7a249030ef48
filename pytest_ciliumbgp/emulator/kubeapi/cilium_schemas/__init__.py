"""The project's own schemas of the cilium.io kinds, one module per kind (or pair of kinds).

``SPECS[(version, kind)]`` is the schema of that kind's ``spec`` as served by the newest Cilium
CRDs (v2 storage; v2alpha1 served, deprecated).
"""

from __future__ import annotations

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas import (
    bgp_advert,
    bgp_cluster,
    bgp_node,
    bgp_peer,
    pool,
)
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import Obj

_BY_KIND: dict[str, dict[str, Obj]] = {
    "CiliumLoadBalancerIPPool": pool.SPECS,
    "CiliumBGPClusterConfig": bgp_cluster.SPECS,
    "CiliumBGPPeerConfig": bgp_peer.SPECS,
    "CiliumBGPAdvertisement": bgp_advert.SPECS,
    "CiliumBGPNodeConfig": bgp_node.NODE_CONFIG_SPECS,
    "CiliumBGPNodeConfigOverride": bgp_node.OVERRIDE_SPECS,
}

SPECS: dict[tuple[str, str], Obj] = {
    (version, kind): spec for kind, specs in _BY_KIND.items() for version, spec in specs.items()
}

__all__ = ["SPECS"]
