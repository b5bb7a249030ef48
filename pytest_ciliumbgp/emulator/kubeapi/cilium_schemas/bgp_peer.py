"""CiliumBGPPeerConfig spec: transport, timers, graceful restart, multihop, families."""

from __future__ import annotations

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import (
    INT32_MAX,
    PORT,
    Arr,
    Bool,
    Int,
    Node,
    Obj,
    Rule,
    Str,
    label_selector,
)

AFIS = ("ipv4", "ipv6", "l2vpn", "ls", "opaque")
SAFIS = (
    "unicast", "multicast", "mpls_label", "encapsulation", "vpls", "evpn", "ls", "sr_policy",
    "mup", "mpls_vpn", "mpls_vpn_multicast", "route_target_constraints", "flowspec_unicast",
    "flowspec_vpn", "key_value",
)

_TIMER_FIELDS: dict[str, Node] = {
    "connectRetryTimeSeconds": Int(minimum=1, maximum=INT32_MAX, default=120),
    "holdTimeSeconds": Int(minimum=3, maximum=65535, default=90),
    "keepAliveTimeSeconds": Int(minimum=1, maximum=65535, default=30),
}
_TIMERS = Obj(
    _TIMER_FIELDS,
    # Checked after defaulting, so a lone keepAliveTimeSeconds above 90 is refused.
    rules=(
        Rule(
            lambda t: t["keepAliveTimeSeconds"] <= t["holdTimeSeconds"],
            "keepAliveTimeSeconds can not be larger than holdTimeSeconds",
        ),
    ),
)
# The rule came with 1.18; before, the agent alone judged the pair.
_TIMERS_BEFORE_1_18 = Obj(_TIMER_FIELDS)


def _spec(version: str, *, before_1_18: bool = False) -> Obj:
    transport: dict[str, Node] = {"peerPort": Int(minimum=1, maximum=65535, default=179)}
    if version == "v2":
        transport["sourceInterface"] = Str()
    else:
        transport["localPort"] = PORT
    return Obj(
        {
            "authSecretRef": Str(),
            "ebgpMultihop": Int(minimum=1, maximum=255, default=1),
            "families": Arr(
                Obj(
                    {
                        "advertisements": label_selector(),
                        "afi": Str(enum=AFIS),
                        "safi": Str(enum=SAFIS),
                    },
                    required=("afi", "safi"),
                )
            ),
            "gracefulRestart": Obj(
                {
                    "enabled": Bool(),
                    "restartTimeSeconds": Int(minimum=1, maximum=4095, default=120),
                },
                required=("enabled",),
            ),
            "timers": _TIMERS_BEFORE_1_18 if before_1_18 else _TIMERS,
            "transport": Obj(transport),
        }
    )


SPECS = {"v2": _spec("v2"), "v2alpha1": _spec("v2alpha1")}
SPECS_BEFORE_1_18 = {"v2alpha1": _spec("v2alpha1", before_1_18=True)}
