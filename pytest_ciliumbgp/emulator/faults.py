"""The embedded lab's fault switches: each makes the emulated Cilium misbehave like a Cilium
regression from ``cilium/regressions.md``, so the suite can be shown to catch it.

Faults are set at ``cbgp-lab up --fault NAME[=ARG]`` and at run time through the ConfigMap
``kube-system/cbgp-lab-faults`` (one key per fault, the value its argument or empty). With no
fault set the lab is faithful.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

CONFIGMAP_NAMESPACE = "kube-system"
CONFIGMAP_NAME = "cbgp-lab-faults"


@dataclass(frozen=True)
class FaultSpec:
    name: str
    summary: str
    #: the argument's meaning when the fault takes one (e.g. "SECONDS"), else None
    argument: str | None = None
    default: str | None = None


ADVERTISE_LOCAL_FROM_ALL_NODES = "advertise-local-from-all-nodes"
KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT = "keep-local-route-after-last-endpoint"
WITHDRAW_AFTER_TERMINATING_GONE = "withdraw-after-terminating-gone"
ADVERTISE_CLUSTER_ONLY_WITH_LOCAL_BACKEND = "advertise-cluster-only-with-local-backend"
KEEP_ADVERTISED_WITHOUT_ENDPOINTS = "keep-advertised-without-endpoints"
WITHDRAW_SHARED_VIP_ON_FIRST_DELETE = "withdraw-shared-vip-on-first-delete"
LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION = "lose-announcement-after-pod-recreation"
SNAT_LOCAL_BACKEND_UNDER_CLUSTER = "snat-local-backend-under-cluster"
SNAT_UNDER_LOCAL = "snat-under-local"
ALLOCATE_FROM_CONFLICTING_POOL = "allocate-from-conflicting-pool"
IGNORE_BGP_CONTROL_PLANE_CLASS = "ignore-bgp-control-plane-class"
WRONG_PREFIX_LENGTH = "wrong-prefix-length"
ADVERTISE_CLUSTER_IP_INSTEAD_OF_LB_IP = "advertise-clusterip-instead-of-lb-ip"
DELAY_ANNOUNCEMENTS = "delay-announcements"

CATALOGUE: dict[str, FaultSpec] = {
    spec.name: spec
    for spec in (
        FaultSpec(ADVERTISE_LOCAL_FROM_ALL_NODES,
                  "ETP=Local Services are advertised from every node (cilium#44803, #23035)"),
        FaultSpec(KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT,
                  "a node keeps advertising a Local Service after its last local backend goes "
                  "(cilium#38924)"),
        FaultSpec(WITHDRAW_AFTER_TERMINATING_GONE,
                  "terminating or unready local backends still count: withdrawal waits until "
                  "they are gone (cilium#32487, #45276)"),
        FaultSpec(ADVERTISE_CLUSTER_ONLY_WITH_LOCAL_BACKEND,
                  "ETP=Cluster Services are advertised only from nodes with a local backend"),
        FaultSpec(KEEP_ADVERTISED_WITHOUT_ENDPOINTS,
                  "a Service with no usable backend stays advertised although the agent runs "
                  "with enable-no-service-endpoints-routable=false (cilium#40438)"),
        FaultSpec(WITHDRAW_SHARED_VIP_ON_FIRST_DELETE,
                  "deleting one Service of a sharing-key group withdraws the shared VIP "
                  "(cilium#35018)"),
        FaultSpec(LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION,
                  "a Service's announcement disappears after a backend pod is recreated, until "
                  "the Service is touched (cilium#36055)"),
        FaultSpec(SNAT_LOCAL_BACKEND_UNDER_CLUSTER,
                  "ETP=Cluster traffic to a backend on the receiving node is SNATed "
                  "(cilium#34235, #33574)"),
        FaultSpec(SNAT_UNDER_LOCAL, "ETP=Local traffic is SNATed to the node IP"),
        FaultSpec(ALLOCATE_FROM_CONFLICTING_POOL,
                  "LB-IPAM hands out addresses from a pool marked PoolConflict (cilium#46051)"),
        FaultSpec(IGNORE_BGP_CONTROL_PLANE_CLASS,
                  "LB-IPAM ignores Services of loadBalancerClass io.cilium/bgp-control-plane "
                  "(cilium#26939)"),
        FaultSpec(WRONG_PREFIX_LENGTH,
                  "Service addresses are advertised with this prefix length instead of /32",
                  argument="LENGTH", default="24"),
        FaultSpec(ADVERTISE_CLUSTER_IP_INSTEAD_OF_LB_IP,
                  "LoadBalancerIP advertisements announce the Service's ClusterIP instead"),
        FaultSpec(DELAY_ANNOUNCEMENTS,
                  "every announcement and withdrawal reaches the speakers this many seconds late",
                  argument="SECONDS", default="5"),
    )
}


class FaultError(ValueError):
    """A fault name or argument the lab does not know; the message is one line for the user."""


class Faults(Mapping[str, str]):
    """The faults in force: name -> argument (the default when the fault takes one, else "")."""

    def __init__(self, items: Mapping[str, str | None] | None = None) -> None:
        self._items: dict[str, str] = {}
        for name, argument in (items or {}).items():
            spec = CATALOGUE.get(name)
            if spec is None:
                raise FaultError(f"unknown fault {name!r}; `cbgp-lab faults` lists them")
            if spec.argument is None:
                if argument:
                    raise FaultError(f"fault {name} takes no argument (got {argument!r})")
                self._items[name] = ""
            else:
                value = argument or spec.default or ""
                _check_number(name, spec.argument, value)
                self._items[name] = value

    def __getitem__(self, name: str) -> str:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Faults) and self._items == other._items

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items())))

    def __repr__(self) -> str:
        return f"Faults({self._items!r})"

    def number(self, name: str) -> float:
        """The numeric argument of a fault in force."""
        return float(self._items[name])

    def merged(self, other: Mapping[str, str | None]) -> Faults:
        return Faults({**self._items, **other})

    @classmethod
    def parse(cls, switches: Iterable[str]) -> Faults:
        """From ``NAME`` / ``NAME=ARG`` strings, as given to ``cbgp-lab up --fault``."""
        items: dict[str, str | None] = {}
        for switch in switches:
            name, _, argument = switch.partition("=")
            items[name.strip()] = argument.strip() or None
        return cls(items)

    @classmethod
    def from_configmap(cls, obj: Mapping[str, object] | None) -> Faults:
        data = (obj or {}).get("data") or {}
        if not isinstance(data, Mapping):
            raise FaultError(f"{CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}: data must be a map")
        return cls({str(k): (str(v) if v else None) for k, v in data.items()})

    def as_switches(self) -> list[str]:
        return [f"{name}={arg}" if arg else name for name, arg in sorted(self._items.items())]


def _check_number(name: str, meaning: str, value: str) -> None:
    try:
        number = float(value)
    except ValueError:
        raise FaultError(f"fault {name} needs a number ({meaning}), got {value!r}") from None
    if number < 0:
        raise FaultError(f"fault {name}: {meaning} must not be negative, got {value}")


def describe() -> list[str]:
    """One line per fault, for ``cbgp-lab faults``."""
    width = max(len(spec.name) + len(f"={spec.argument}" if spec.argument else "")
                for spec in CATALOGUE.values())
    lines = []
    for spec in CATALOGUE.values():
        usage = spec.name + (f"={spec.argument}" if spec.argument else "")
        default = f" (default {spec.default})" if spec.default else ""
        lines.append(f"{usage:<{width}}  {spec.summary}{default}")
    return lines
