"""Pieces the BGP cluster config, node config and node config override share: peers, the
auto-discovery block and their object rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.formats import IP_ADDRESS
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import (
    NAME,
    UINT32_MAX,
    Int,
    Obj,
    Rule,
    Str,
)

ADDRESS = Str(pattern=IP_ADDRESS)
LOCAL_ASN = Int(minimum=1, maximum=UINT32_MAX)


def _link_local(peer: Mapping[str, Any]) -> bool:
    if "peerInterface" not in peer or "peerAddress" not in peer:
        return True
    address = str(peer["peerAddress"])
    return address.startswith(("fe80:", "FE80:"))


LINK_LOCAL_WITH_INTERFACE = Rule(
    _link_local,
    "peerAddress must be an IPv6 link-local address (fe80::/10) when peerInterface is set",
)
NO_LOCAL_ADDRESS_WITH_INTERFACE = Rule(
    lambda peer: "peerInterface" not in peer or "localAddress" not in peer,
    "localAddress must not be set when peerInterface is set",
)
ADDRESS_OR_DISCOVERY = Rule(
    lambda peer: "peerAddress" in peer or "autoDiscovery" in peer,
    "one of peerAddress or autoDiscovery must be set",
)

AUTO_DISCOVERY = Obj(
    {
        "defaultGateway": Obj(
            {"addressFamily": Str(enum=("ipv4", "ipv6"))}, required=("addressFamily",)
        ),
        "mode": Str(enum=("DefaultGateway", "Unnumbered")),
        "unnumbered": Obj({"interface": NAME}, required=("interface",)),
    },
    required=("mode",),
    rules=(
        Rule(
            lambda d: d["mode"] != "DefaultGateway" or "defaultGateway" in d,
            "defaultGateway must be set when mode is DefaultGateway",
        ),
        Rule(
            lambda d: d["mode"] != "Unnumbered" or (("unnumbered" in d) != ("defaultGateway" in d)),
            "exactly one of unnumbered or defaultGateway must be set when mode is Unnumbered",
        ),
    ),
)


def peer_config_ref(version: str) -> Obj:
    """v2 refers to a CiliumBGPPeerConfig by ``name`` only; v2alpha1 also names group and kind
    (defaulted). A v2 ``group``/``kind`` is an unknown field: pruned, not rejected."""
    if version == "v2":
        return Obj({"name": Str()}, required=("name",))
    return Obj(
        {
            "group": Str(default="cilium.io"),
            "kind": Str(default="CiliumBGPPeerConfig"),
            "name": Str(),
        },
        required=("name",),
    )
