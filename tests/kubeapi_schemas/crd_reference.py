"""The real Cilium CRDs as an independent referee: load a served version's openAPIV3Schema from
``../shared/cilium/crds`` and apply it with ``jsonschema`` plus what a Kubernetes server adds
(pruning, defaulting, list-map keys, the CEL rules and the ``cidr``/``ipv4`` formats).

Nothing here reuses the project's schemas: the Kubernetes-specific behaviour is re-derived from
the CRD text itself, and the CEL rules are translated one by one (an untranslated rule fails).
"""

from __future__ import annotations

import copy
import functools
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema import Draft7Validator, FormatChecker, ValidationError

SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()
CRDS = SHARED / "cilium" / "crds"
CORPUS = Path(__file__).resolve().parents[1] / "data" / "cilium_corpus"

FILES = {
    "CiliumLoadBalancerIPPool": "ciliumloadbalancerippools.yaml",
    "CiliumBGPClusterConfig": "ciliumbgpclusterconfigs.yaml",
    "CiliumBGPPeerConfig": "ciliumbgppeerconfigs.yaml",
    "CiliumBGPAdvertisement": "ciliumbgpadvertisements.yaml",
    "CiliumBGPNodeConfig": "ciliumbgpnodeconfigs.yaml",
    "CiliumBGPNodeConfigOverride": "ciliumbgpnodeconfigoverrides.yaml",
}

Predicate = Callable[[Mapping[str, Any]], bool]

# The CEL rules found in the CRDs, each translated by hand.
CEL: dict[str, Predicate] = {
    "self.advertisementType != 'Service' || has(self.service)":
        lambda s: s.get("advertisementType") != "Service" or "service" in s,
    "self.advertisementType == 'Service' || !has(self.service)":
        lambda s: s.get("advertisementType") == "Service" or "service" not in s,
    "self.advertisementType != 'Interface' || has(self.interface)":
        lambda s: s.get("advertisementType") != "Interface" or "interface" in s,
    "self.advertisementType == 'Interface' || !has(self.interface)":
        lambda s: s.get("advertisementType") == "Interface" or "interface" not in s,
    "self.advertisementType != 'PodCIDR' || !has(self.selector)":
        lambda s: s.get("advertisementType") != "PodCIDR" or "selector" not in s,
    "!has(self.peerInterface) || !has(self.peerAddress) || "
    "self.peerAddress.startsWith('fe80:') || self.peerAddress.startsWith('FE80:')":
        lambda s: "peerInterface" not in s or "peerAddress" not in s
        or str(s["peerAddress"]).startswith("fe80:") or str(s["peerAddress"]).startswith("FE80:"),
    "has(self.peerAddress) || has(self.autoDiscovery)":
        lambda s: "peerAddress" in s or "autoDiscovery" in s,
    "!has(self.peerInterface) || !has(self.localAddress)":
        lambda s: "peerInterface" not in s or "localAddress" not in s,
    "self.mode != 'DefaultGateway' || has(self.defaultGateway)":
        lambda s: s.get("mode") != "DefaultGateway" or "defaultGateway" in s,
    "self.mode != 'Unnumbered' || (has(self.unnumbered) != has(self.defaultGateway))":
        lambda s: s.get("mode") != "Unnumbered" or ("unnumbered" in s) != ("defaultGateway" in s),
    "self.keepAliveTimeSeconds <= self.holdTimeSeconds":
        lambda s: s["keepAliveTimeSeconds"] <= s["holdTimeSeconds"],
}

_V4 = re.compile(r"\A[0-9]+(\.[0-9]+){3}\Z")


def _go_sloppy_ip(text: str) -> bool:
    if _V4.match(text):
        return all(int(octet) <= 255 for octet in text.split("."))
    if ":" not in text or "%" in text:
        return False
    try:
        socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return False
    return True


def _cidr(text: object) -> bool:
    if not isinstance(text, str):
        return True
    address, slash, length = text.partition("/")
    if not slash:
        return False
    if not length.isdigit() or not length.isascii() or not _go_sloppy_ip(address):
        return False
    return int(length) <= (128 if ":" in address else 32)


def _ipv4(text: object) -> bool:
    return not isinstance(text, str) or ("." in text and _go_sloppy_ip(text))


FORMATS = FormatChecker(formats=())
FORMATS.checks("cidr")(_cidr)
FORMATS.checks("ipv4")(_ipv4)


