"""CiliumBGPAdvertisement spec and its per-type rules."""

from __future__ import annotations

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.formats import (
    LARGE_COMMUNITY,
    STANDARD_COMMUNITY,
)
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import (
    Arr,
    Int,
    Node,
    Obj,
    Rule,
    Str,
    label_selector,
)

WELL_KNOWN_COMMUNITIES = (
    "internet", "planned-shut", "accept-own", "route-filter-translated-v4", "route-filter-v4",
    "route-filter-translated-v6", "route-filter-v6", "llgr-stale", "no-llgr", "blackhole",
    "no-export", "no-advertise", "no-export-subconfed", "no-peer",
)

_ATTRIBUTES = Obj(
    {
        "communities": Obj(
            {
                "large": Arr(Str(pattern=LARGE_COMMUNITY)),
                "standard": Arr(Str(pattern=STANDARD_COMMUNITY)),
                "wellKnown": Arr(Str(enum=WELL_KNOWN_COMMUNITIES)),
            }
        ),
        "localPreference": Int(),
    }
)
_SERVICE = Obj(
    {
        "addresses": Arr(Str(enum=("LoadBalancerIP", "ClusterIP", "ExternalIP")), min_items=1),
        "aggregationLengthIPv4": Int(minimum=0, maximum=31),
        "aggregationLengthIPv6": Int(minimum=0, maximum=127),
    },
    required=("addresses",),
)

SERVICE_NEEDS_SERVICE = Rule(
    lambda a: a["advertisementType"] != "Service" or "service" in a,
    "service field is required for the 'Service' advertisementType",
)
SERVICE_ONLY_FOR_SERVICE = Rule(
    lambda a: a["advertisementType"] == "Service" or "service" not in a,
    "service field is not allowed for non-'Service' advertisementType",
)
INTERFACE_NEEDS_INTERFACE = Rule(
    lambda a: a["advertisementType"] != "Interface" or "interface" in a,
    "interface field is required for the 'Interface' advertisementType",
)
INTERFACE_ONLY_FOR_INTERFACE = Rule(
    lambda a: a["advertisementType"] == "Interface" or "interface" not in a,
    "interface field is not allowed for non-'Interface' advertisementType",
)
NO_SELECTOR_FOR_POD_CIDR = Rule(
    lambda a: a["advertisementType"] != "PodCIDR" or "selector" not in a,
    "selector field is not allowed for the 'PodCIDR' advertisementType",
)


# Before 1.18: no aggregation, and ``addresses`` is not required.
_SERVICE_BEFORE_1_18 = Obj(
    {"addresses": Arr(Str(enum=("LoadBalancerIP", "ClusterIP", "ExternalIP")), min_items=1)}
)


def _spec(version: str, *, before_1_18: bool = False) -> Obj:
    fields: dict[str, Node] = {
        "advertisementType": Str(enum=("PodCIDR", "CiliumPodIPPool", "Service")),
        "attributes": _ATTRIBUTES,
        "selector": label_selector(),
        "service": _SERVICE_BEFORE_1_18 if before_1_18 else _SERVICE,
    }
    # The CEL rules came with 1.18.
    rules: tuple[Rule, ...] = () if before_1_18 else (SERVICE_NEEDS_SERVICE,
                                                      NO_SELECTOR_FOR_POD_CIDR)
    if version == "v2":
        fields["advertisementType"] = Str(
            enum=("PodCIDR", "CiliumPodIPPool", "Service", "Interface")
        )
        fields["interface"] = Obj({"name": Str()}, required=("name",))
        rules = (
            SERVICE_NEEDS_SERVICE,
            SERVICE_ONLY_FOR_SERVICE,
            INTERFACE_NEEDS_INTERFACE,
            INTERFACE_ONLY_FOR_INTERFACE,
            NO_SELECTOR_FOR_POD_CIDR,
        )
    advertisement = Obj(fields, required=("advertisementType",), rules=rules)
    return Obj({"advertisements": Arr(advertisement)}, required=("advertisements",))


SPECS = {"v2": _spec("v2"), "v2alpha1": _spec("v2alpha1")}
SPECS_BEFORE_1_18 = {"v2alpha1": _spec("v2alpha1", before_1_18=True)}
