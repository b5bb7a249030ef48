"""Builders for the objects the BGP agent reads: nodes, node/peer configs, advertisements,
Services and EndpointSlices, as plain API dicts."""

from __future__ import annotations

from typing import Any

NODES = ("k8s-ctr", "k8s-w1", "k8s-w0")
SELECT_ALL = {"matchExpressions": [{"key": "never-used", "operator": "NotIn",
                                    "values": ["never-used"]}]}


def node(name: str, pod_cidr: str = "172.20.0.0/24") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}}


def node_config(name: str, peer_address: str = "192.168.10.200",
                peer_config: str = "cilium-peer") -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"bgpInstances": [{
        "name": "instance-65001", "localASN": 65001,
        "peers": [{"name": "router", "peerAddress": peer_address, "peerASN": 65000,
                   "peerConfigRef": {"name": peer_config}}]}]}}


def peer_config(name: str = "cilium-peer", **spec: Any) -> dict[str, Any]:
    spec.setdefault("families", [{"afi": "ipv4", "safi": "unicast",
                                  "advertisements": {"matchLabels": {"advertise": "bgp"}}}])
    return {"metadata": {"name": name}, "spec": spec}


def advertisement(name: str, *entries: dict[str, Any],
                  labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels if labels is not None
                         else {"advertise": "bgp"}},
            "spec": {"advertisements": list(entries)}}


def lb_entry(selector: dict[str, Any] | None = None, addresses: tuple[str, ...] = (
        "LoadBalancerIP",), **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"advertisementType": "Service",
                             "service": {"addresses": list(addresses)}}
    if selector is not None:
        entry["selector"] = selector
    entry.update(extra)
    return entry


def service(name: str, ip: str | None = "172.16.1.10", policy: str = "Cluster",
            namespace: str = "default", labels: dict[str, str] | None = None,
            **spec: Any) -> dict[str, Any]:
    made: dict[str, Any] = {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": name},
                     "resourceVersion": "1"},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                 "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], **spec},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}] if ip else []}},
    }
    return made


def endpoint_slice(service_name: str, *endpoints: tuple[str, str, bool, bool],
                   namespace: str = "default") -> dict[str, Any]:
    """endpoints: (pod uid, node, ready, terminating)."""
    return {"metadata": {"name": f"{service_name}-abcde", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["172.20.0.5"], "nodeName": node_name,
                           "targetRef": {"kind": "Pod", "uid": uid},
                           "conditions": {"ready": ready, "serving": ready,
                                          "terminating": terminating}}
                          for uid, node_name, ready, terminating in endpoints]}
