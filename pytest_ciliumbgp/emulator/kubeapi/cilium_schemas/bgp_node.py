"""CiliumBGPNodeConfig and CiliumBGPNodeConfigOverride specs (per-node instances and peers)."""

from __future__ import annotations

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.formats import IPV4
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import (
    NAME,
    PORT,
    UINT32_MAX,
    Arr,
    Int,
    Node,
    Obj,
    Str,
)
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.peering import (
    ADDRESS,
    ADDRESS_OR_DISCOVERY,
    AUTO_DISCOVERY,
    LINK_LOCAL_WITH_INTERFACE,
    LOCAL_ASN,
    NO_LOCAL_ADDRESS_WITH_INTERFACE,
    peer_config_ref,
)

_ROUTER_ID = Str(format=IPV4)


def _node_config(version: str, *, before_1_18: bool = False) -> Obj:
    peer_fields: dict[str, Node] = {
        "localAddress": ADDRESS,
        "name": Str(),
        # 0 (learn the peer's ASN) is accepted since 1.18.
        "peerASN": Int(minimum=1 if before_1_18 else 0, maximum=UINT32_MAX),
        "peerAddress": ADDRESS,
        "peerConfigRef": peer_config_ref(version),
    }
    peer = Obj(peer_fields, required=("name",))
    if version == "v2":
        peer = Obj(
            {**peer_fields, "autoDiscovery": AUTO_DISCOVERY, "peerInterface": NAME},
            required=("name",),
            rules=(
                LINK_LOCAL_WITH_INTERFACE,
                NO_LOCAL_ADDRESS_WITH_INTERFACE,
                ADDRESS_OR_DISCOVERY,
            ),
        )
    instance = Obj(
        {
            "localASN": LOCAL_ASN,
            "localPort": PORT,
            "name": NAME,
            "peers": Arr(peer, map_keys=("name",)),
            "routerID": _ROUTER_ID,
        },
        required=("name",),
    )
    return Obj(
        {"bgpInstances": Arr(instance, min_items=1, max_items=16, map_keys=("name",))},
        required=("bgpInstances",),
    )


def _override(version: str, *, before_1_18: bool = False) -> Obj:
    # The override CRD puts no range on its ports and no cap on its instance count.
    peer_fields: dict[str, Node] = {"localAddress": ADDRESS, "localPort": Int(), "name": NAME}
    peer = Obj(peer_fields, required=("name",))
    if version == "v2":
        peer = Obj(
            {**peer_fields, "peerInterface": NAME},
            required=("name",),
            rules=(NO_LOCAL_ADDRESS_WITH_INTERFACE,),
        )
    instance_fields: dict[str, Node] = {
        "localASN": LOCAL_ASN,
        "localPort": Int(),
        "name": NAME,
        "peers": Arr(peer, map_keys=("name",)),
        "routerID": _ROUTER_ID,
    }
    if before_1_18:
        del instance_fields["localASN"]  # an override could not change the ASN before 1.18
    instance = Obj(instance_fields, required=("name",))
    return Obj(
        {"bgpInstances": Arr(instance, min_items=1, map_keys=("name",))},
        required=("bgpInstances",),
    )


NODE_CONFIG_SPECS = {"v2": _node_config("v2"), "v2alpha1": _node_config("v2alpha1")}
OVERRIDE_SPECS = {"v2": _override("v2"), "v2alpha1": _override("v2alpha1")}
NODE_CONFIG_SPECS_BEFORE_1_18 = {"v2alpha1": _node_config("v2alpha1", before_1_18=True)}
OVERRIDE_SPECS_BEFORE_1_18 = {"v2alpha1": _override("v2alpha1", before_1_18=True)}
