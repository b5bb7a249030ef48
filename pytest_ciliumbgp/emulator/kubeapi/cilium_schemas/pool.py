"""CiliumLoadBalancerIPPool spec (v2 and v2alpha1 are the same since Cilium 1.16).

1.16 and 1.17 serve only v2alpha1, with this same spec: ``spec.cidrs`` was gone by 1.16 (the
pre-1.15 CRD in ``shared/cilium/crds/older/v2alpha1`` still has it; that is not what they serve).

Neither ``blocks`` nor the shape of a block is enforced by the CRD: a block may hold ``cidr``,
``start``/``stop`` or nothing, and ``start``/``stop`` are free strings (the operator judges
them, not the API server). ``allowFirstLastIPs`` has no CRD default: unset means ``Yes``.
"""

from __future__ import annotations

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.formats import CIDR
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import (
    Arr,
    Bool,
    Obj,
    Str,
    label_selector,
)

_SPEC = Obj(
    {
        "allowFirstLastIPs": Str(enum=("Yes", "No")),
        "blocks": Arr(Obj({"cidr": Str(format=CIDR), "start": Str(), "stop": Str()})),
        "disabled": Bool(default=False),
        "serviceSelector": label_selector(),
    }
)

SPECS = {"v2": _SPEC, "v2alpha1": _SPEC}
SPECS_BEFORE_1_18 = {"v2alpha1": _SPEC}
