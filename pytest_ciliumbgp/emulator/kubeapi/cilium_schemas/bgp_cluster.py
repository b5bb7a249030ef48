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

# 0 means "learn the ASN from the peer's OPEN" and is the default (since 1.18; before, an ASN
# had to be given and 0 was refused).
_PEER_ASN = Int(minimum=0, maximum=UINT32_MAX, default=0)
_PEER_ASN_BEFORE_1_18 = Int(minimum=1, maximum=UINT32_MAX)


def _spec(version: str, *, before_1_18: bool = False) -> Obj:
    peer_fields: dict[str, Node] = {
        "name": NAME,
        "peerASN": _PEER_ASN_BEFORE_1_18 if before_1_18 else _PEER_ASN,
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
    instance_fields: dict[str, Node] = {
        "localASN": LOCAL_ASN,
        "localPort": PORT,
        "name": NAME,
        "peers": Arr(peer, map_keys=("name",)),
    }
    if before_1_18:
        del instance_fields["localPort"]
    instance = Obj(instance_fields, required=("name",))
    return Obj(
        {
            "bgpInstances": Arr(instance, min_items=1, max_items=16, map_keys=("name",)),
            "nodeSelector": label_selector(),
        },
        required=("bgpInstances",),
    )


SPECS = {"v2": _spec("v2"), "v2alpha1": _spec("v2alpha1")}
SPECS_BEFORE_1_18 = {"v2alpha1": _spec("v2alpha1", before_1_18=True)}
