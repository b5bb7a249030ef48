"""Cilium LB-IPAM and BGP Control Plane v2 objects, as the given ``cilium.io`` version takes them.

Every builder takes ``version`` (``v2`` or ``v2alpha1``, see ``kube.versions``) and returns a
plain dict ready for the API. Field names follow Cilium's CRDs (``../shared/cilium/FACTS.md``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_ciliumbgp.kube.manifests.meta import (
    Manifest,
    Selector,
    cilium_api_version,
    metadata,
)

SERVICE_ADDRESS_TYPES = ("LoadBalancerIP", "ClusterIP", "ExternalIP")


def ip_pool(
    name: str,
    blocks: Sequence[str | tuple[str, str]],
    *,
    version: str,
    service_selector: Selector | None = None,
    disabled: bool = False,
    allow_first_last_ips: bool = True,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """A CiliumLoadBalancerIPPool. A block is a CIDR (``"172.16.1.0/24"``), a range
    (``"172.16.1.10-172.16.1.20"``) or a ``(start, stop)`` pair. ``allowFirstLastIPs`` is always
    written: its default changed in Cilium 1.16 (No → Yes). No ``service_selector`` means every
    Service may take an IP from the pool."""
    if not blocks:
        raise ValueError(f"CiliumLoadBalancerIPPool {name}: at least one block is needed")
    spec: dict[str, Any] = {
        "blocks": [_block(block) for block in blocks],
        "disabled": disabled,
        "allowFirstLastIPs": "Yes" if allow_first_last_ips else "No",
    }
    if service_selector is not None:
        spec["serviceSelector"] = dict(service_selector)
    return _cilium_object("CiliumLoadBalancerIPPool", name, version, spec, labels, annotations)


@dataclass(frozen=True)
class BgpPeer:
    """A peer of a BGP instance; ``peer_config`` names the CiliumBGPPeerConfig it uses."""

    name: str
    peer_address: str
    peer_asn: int
    peer_config: str | None = None


@dataclass(frozen=True)
class BgpInstance:
    """A BGP instance of a cluster config: the local ASN the selected nodes speak with."""

    name: str
    local_asn: int
    peers: Sequence[BgpPeer] = ()
    local_port: int | None = None


def bgp_cluster_config(
    name: str,
    instances: Sequence[BgpInstance],
    *,
    version: str,
    node_selector: Selector | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """A CiliumBGPClusterConfig. No ``node_selector`` selects every node. ``peerConfigRef`` is
    ``{name}`` in v2; v2alpha1 also gets its ``group`` and ``kind``."""
    if not instances:
        raise ValueError(f"CiliumBGPClusterConfig {name}: at least one BGP instance is needed")
    spec: dict[str, Any] = {"bgpInstances": [_instance(i, version) for i in instances]}
    if node_selector is not None:
        spec["nodeSelector"] = dict(node_selector)
    return _cilium_object("CiliumBGPClusterConfig", name, version, spec, labels, annotations)


@dataclass(frozen=True)
class BgpTimers:
    """Session timers, in seconds; Cilium's defaults. Keepalive may not exceed hold time."""

    connect_retry_time_seconds: int = 120
    hold_time_seconds: int = 90
    keep_alive_time_seconds: int = 30

    def __post_init__(self) -> None:
        if self.keep_alive_time_seconds > self.hold_time_seconds:
            raise ValueError(
                f"BGP timers: keepalive {self.keep_alive_time_seconds} s is larger than hold "
                f"time {self.hold_time_seconds} s"
            )


@dataclass(frozen=True)
class BgpFamily:
    """An address family of a peer config and the CiliumBGPAdvertisements (by their labels) that
    are announced in it. No ``advertisements`` selector announces nothing."""

    afi: str = "ipv4"
    safi: str = "unicast"
    advertisements: Selector | None = None


