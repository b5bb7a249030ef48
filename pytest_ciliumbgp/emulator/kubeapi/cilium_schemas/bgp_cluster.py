"""CiliumBGPClusterConfig spec."""

from __future__ import annotations

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import (
    NAME,
    PORT,
    UINT32_MAX,
    Arr,
    Int,
    Node,
    Obj,
    label_selector,
)
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.peering import (
    ADDRESS,
    ADDRESS_OR_DISCOVERY,
    AUTO_DISCOVERY,
    LINK_LOCAL_WITH_INTERFACE,
    LOCAL_ASN,
    peer_config_ref,
)

# 0 means "learn the ASN from the peer's OPEN" and is the default.
_PEER_ASN = Int(minimum=0, maximum=UINT32_MAX, default=0)


def _spec(version: str) -> Obj:
    peer_fields: dict[str, Node] = {
        "name": NAME,
        "peerASN": _PEER_ASN,
        "peerAddress": ADDRESS,
        "peerConfigRef": peer_config_ref(version),
    }
    peer = Obj(peer_fields, required=("name",))
    if version == "v2":
        peer = Obj(
            {**peer_fields, "autoDiscovery": AUTO_DISCOVERY, "peerInterface": NAME},
            required=("name",),
            rules=(LINK_LOCAL_WITH_INTERFACE, ADDRESS_OR_DISCOVERY),
        )
    instance = Obj(
        {
            "localASN": LOCAL_ASN,
            "localPort": PORT,
            "name": NAME,
            "peers": Arr(peer, map_keys=("name",)),
        },
        required=("name",),
    )
    return Obj(
        {
            "bgpInstances": Arr(instance, min_items=1, max_items=16, map_keys=("name",)),
            "nodeSelector": label_selector(),
        },
        required=("bgpInstances",),
    )


SPECS = {"v2": _spec("v2"), "v2alpha1": _spec("v2alpha1")}
