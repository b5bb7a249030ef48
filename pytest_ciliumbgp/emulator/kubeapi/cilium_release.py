"""The Cilium release an emulated API server plays, as far as the API shows it: which
``cilium.io`` versions serve the LB-IPAM and BGP kinds, with which schemas, and which kinds have
a status subresource.

- 1.18 (the lab's default, 1.18.2): ``v2`` (storage) and ``v2alpha1`` (deprecated), the newest
  schemas; pools, cluster, peer and node configs have ``/status``.
- 1.16 and 1.17: ``v2alpha1`` only, with the schemas of those releases (no aggregation, no
  peer ASN 0, no CEL rules); only pools and node configs have ``/status``
  (``shared/cilium/crds/older/v2alpha1``).

The minor release decides all of that; the patch is only what the lab says it runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from .cilium_schemas import SPECS, SPECS_BEFORE_1_18, Specs
from .resources import BUILTIN_TYPES, CILIUM_STATUS_KINDS, CILIUM_VERSIONS, Catalog, cilium_types

DEFAULT_VERSION = "1.18.2"
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?\Z")


@dataclass(frozen=True)
class CiliumRelease:
    """``version`` (``"1.17.0"``) and what its API serves."""

    version: str
    api_versions: tuple[str, ...]
    status_kinds: frozenset[str]
    specs: Specs = field(compare=False, repr=False)

    @property
    def minor(self) -> tuple[int, int]:
        major, minor, _ = self.version.split(".", 2)
        return int(major), int(minor)

    @cached_property
    def catalog(self) -> Catalog:
        """Every kind this release's API server serves: the built-in ones and Cilium's."""
        return Catalog((*BUILTIN_TYPES, *cilium_types(self.api_versions, self.status_kinds)))


_BEFORE_1_18 = (("v2alpha1",), frozenset({"CiliumLoadBalancerIPPool", "CiliumBGPNodeConfig"}),
                SPECS_BEFORE_1_18)
_SINCE_1_18 = (CILIUM_VERSIONS, CILIUM_STATUS_KINDS, SPECS)
#: minor release -> (patch release played when none is asked for, its API)
_RELEASES = {
    (1, 16): ("1.16.0", _BEFORE_1_18),
    (1, 17): ("1.17.0", _BEFORE_1_18),
    (1, 18): (DEFAULT_VERSION, _SINCE_1_18),
}
SUPPORTED = tuple(f"{major}.{minor}" for major, minor in _RELEASES)


def cilium_release(version: str = DEFAULT_VERSION) -> CiliumRelease:
    """The release for ``"1.17"``, ``"1.17.4"`` or ``"v1.17.4"``; ValueError (one line)
    for anything else."""
    found = _VERSION.match(version.strip())
    known = _RELEASES.get((int(found[1]), int(found[2]))) if found else None
    if found is None or known is None:
        raise ValueError(f"Cilium version {version!r}: the embedded lab plays "
                         f"{', '.join(SUPPORTED)} (MAJOR.MINOR[.PATCH])")
    played, (api_versions, status_kinds, specs) = known
    if found[3] is not None:
        played = ".".join(str(int(number)) for number in found.groups())
    return CiliumRelease(played, api_versions, status_kinds, specs)
