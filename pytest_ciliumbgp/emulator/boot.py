"""What a freshly installed Cilium BGP lab holds before any test runs: the cilium DaemonSet and
``cilium-config`` ConfigMap in kube-system (so the suite reads the version and agent options the
same way on every lab), and the BGP objects a platform team applies after installing Cilium —
a cluster config peering every node with the router, its peer config, and the PodCIDR
advertisement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..inventory import Inventory
from .router import router_peer_address

CILIUM_VERSION = "1.18.2"
CILIUM_IMAGE = f"quay.io/cilium/cilium:v{CILIUM_VERSION}"
ADVERTISE_LABEL = {"advertise": "bgp"}
CLUSTER_CONFIG = "cilium-bgp"
PEER_CONFIG = "cilium-peer"
PODCIDR_ADVERTISEMENT = "bgp-advertisements"
HOSTNAME_LABEL = "kubernetes.io/hostname"

#: agent options of the emulated cilium-agent; ``cbgp-lab up --option KEY=VALUE`` changes them
DEFAULT_OPTIONS = {
    "cluster-name": "default",
    "enable-bgp-control-plane": "true",
    "enable-ipv4": "true",
    "enable-ipv6": "false",
    "ipam": "cluster-pool",
    "routing-mode": "native",
    "ipv4-native-routing-cidr": "172.20.0.0/16",
    "auto-direct-node-routes": "false",
    "kube-proxy-replacement": "true",
    "bpf-lb-mode": "snat",
    "enable-bpf-masquerade": "true",
    "enable-no-service-endpoints-routable": "true",
    "enable-lb-ipam": "true",
}


def cilium_config(options: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cilium-config", "namespace": "kube-system"},
            "data": {**DEFAULT_OPTIONS, **options}}


def cilium_daemonset(node_count: int) -> dict[str, Any]:
    labels = {"k8s-app": "cilium", "app.kubernetes.io/name": "cilium-agent",
              "app.kubernetes.io/part-of": "cilium"}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "cilium", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "cilium"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "cilium-agent", "image": CILIUM_IMAGE,
                                         "command": ["cilium-agent"],
                                         "args": ["--config-dir=/tmp/cilium/config-map"]}],
                         "hostNetwork": True},
            },
        },
        "status": {"desiredNumberScheduled": node_count, "currentNumberScheduled": node_count,
                   "numberReady": node_count, "numberAvailable": node_count,
                   "updatedNumberScheduled": node_count, "numberMisscheduled": 0,
                   "observedGeneration": 1},
    }


def bgp_objects(inventory: Inventory) -> list[tuple[str, dict[str, Any]]]:
    """(resource, object) for the cluster config(s), peer config and PodCIDR advertisement.
    Nodes of one ASN share one cluster config; several ASNs get one each, by hostname."""
    router = inventory.router
    by_asn: dict[int, list[str]] = {}
    for node in inventory.nodes:
        by_asn.setdefault(node.asn, []).append(node.name)
    made: list[tuple[str, dict[str, Any]]] = []
    for asn, names in by_asn.items():
        spec: dict[str, Any] = {"bgpInstances": [{
            "name": f"instance-{asn}",
            "localASN": asn,
            "peers": [{"name": router.name, "peerAddress": router_peer_address(inventory),
                       "peerASN": router.asn, "peerConfigRef": {"name": PEER_CONFIG}}],
        }]}
        name = CLUSTER_CONFIG
        if len(by_asn) > 1:
            name = f"{CLUSTER_CONFIG}-{asn}"
            spec["nodeSelector"] = {"matchExpressions": [
                {"key": HOSTNAME_LABEL, "operator": "In", "values": sorted(names)}]}
        made.append(("ciliumbgpclusterconfigs", {
            "apiVersion": "cilium.io/v2", "kind": "CiliumBGPClusterConfig",
            "metadata": {"name": name}, "spec": spec}))
    made.append(("ciliumbgppeerconfigs", {
        "apiVersion": "cilium.io/v2", "kind": "CiliumBGPPeerConfig",
        "metadata": {"name": PEER_CONFIG},
        "spec": {
            "timers": {"connectRetryTimeSeconds": 5, "holdTimeSeconds": 9,
                       "keepAliveTimeSeconds": 3},
            "gracefulRestart": {"enabled": True, "restartTimeSeconds": 15},
            "families": [{"afi": "ipv4", "safi": "unicast",
                          "advertisements": {"matchLabels": dict(ADVERTISE_LABEL)}}],
        }}))
    made.append(("ciliumbgpadvertisements", {
        "apiVersion": "cilium.io/v2", "kind": "CiliumBGPAdvertisement",
        "metadata": {"name": PODCIDR_ADVERTISEMENT, "labels": dict(ADVERTISE_LABEL)},
        "spec": {"advertisements": [{"advertisementType": "PodCIDR"}]}}))
    return made


def boot_objects(inventory: Inventory, options: Mapping[str, str],
                 ) -> list[tuple[str, dict[str, Any]]]:
    return [("configmaps", cilium_config(options)),
            ("daemonsets", cilium_daemonset(len(inventory.nodes))),
            *bgp_objects(inventory)]

