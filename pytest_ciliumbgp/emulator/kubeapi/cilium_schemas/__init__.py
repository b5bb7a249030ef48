"""The project's own schemas of the cilium.io kinds, one module per kind (or pair of kinds).

``SPECS[(version, kind)]`` is the schema of that kind's ``spec`` as served by the newest Cilium
CRDs (v2 storage; v2alpha1 served, deprecated). ``SPECS_BEFORE_1_18`` is what Cilium 1.16 and
1.17 serve: v2alpha1 only, without the fields and CEL rules 1.18 added (the CRDs in
``shared/cilium/crds/older/v2alpha1``; the pool as ``pool`` explains).
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas import (
    bgp_advert,
    bgp_cluster,
    bgp_node,
    bgp_peer,
    pool,
)
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import Obj

Specs = Mapping[tuple[str, str], Obj]


def _by_version_and_kind(by_kind: Mapping[str, Mapping[str, Obj]]) -> dict[tuple[str, str], Obj]:
    return {
        (version, kind): spec for kind, specs in by_kind.items() for version, spec in specs.items()
    }


SPECS: Specs = _by_version_and_kind({
    "CiliumLoadBalancerIPPool": pool.SPECS,
    "CiliumBGPClusterConfig": bgp_cluster.SPECS,
    "CiliumBGPPeerConfig": bgp_peer.SPECS,
    "CiliumBGPAdvertisement": bgp_advert.SPECS,
    "CiliumBGPNodeConfig": bgp_node.NODE_CONFIG_SPECS,
    "CiliumBGPNodeConfigOverride": bgp_node.OVERRIDE_SPECS,
})

SPECS_BEFORE_1_18: Specs = _by_version_and_kind({
    "CiliumLoadBalancerIPPool": pool.SPECS_BEFORE_1_18,
    "CiliumBGPClusterConfig": bgp_cluster.SPECS_BEFORE_1_18,
    "CiliumBGPPeerConfig": bgp_peer.SPECS_BEFORE_1_18,
    "CiliumBGPAdvertisement": bgp_advert.SPECS_BEFORE_1_18,
    "CiliumBGPNodeConfig": bgp_node.NODE_CONFIG_SPECS_BEFORE_1_18,
    "CiliumBGPNodeConfigOverride": bgp_node.OVERRIDE_SPECS_BEFORE_1_18,
})

__all__ = ["SPECS", "SPECS_BEFORE_1_18", "Specs"]
