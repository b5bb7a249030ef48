"""Services: defaulting, validation and the two allocators a real apiserver runs for them —
clusterIP from the service CIDR (10.96.0.0/12, 10.96.0.1 kept for ``kubernetes``) and node
ports from 30000-32767. Allocated values survive PUTs that omit them, as upstream."""

from __future__ import annotations

import ipaddress
from typing import Any

from .core_validation import (
    duplicate,
    forbidden,
    invalid_value,
    not_an_object,
    not_supported,
    required,
    validate_metadata,
)
from .errors import ApiError, FieldError

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = range(30000, 32768)
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TRAFFIC_POLICIES = ("Cluster", "Local")


class ServiceAllocators:
    """Which clusterIPs and node ports are taken; the store calls ``claim`` after a Service is
    validated and ``release`` when it is removed or gives a value up."""

    def __init__(self) -> None:
        self._cluster_ips: set[str] = {str(SERVICE_CIDR.network_address + 1)}
        self._node_ports: set[int] = set()
        self._next_ip = 10
        self._next_port = NODE_PORTS.start

    def _free_ip(self) -> str:
        size = SERVICE_CIDR.num_addresses - 2
        for _ in range(size):
            candidate = str(SERVICE_CIDR.network_address + 1 + self._next_ip % size)
            self._next_ip += 1
            if candidate not in self._cluster_ips:
                return candidate
        raise ApiError(500, "InternalError", "range is full: no clusterIP left in 10.96.0.0/12")

    def _free_port(self, pending: set[int]) -> int:
        for _ in NODE_PORTS:
            candidate = self._next_port
            self._next_port = candidate + 1 if candidate + 1 in NODE_PORTS else NODE_PORTS.start
            if candidate not in self._node_ports and candidate not in pending:
                pending.add(candidate)
                return candidate
        raise ApiError(500, "InternalError", "range is full: no node port left")

    def taken(self, service: dict[str, Any]) -> tuple[set[str], set[int]]:
        spec = service.get("spec") or {}
        ips = {ip for ip in spec.get("clusterIPs") or [] if ip != "None"}
        ports = {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}
        if spec.get("healthCheckNodePort"):
            ports.add(spec["healthCheckNodePort"])
        return ips, ports

    def claim(self, service: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        """Allocate what the Service needs and reserve what it asked for; errors if taken."""
        spec = service["spec"]
        old_ips, old_ports = self.taken(old) if old else (set(), set())
        errors: list[FieldError] = []
        pending: set[int] = set()
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = self._free_ip()
        if spec.get("clusterIP"):
            spec["clusterIPs"] = [spec["clusterIP"]]
            ip = spec["clusterIP"]
            if ip != "None" and ip not in old_ips:
                if ip in self._cluster_ips:
                    errors.append(invalid_value("spec.clusterIPs", [ip],
                                                f"failed to allocate IP {ip}: provided IP is "
                                                "already allocated"))
                elif ipaddress.ip_address(ip) not in SERVICE_CIDR:
                    errors.append(invalid_value("spec.clusterIPs", [ip], "failed to allocate IP "
                                                f"{ip}: the provided IP ({ip}) is not in the "
                                                "valid range. The range of valid IPs is "
                                                "10.96.0.0/12"))
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for index, port in enumerate(spec.get("ports") or []):
                asked = port.get("nodePort")
                if asked and asked not in old_ports and asked in self._node_ports:
                    errors.append(invalid_value(f"spec.ports[{index}].nodePort", asked,
                                                "provided port is already allocated"))
                elif not asked and spec.get("allocateLoadBalancerNodePorts", True):
                    port["nodePort"] = self._free_port(pending)
            local = spec.get("externalTrafficPolicy") == "Local"
            if spec.get("type") == "LoadBalancer" and local and not spec.get("healthCheckNodePort"):
                spec["healthCheckNodePort"] = self._free_port(pending)
        if errors:
            return errors
        new_ips, new_ports = self.taken(service)
        self._cluster_ips |= new_ips
        self._node_ports |= new_ports
        self.release_values(old_ips - new_ips, old_ports - new_ports)
        return []

    def release(self, service: dict[str, Any]) -> None:
        self.release_values(*self.taken(service))

    def release_values(self, ips: set[str], ports: set[int]) -> None:
        self._cluster_ips -= ips
        self._node_ports -= ports


def _keep_allocated(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
    # A PUT built from a manifest omits what the server allocated; upstream copies it over.
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                     for p in old_spec.get("ports") or []}
        for port in spec.get("ports") or []:
            if not port.get("nodePort"):
                allocated = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                if allocated:
                    port["nodePort"] = allocated
        if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort") and \
                spec.get("externalTrafficPolicy") == "Local":
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
    else:
        spec.pop("healthCheckNodePort", None)
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)


