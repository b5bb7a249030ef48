"""Which frontends a node load-balances to which backends, read from Service and EndpointSlice
objects: addresses, traffic policies, ready endpoints, port names."""

from __future__ import annotations

from typing import Any

from pytest_ciliumbgp.emulator.cilium.datapath_frontends import (
    Endpoint,
    node_frontends,
    service_ports,
)
from pytest_ciliumbgp.emulator.cilium.datapath_rules import CLUSTER, LOCAL, Backend, Frontend


def service(name: str = "web", *, etp: str = CLUSTER, itp: str | None = None,
            lb_ips: tuple[str, ...] = ("172.16.1.1",), **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "externalTrafficPolicy": etp,
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                 **spec},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in lb_ips]}},
    }
    if itp:
        body["spec"]["internalTrafficPolicy"] = itp
    return body


def endpoint(address: str, node: str, *, ready: bool = True,
             terminating: bool = False) -> dict[str, Any]:
    return {"addresses": [address], "nodeName": node,
            "conditions": {"ready": ready, "serving": ready, "terminating": terminating}}


def endpoint_slice(*endpoints: dict[str, Any], service_name: str = "web", port_name: str = "http",
                   port: int = 8080, namespace: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": f"{service_name}-abcde", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4",
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
            "endpoints": list(endpoints)}


BOTH = endpoint_slice(endpoint("172.20.0.10", "node-a"), endpoint("172.20.1.10", "node-b"))
HERE = Backend("172.20.0.10", 8080, local=True)
THERE = Backend("172.20.1.10", 8080, local=False)


def by_address(frontends: list[Frontend]) -> dict[str, tuple[Backend, ...]]:
    return {f.address: f.backends for f in frontends}


def test_service_port_reads_addresses_and_ready_endpoints() -> None:
    slices = [endpoint_slice(endpoint("172.20.0.10", "node-a"),
                             endpoint("172.20.0.11", "node-a", ready=False),
                             endpoint("172.20.1.12", "node-b", ready=False, terminating=True)),
              endpoint_slice(endpoint("172.20.1.10", "node-b"), service_name="other"),
              endpoint_slice(endpoint("172.20.1.11", "node-b"), namespace="elsewhere")]
    [port] = service_ports(service(externalIPs=["192.0.2.7"]), slices)
    assert port.service == "default/web:http"
    assert port.external_addresses == ("172.16.1.1", "192.0.2.7")
    assert port.cluster_addresses == ("10.96.0.10",)
    assert port.endpoints == (Endpoint("172.20.0.10", 8080, "node-a"),)


def test_endpoints_of_a_port_by_name() -> None:
    spec_ports = [{"name": "http", "port": 80, "protocol": "TCP"},
                  {"name": "metrics", "port": 9090, "protocol": "TCP"}]
    slices = [endpoint_slice(endpoint("172.20.0.10", "node-a"), port_name="metrics", port=9100)]
    http, metrics = service_ports(service(ports=spec_ports), slices)
    assert http.endpoints == ()
    assert metrics.endpoints == (Endpoint("172.20.0.10", 9100, "node-a"),)


def test_cluster_uses_every_ready_backend() -> None:
    frontends = node_frontends(service_ports(service(), [BOTH]), "node-a")
    assert by_address(frontends) == {"172.16.1.1": (HERE, THERE), "10.96.0.10": (HERE, THERE)}
    assert {(f.address, f.external, f.policy) for f in frontends} == {
        ("172.16.1.1", True, CLUSTER), ("10.96.0.10", False, CLUSTER)}


def test_local_uses_local_backends_only() -> None:
    ports = service_ports(service(etp=LOCAL), [BOTH])
    assert by_address(node_frontends(ports, "node-a")) == {
        "172.16.1.1": (HERE,), "10.96.0.10": (HERE, THERE)}
    assert by_address(node_frontends(ports, "node-c"))["172.16.1.1"] == ()


def test_cluster_ip_follows_internal_traffic_policy() -> None:
    ports = service_ports(service(itp=LOCAL), [BOTH])
    assert by_address(node_frontends(ports, "node-a")) == {
        "172.16.1.1": (HERE, THERE), "10.96.0.10": (HERE,)}


def test_without_endpoints_every_address_has_no_backend() -> None:
    frontends = node_frontends(service_ports(service(), []), "node-a")
    assert by_address(frontends) == {"172.16.1.1": (), "10.96.0.10": ()}


def test_headless_and_unallocated_services() -> None:
    headless = service(type="ClusterIP", clusterIP="None", clusterIPs=["None"], lb_ips=())
    assert node_frontends(service_ports(headless, [BOTH]), "node-a") == []
    pending = service(lb_ips=())
    assert [f.address for f in node_frontends(service_ports(pending, [BOTH]), "node-a")] == [
        "10.96.0.10"]
    assert service_ports(service(type="ExternalName", externalName="example.com"), [BOTH]) == []
