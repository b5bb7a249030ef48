"""An inventory of two nodes behind one router (the datapath's view of a lab) and the objects
the datapath reads: a LoadBalancer Service with its LB IP and a hand-made EndpointSlice."""

from __future__ import annotations

import ipaddress
from typing import Any

from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.inventory import Interface, Inventory, Node, Reach, Router

LB_IP = "172.16.1.1"
NODE_A, NODE_B = "node-a", "node-b"
NODE_ADDRESSES = {NODE_A: "192.168.10.100", NODE_B: "192.168.20.100"}
POD_CIDRS = {NODE_A: "172.20.0.0/24", NODE_B: "172.20.1.0/24"}
POD_ADDRESSES = {NODE_A: "172.20.0.10", NODE_B: "172.20.1.10"}
ROUTER_ADDRESSES = {NODE_A: "192.168.10.200", NODE_B: "192.168.20.200"}
CLIENT_NETWORK, CLIENT_ADDRESS, CLIENT_GATEWAY = "10.10.1.0/24", "10.10.1.100", "10.10.1.200"
SERVICE_PORT, POD_PORT = 80, 8080


def _interface(name: str, network: str, address: str) -> Interface:
    return Interface(name, network, ipaddress.IPv4Interface(address))


def inventory() -> Inventory:
    netns = Reach("netns")
    router = Router("router", netns, (
        _interface("eth1", "lan1", f"{ROUTER_ADDRESSES[NODE_A]}/24"),
        _interface("eth2", "lan2", f"{ROUTER_ADDRESSES[NODE_B]}/24")), asn=65000)
    nodes = tuple(
        Node(name, netns, (_interface("eth1", lan, f"{NODE_ADDRESSES[name]}/24"),),
             gateway=ipaddress.IPv4Address(ROUTER_ADDRESSES[name]), asn=65001,
             pod_cidr=ipaddress.IPv4Network(POD_CIDRS[name]))
        for name, lan in ((NODE_A, "lan1"), (NODE_B, "lan2")))
    return Inventory("datapath", None, {
        "lan1": ipaddress.IPv4Network("192.168.10.0/24"),
        "lan2": ipaddress.IPv4Network("192.168.20.0/24")}, router, nodes, (),
        ipaddress.IPv4Network("172.16.1.0/24"))


def add_service(store: Store, policy: str, name: str = "web") -> dict[str, Any]:
    store.create("services", {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                 "selector": {"app": name},
                 "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": POD_PORT}]}})
    return store.patch("services", name, {"status": {"loadBalancer": {"ingress": [
        {"ip": LB_IP}]}}}, "default", status=True)


def add_endpoints(store: Store, *nodes: str, name: str = "web", ready: bool = True,
                  ) -> dict[str, Any]:
    """The slice a controller would write for one pod on each of ``nodes``."""
    return store.create("endpointslices", {
        "metadata": {"name": f"{name}-hand1", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": POD_PORT, "protocol": "TCP"}],
        "endpoints": [{"addresses": [POD_ADDRESSES[node]], "nodeName": node,
                       "conditions": {"ready": ready, "serving": ready, "terminating": False}}
                      for node in nodes]})