def _default(spec: dict[str, Any]) -> None:
    spec.setdefault("type", "ClusterIP")
    external = spec["type"] in ("NodePort", "LoadBalancer")
    if spec["type"] != "ExternalName":
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    if external:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])


def _validate_ports(spec: dict[str, Any]) -> list[FieldError]:
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if not ports and spec["type"] != "ExternalName" and not headless:
        return [required("spec.ports")]
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, port in enumerate(ports):
        where = f"spec.ports[{index}]"
        if not isinstance(port, dict):
            errors.append(not_an_object(where))
            continue
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            errors.append(invalid_value(f"{where}.port", number,
                                        "must be between 1 and 65535, inclusive"))
        if port["protocol"] not in PROTOCOLS:
            errors.append(not_supported(f"{where}.protocol", port["protocol"], PROTOCOLS))
        name = port.get("name")
        if len(ports) > 1 and not name:
            errors.append(required(f"{where}.name"))
        elif name in names:
            errors.append(duplicate(f"{where}.name", name))
        names.add(name or "")
        node_port = port.get("nodePort")
        if node_port and spec["type"] not in ("NodePort", "LoadBalancer"):
            errors.append(forbidden(f"{where}.nodePort",
                                    f"may not be used when `type` is '{spec['type']}'"))
        elif node_port and node_port not in NODE_PORTS:
            errors.append(invalid_value(f"{where}.nodePort", node_port,
                                        "provided port is not in the valid range. The range of "
                                        "valid ports is 30000-32767"))
    return errors


def _validate_spec(spec: dict[str, Any]) -> list[FieldError]:
    kind = spec["type"]
    if kind not in SERVICE_TYPES:
        return [not_supported("spec.type", kind, SERVICE_TYPES)]
    errors = _validate_ports(spec)
    external = kind in ("NodePort", "LoadBalancer")
    policy = spec.get("externalTrafficPolicy")
    if policy and not external:
        errors.append(invalid_value("spec.externalTrafficPolicy", policy,
                                    "may only be set for externally-accessible services"))
    elif policy and policy not in TRAFFIC_POLICIES:
        errors.append(not_supported("spec.externalTrafficPolicy", policy, TRAFFIC_POLICIES))
    internal = spec.get("internalTrafficPolicy")
    if internal and internal not in TRAFFIC_POLICIES:
        errors.append(not_supported("spec.internalTrafficPolicy", internal, TRAFFIC_POLICIES))
    affinity = spec.get("sessionAffinity")
    if affinity and affinity not in ("ClientIP", "None"):
        errors.append(not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    if kind == "ExternalName":
        if not spec.get("externalName"):
            errors.append(required("spec.externalName"))
        if spec.get("clusterIP"):
            errors.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
    elif spec.get("clusterIP") == "None" and external:
        errors.append(invalid_value("spec.clusterIPs[0]", "None",
                                    f"may not be set to 'None' for {kind} services"))
    elif spec.get("clusterIP") not in (None, "", "None"):
        try:
            ipaddress.ip_address(spec["clusterIP"])
        except ValueError:
            errors.append(invalid_value("spec.clusterIPs[0]", spec["clusterIP"],
                                        "must be a valid IP address"))
    return errors


def prepare_service(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    """Default and validate a Service written by a client (allocation happens afterwards)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    if old is not None:
        _keep_allocated(spec, old.get("spec") or {})
    else:
        obj["status"] = {"loadBalancer": {}}
    _default(spec)
    errors = validate_metadata(obj, "dns1035") + _validate_spec(spec)
    old_ip = (old or {}).get("spec", {}).get("clusterIP")
    if old_ip and spec.get("type") != "ExternalName" and spec.get("clusterIP") != old_ip:
        errors.append(invalid_value("spec.clusterIPs[0]", [spec.get("clusterIP")],
                                    "may not change once set"))
    return errors
