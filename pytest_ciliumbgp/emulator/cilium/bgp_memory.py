"""The agent faults that depend on history rather than on the current objects: a Local route
kept after its last endpoint went (cilium#38924), a shared VIP withdrawn when one of its Services
is deleted (cilium#35018), an announcement lost after a backend pod is recreated (cilium#36055).
The last two last until the affected Service is touched (its resourceVersion changes), as in the
reports.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import faults as fault_names
from .bgp_paths import Route, ServiceState

Routes = dict[ipaddress.IPv4Network, Route]


def _addresses(service: ServiceState) -> set[ipaddress.IPv4Address]:
    found = set()
    for text in (*service.ingress_ips, *service.cluster_ips, *service.external_ips):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv4Address):
            found.add(address)
    return found


@dataclass
class _Seen:
    ingress: set[str]
    pods: set[str]
    lost_pod: bool = False


@dataclass
class FaultMemory:
    kept: Routes = field(default_factory=dict)
    seen: dict[str, _Seen] = field(default_factory=dict)
    #: Service key -> the resourceVersion it is hidden at (until touched)
    hidden: dict[str, str] = field(default_factory=dict)

    def apply(self, faults: Mapping[str, str],
              service_objects: Sequence[Mapping[str, Any]], services: Sequence[ServiceState],
              routes: Routes, endpoint_blind: Collection[ipaddress.IPv4Network] = ()) -> Routes:
        """``routes`` as the faults in force change them. ``endpoint_blind``: the prefixes that
        would be advertised if endpoints did not matter; only those a kept Local route may stay
        (the regression is a missed reconcile on endpoint changes, not on anything else)."""
        versions = {f"{o['metadata'].get('namespace') or 'default'}/{o['metadata']['name']}":
                    o["metadata"].get("resourceVersion", "") for o in service_objects}
        self._observe(faults, services, versions)
        result = dict(routes)
        if fault_names.KEEP_LOCAL_ROUTE_AFTER_LAST_ENDPOINT in faults:
            self.kept.update(routes)
            for prefix, route in self.kept.items():
                if prefix not in result and prefix in endpoint_blind:
                    result[prefix] = route
            self.kept = {p: r for p, r in self.kept.items() if p in result}
        else:
            self.kept.clear()
        for service in services:
            if service.key in self.hidden:
                for address in _addresses(service):
                    result = {p: r for p, r in result.items() if address not in p}
        return result

    def _observe(self, faults: Mapping[str, str], services: Sequence[ServiceState],
                 versions: Mapping[str, str]) -> None:
        current = {s.key: s for s in services}
        self.hidden = {key: version for key, version in self.hidden.items()
                       if versions.get(key) == version}
        if fault_names.WITHDRAW_SHARED_VIP_ON_FIRST_DELETE in faults:
            for key, seen in self.seen.items():
                if key in current:
                    continue
                for other in services:
                    if seen.ingress & set(other.ingress_ips):
                        self.hidden[other.key] = versions.get(other.key, "")
        for service in services:
            pods = {e.pod_uid for e in service.endpoints if e.pod_uid}
            before = self.seen.get(service.key)
            lost = bool(before and (before.lost_pod or before.pods - pods))
            if (fault_names.LOSE_ANNOUNCEMENT_AFTER_POD_RECREATION in faults and before
                    and lost and pods - before.pods):
                self.hidden[service.key] = versions.get(service.key, "")
                lost = False
            self.seen[service.key] = _Seen(set(service.ingress_ips), pods, lost)
        for key in [k for k in self.seen if k not in current]:
            del self.seen[key]
