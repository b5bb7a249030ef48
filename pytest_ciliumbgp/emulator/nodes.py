"""Node objects for the inventory's nodes, as a kubelet would register them."""

from __future__ import annotations

import platform
from typing import Any

from pytest_ciliumbgp.inventory import Inventory, Node

KUBELET_VERSION = "v1.33.4"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


def node_object(node: Node, now: str) -> dict[str, Any]:
    labels = {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }
    if node.control_plane:
        labels[CONTROL_PLANE_LABEL] = ""
    spec: dict[str, Any] = {}
    if node.pod_cidr is not None:
        spec = {"podCIDR": str(node.pod_cidr), "podCIDRs": [str(node.pod_cidr)]}
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "kubelet is posting ready status (embedded lab)",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node.name, "labels": labels},
        "spec": spec,
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": str(node.address)},
                {"type": "Hostname", "address": node.name},
            ],
            "conditions": [ready],
            "nodeInfo": {
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "osImage": "cbgp embedded lab (network namespace)",
                "kernelVersion": platform.release(),
                "containerRuntimeVersion": "cbgp-netns://0",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        },
    }


def node_objects(inventory: Inventory, now: str) -> list[dict[str, Any]]:
    return [node_object(node, now) for node in inventory.nodes]