def bgp_peer_config(
    name: str,
    *,
    version: str,
    families: Sequence[BgpFamily] = (),
    timers: BgpTimers | None = None,
    graceful_restart: bool | None = None,
    restart_time_seconds: int = 120,
    ebgp_multihop: int | None = None,
    peer_port: int | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """A CiliumBGPPeerConfig. What is left at None is left out (Cilium's defaults apply);
    ``graceful_restart`` given writes ``gracefulRestart{enabled, restartTimeSeconds}``."""
    spec: dict[str, Any] = {}
    if peer_port is not None:
        spec["transport"] = {"peerPort": peer_port}
    if timers is not None:
        spec["timers"] = {
            "connectRetryTimeSeconds": timers.connect_retry_time_seconds,
            "holdTimeSeconds": timers.hold_time_seconds,
            "keepAliveTimeSeconds": timers.keep_alive_time_seconds,
        }
    if graceful_restart is not None:
        spec["gracefulRestart"] = {
            "enabled": graceful_restart,
            "restartTimeSeconds": restart_time_seconds,
        }
    if ebgp_multihop is not None:
        spec["ebgpMultihop"] = ebgp_multihop
    if families:
        spec["families"] = [_family(family) for family in families]
    return _cilium_object("CiliumBGPPeerConfig", name, version, spec, labels, annotations)


@dataclass(frozen=True)
class Communities:
    """BGP communities: standard (``"65000:100"``), well-known (``"no-export"``) and large
    (``"65000:1:1"``)."""

    standard: Sequence[str] = ()
    well_known: Sequence[str] = ()
    large: Sequence[str] = ()


@dataclass(frozen=True)
class PathAttributes:
    """Path attributes Cilium attaches to what an advertisement announces. LOCAL_PREF reaches
    iBGP peers only."""

    communities: Communities = field(default_factory=Communities)
    local_preference: int | None = None


def pod_cidr_advertisement(*, attributes: PathAttributes | None = None) -> dict[str, Any]:
    """An advertisement entry for the nodes' PodCIDRs (it takes no selector)."""
    entry: dict[str, Any] = {"advertisementType": "PodCIDR"}
    _add_attributes(entry, attributes)
    return entry


def service_advertisement(
    selector: Selector,
    *,
    addresses: Sequence[str] = ("LoadBalancerIP",),
    attributes: PathAttributes | None = None,
    aggregation_length_ipv4: int | None = None,
) -> dict[str, Any]:
    """An advertisement entry for the addresses of the Services ``selector`` matches (required:
    Cilium reads a missing selector as "no Service"; use ``meta.select_all()`` for all).
    ``aggregation_length_ipv4`` (Cilium ≥ 1.18) aggregates Cluster Services only."""
    unknown = [a for a in addresses if a not in SERVICE_ADDRESS_TYPES]
    if not addresses or unknown:
        raise ValueError(
            f"Service advertisement addresses {list(addresses)}: "
            f"expected some of {SERVICE_ADDRESS_TYPES}"
        )
    service: dict[str, Any] = {"addresses": list(addresses)}
    if aggregation_length_ipv4 is not None:
        service["aggregationLengthIPv4"] = aggregation_length_ipv4
    entry: dict[str, Any] = {
        "advertisementType": "Service",
        "service": service,
        "selector": dict(selector),
    }
    _add_attributes(entry, attributes)
    return entry


def bgp_advertisement(
    name: str,
    advertisements: Sequence[Mapping[str, Any]],
    *,
    version: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """A CiliumBGPAdvertisement of the given entries (``pod_cidr_advertisement()``,
    ``service_advertisement(...)``). Its ``labels`` are what peer configs' families select."""
    if not advertisements:
        raise ValueError(f"CiliumBGPAdvertisement {name}: at least one advertisement is needed")
    spec = {"advertisements": [dict(entry) for entry in advertisements]}
    return _cilium_object("CiliumBGPAdvertisement", name, version, spec, labels, annotations)


def _cilium_object(
    kind: str,
    name: str,
    version: str,
    spec: dict[str, Any],
    labels: Mapping[str, str] | None,
    annotations: Mapping[str, str] | None,
) -> Manifest:
    return {
        "apiVersion": cilium_api_version(version),
        "kind": kind,
        "metadata": metadata(name, labels=labels, annotations=annotations),
        "spec": spec,
    }


def _block(block: str | tuple[str, str]) -> dict[str, str]:
    try:
        if isinstance(block, str) and "-" not in block:
            ipaddress.ip_network(block, strict=False)
            return {"cidr": block}
        start, stop = block if isinstance(block, tuple) else block.split("-", 1)
        first, last = ipaddress.ip_address(start.strip()), ipaddress.ip_address(stop.strip())
    except ValueError as err:
        raise ValueError(
            f"pool block {block!r}: neither a CIDR nor a start-stop range ({err})"
        ) from err
    if first.version != last.version or int(first) > int(last):
        raise ValueError(f"pool block {first}-{last}: start must not come after stop")
    return {"start": str(first), "stop": str(last)}


def _instance(instance: BgpInstance, version: str) -> dict[str, Any]:
    built: dict[str, Any] = {"name": instance.name, "localASN": instance.local_asn}
    if instance.local_port is not None:
        built["localPort"] = instance.local_port
    built["peers"] = [_peer(peer, version) for peer in instance.peers]
    return built


def _peer(peer: BgpPeer, version: str) -> dict[str, Any]:
    built: dict[str, Any] = {
        "name": peer.name,
        "peerAddress": peer.peer_address,
        "peerASN": peer.peer_asn,
    }
    if peer.peer_config is not None:
        reference = {"name": peer.peer_config}
        if version == "v2alpha1":
            reference |= {"group": "cilium.io", "kind": "CiliumBGPPeerConfig"}
        built["peerConfigRef"] = reference
    return built


def _family(family: BgpFamily) -> dict[str, Any]:
    built: dict[str, Any] = {"afi": family.afi, "safi": family.safi}
    if family.advertisements is not None:
        built["advertisements"] = dict(family.advertisements)
    return built


def _add_attributes(entry: dict[str, Any], attributes: PathAttributes | None) -> None:
    if attributes is None:
        return
    built: dict[str, Any] = {}
    communities = {
        key: list(values)
        for key, values in (
            ("standard", attributes.communities.standard),
            ("wellKnown", attributes.communities.well_known),
            ("large", attributes.communities.large),
        )
        if values
    }
    if communities:
        built["communities"] = communities
    if attributes.local_preference is not None:
        built["localPreference"] = attributes.local_preference
    if built:
        entry["attributes"] = built
