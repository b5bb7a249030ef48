"""Validation, pruning and defaulting of the cilium.io kinds, as kube-apiserver does it for CRDs.

The schemas are the project's own (``cilium_schemas``), written from the Cilium facts and the
CRDs of the newest release line; the tests cross-check them against the real CRD files. Every
function takes ``specs``: the schemas of the Cilium release being served (the newest by default,
``SPECS_BEFORE_1_18`` for an API server that plays 1.16 or 1.17).

What a real API server does with a custom object on create/update, and what to call here:

1. Unknown fields are **pruned silently** (structural schemas). The request's
   ``fieldValidation`` decides what the client hears about them: ``Ignore`` nothing, ``Warn``
   (the server default since 1.27) one ``Warning: 299 - "unknown field \\"spec.x\\""`` header
   each, ``Strict`` (kubectl's default) a 400 BadRequest whose message
   :func:`strict_decoding_message` writes. :func:`unknown_fields` lists their paths. So a v2
   ``peerConfigRef.group`` is dropped (or a 400 under Strict), never a 422.
2. Nulls where the schema allows none are dropped; defaults fill missing fields of the objects
   that are present (:func:`apply_defaults`).
3. The result is validated (:func:`validate`): 422 Invalid with these causes if any.

:func:`admit` runs all three and returns the object to store. Only ``spec`` is modelled:
``metadata`` is the server's business and ``status`` is kept as sent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas import SPECS, Specs, engine
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import Obj
from pytest_ciliumbgp.emulator.kubeapi.errors import FieldError

KINDS = frozenset(kind for _, kind in SPECS)
VERSIONS = frozenset(version for version, _ in SPECS)
_TOP_LEVEL = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})


def _spec_schema(version: str, kind: str, specs: Specs) -> Obj:
    try:
        return specs[(version, kind)]
    except KeyError:
        raise ValueError(f"no cilium.io schema for {kind} {version}") from None


def _prune(version: str, kind: str, obj: Mapping[str, Any], specs: Specs,
           ) -> tuple[dict[str, Any], list[str]]:
    schema = _spec_schema(version, kind, specs)
    dropped: list[str] = []
    pruned: dict[str, Any] = {}
    for key, value in obj.items():
        if key not in _TOP_LEVEL:
            dropped.append(key)
        elif key == "spec":
            if value is not None:
                pruned[key] = engine.prune(schema, value, "spec", dropped)
        else:
            pruned[key] = copy.deepcopy(value)
    return pruned, dropped


def prune(version: str, kind: str, obj: Mapping[str, Any], specs: Specs = SPECS,
          ) -> dict[str, Any]:
    """A copy of ``obj`` without the fields the schema does not know and without nulls where
    the schema allows none (unless a default will replace them)."""
    return _prune(version, kind, obj, specs)[0]


def unknown_fields(version: str, kind: str, obj: Mapping[str, Any], specs: Specs = SPECS,
                   ) -> list[str]:
    """Paths of the fields :func:`prune` drops, as strict field validation names them
    (``spec.bgpInstances[0].peers[0].peerConfigRef.group``)."""
    return _prune(version, kind, obj, specs)[1]


def strict_decoding_message(kind: str, version: str, paths: list[str]) -> str:
    """The BadRequest message for unknown fields under ``fieldValidation=Strict``."""
    listed = ", ".join(f'unknown field "{path}"' for path in paths)
    return (
        f'{kind} in version "{version}" cannot be handled as a {kind}: '
        f"strict decoding error: {listed}"
    )


def apply_defaults(version: str, kind: str, obj: Mapping[str, Any], specs: Specs = SPECS,
                   ) -> dict[str, Any]:
    """A copy of ``obj`` with the CRD's defaults filled in, e.g. a CiliumBGPPeerConfig's
    ``transport.peerPort`` 179 when ``transport`` is present."""
    defaulted = copy.deepcopy(dict(obj))
    engine.apply_defaults(_spec_schema(version, kind, specs), defaulted.get("spec"))
    return defaulted


def validate(version: str, kind: str, obj: Mapping[str, Any], specs: Specs = SPECS,
             ) -> list[FieldError]:
    """The 422 causes kube-apiserver would give for ``obj`` (as sent: pruning and defaulting
    happen first, as on the server). Empty when the object is acceptable."""
    return admit(version, kind, obj, specs)[1]


def admit(
    version: str, kind: str, obj: Mapping[str, Any], specs: Specs = SPECS,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Prune, default and validate: the object a server would store, and the causes that
    would make it refuse the write instead."""
    stored = apply_defaults(version, kind, prune(version, kind, obj, specs), specs)
    if "spec" not in stored:
        return stored, [FieldError("spec", engine.REQUIRED, "Required value")]
    return stored, engine.check(_spec_schema(version, kind, specs), stored["spec"], "spec")
