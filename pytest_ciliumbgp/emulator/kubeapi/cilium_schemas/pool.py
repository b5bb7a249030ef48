"""CiliumLoadBalancerIPPool spec (v2 and v2alpha1 are the same since Cilium 1.16).

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
