"""What a freshly installed Cilium BGP lab holds before any test runs: the cilium DaemonSet and
``cilium-config`` ConfigMap in kube-system (so the suite reads the version and agent options the
same way on every lab), and the BGP objects a platform team applies after installing Cilium —
a cluster config peering every node with the router, its peer config, and the PodCIDR
advertisement.

All of it as the Cilium release the lab plays (``cilium_release``) would have it: the image tag
names that release, cilium-config holds only the options it has, and the BGP objects are written
in the ``cilium.io`` version it serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..inventory import Inventory
from .kubeapi.cilium_release import CiliumRelease
from .router import router_peer_address

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
#: options younger than some release the lab plays -> the first (major, minor) that has them
INTRODUCED = {
    # cilium#40717, after 1.18.0; 1.16 and 1.17 advertise a Service without backends anyway.
    "enable-no-service-endpoints-routable": (1, 18),
}


def _has(release: CiliumRelease, option: str) -> bool:
    return INTRODUCED.get(option, (0, 0)) <= release.minor


def agent_options(release: CiliumRelease, options: Mapping[str, str]) -> dict[str, str]:
    """The defaults that ``release`` has, with ``options`` over them; ValueError (one line)
    for an option the release does not have."""
    for key in options:
        if not _has(release, key):
            since = ".".join(map(str, INTRODUCED[key]))
            raise ValueError(f"option {key}: Cilium {release.version} has no such agent option "
                             f"(it came with {since})")
    defaults = {key: value for key, value in DEFAULT_OPTIONS.items() if _has(release, key)}
    return {**defaults, **options}


def cilium_config(release: CiliumRelease, options: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cilium-config", "namespace": "kube-system"},
            "data": agent_options(release, options)}


def cilium_image(release: CiliumRelease) -> str:
    return f"quay.io/cilium/cilium:v{release.version}"


def cilium_daemonset(release: CiliumRelease, node_count: int) -> dict[str, Any]:
    labels = {"k8s-app": "cilium", "app.kubernetes.io/name": "cilium-agent",
              "app.kubernetes.io/part-of": "cilium"}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "cilium", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "cilium"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "cilium-agent", "image": cilium_image(release),
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


def bgp_objects(inventory: Inventory, release: CiliumRelease) -> list[tuple[str, dict[str, Any]]]:
    """(resource, object) for the cluster config(s), peer config and PodCIDR advertisement, in
    the storage version of ``release``. Nodes of one ASN share one cluster config; several ASNs
    get one each, by hostname."""
    api_version = release.catalog.resolve("ciliumbgpclusterconfigs").api_version()
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
            "apiVersion": api_version, "kind": "CiliumBGPClusterConfig",
            "metadata": {"name": name}, "spec": spec}))
    made.append(("ciliumbgppeerconfigs", {
        "apiVersion": api_version, "kind": "CiliumBGPPeerConfig",
        "metadata": {"name": PEER_CONFIG},
        "spec": {
            "timers": {"connectRetryTimeSeconds": 5, "holdTimeSeconds": 9,
                       "keepAliveTimeSeconds": 3},
            "gracefulRestart": {"enabled": True, "restartTimeSeconds": 15},
            "families": [{"afi": "ipv4", "safi": "unicast",
                          "advertisements": {"matchLabels": dict(ADVERTISE_LABEL)}}],
        }}))
    made.append(("ciliumbgpadvertisements", {
        "apiVersion": api_version, "kind": "CiliumBGPAdvertisement",
        "metadata": {"name": PODCIDR_ADVERTISEMENT, "labels": dict(ADVERTISE_LABEL)},
        "spec": {"advertisements": [{"advertisementType": "PodCIDR"}]}}))
    return made


def boot_objects(inventory: Inventory, release: CiliumRelease, options: Mapping[str, str],
                 ) -> list[tuple[str, dict[str, Any]]]:
    return [("configmaps", cilium_config(release, options)),
            ("daemonsets", cilium_daemonset(release, len(inventory.nodes))),
            *bgp_objects(inventory, release)]