def _cel(
    validator: Any, rules: list[dict[str, str]], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    for rule in rules:
        check = CEL[rule["rule"]]  # KeyError: a CRD rule nobody has translated yet
        try:
            holds = check(instance)
        except (KeyError, TypeError):
            continue  # ill-typed object: kube-apiserver skips CEL after such errors
        if not holds:
            yield ValidationError(f"CEL: {rule['message']}")


def _list_map(
    validator: Any, keys: list[str], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not isinstance(instance, list):
        return
    seen: list[Any] = []
    for index, item in enumerate(instance):
        if isinstance(item, dict):
            marker = [item.get(key) for key in keys]
            if marker in seen:
                yield ValidationError(f"duplicate list-map key at [{index}]", path=[index])
            seen.append(marker)


KubeValidator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    Draft7Validator,
    {"x-kubernetes-validations": _cel, "x-kubernetes-list-map-keys": _list_map},
)


def crds_present() -> bool:
    return CRDS.is_dir()


@functools.cache
def _crd(crd_set: str, kind: str) -> dict[str, Any]:
    return dict(yaml.safe_load((CRDS / crd_set / FILES[kind]).read_text()))


def served_schema(crd_set: str, kind: str, version: str) -> dict[str, Any] | None:
    """``openAPIV3Schema`` of ``version`` in ``crds/<crd_set>/`` (None when not served)."""
    for served in _crd(crd_set, kind)["spec"]["versions"]:
        if served["name"] == version and served["served"]:
            return copy.deepcopy(dict(served["schema"]["openAPIV3Schema"]))
    return None


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = schema.get("properties", {})
    return dict(properties) if isinstance(properties, Mapping) else {}


def _child(schema: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    props = _properties(schema)
    if key in props:
        return dict(props[key])
    extra = schema.get("additionalProperties")
    return dict(extra) if isinstance(extra, dict) else None


def _structural_prune(
    schema: Mapping[str, Any] | None, value: Any, path: str, dropped: list[str]
) -> Any:
    if path == "metadata":
        return value  # ObjectMeta: the server's own business
    if isinstance(value, list):
        items = schema.get("items") if schema else None
        return [_structural_prune(items, v, f"{path}[{i}]", dropped) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    kept: dict[str, Any] = {}
    for key, item in value.items():
        sub = _child(schema, key) if schema else None
        where = f"{path}.{key}" if path else key
        if sub is None:
            dropped.append(where)
        elif item is None and not sub.get("nullable") and "default" not in sub:
            continue
        else:
            kept[key] = _structural_prune(sub, item, where, dropped)
    return kept


def _structural_default(schema: Mapping[str, Any], value: Any) -> None:
    if isinstance(value, list) and "items" in schema:
        for item in value:
            _structural_default(schema["items"], item)
    elif isinstance(value, dict):
        for key, sub in _properties(schema).items():
            if "default" in sub and value.get(key) is None:
                value[key] = copy.deepcopy(sub["default"])
        for key, item in value.items():
            sub = _child(schema, key)
            if sub is not None:
                _structural_default(sub, item)


@dataclass
class Verdict:
    stored: dict[str, Any]
    dropped: list[str]
    error_paths: set[str]

    @property
    def accepted(self) -> bool:
        return not self.error_paths


def _kube_path(error: ValidationError) -> set[str]:
    parts = list(error.absolute_path)
    base = ""
    for part in parts:
        base += f"[{part}]" if isinstance(part, int) else (f".{part}" if base else str(part))
    if error.validator == "required":
        missing = re.match(r"'(.+)' is a required property", error.message)
        assert missing is not None
        return {f"{base}.{missing.group(1)}" if base else missing.group(1)}
    return {base}


def judge(schema: Mapping[str, Any], obj: Mapping[str, Any]) -> Verdict:
    """What a server with this CRD version does with ``obj``: the object it would store, the
    fields it pruned and the paths of the errors that would make it refuse the write."""
    dropped: list[str] = []
    stored = _structural_prune(schema, copy.deepcopy(dict(obj)), "", dropped)
    _structural_default(schema, stored)
    validator = KubeValidator(schema, format_checker=FORMATS)
    paths: set[str] = set()
    for error in validator.iter_errors(stored):
        paths |= _kube_path(error)
    return Verdict(stored, dropped, paths)


@dataclass(frozen=True)
class Case:
    version: str
    kind: str
    expect: str  # valid | invalid | pruned
    path: Path

    @property
    def id(self) -> str:
        return f"{self.version}-{self.kind}-{self.expect}-{self.path.stem}"

    def load(self) -> dict[str, Any]:
        return dict(yaml.safe_load(self.path.read_text()))


def corpus() -> list[Case]:
    return [
        Case(path.parts[-4], path.parts[-3], path.parts[-2], path)
        for path in sorted(CORPUS.glob("*/*/*/*.yaml"))
    ]


def before_1_18_set(kind: str) -> str:
    """Where the CRD that Cilium 1.16/1.17 serve ``kind`` with (v2alpha1 only) lives: the
    ``older/v2alpha1`` set, except the pool, whose copy there is the pre-1.15 one with
    ``spec.cidrs``; 1.16 and 1.17 serve the ``blocks`` schema that ``current`` keeps as v2alpha1."""
    return "current" if kind == "CiliumLoadBalancerIPPool" else "older/v2alpha1"
