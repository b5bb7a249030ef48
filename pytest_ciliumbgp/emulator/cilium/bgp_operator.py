"""The cilium-operator's BGP side: one CiliumBGPNodeConfig per node a CiliumBGPClusterConfig
selects (named after the node, owned by the cluster config), and the cluster config's status
conditions NoMatchingNode, MissingPeerConfigs and ConflictingClusterConfig.

It writes in the version the store keeps cilium.io objects in (``v2``, or ``v2alpha1`` where the
store plays Cilium 1.16/1.17), and no conditions where the cluster config has no status (1.16/1.17).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..controller import Controller
from ..kubeapi.errors import ApiError
from ..kubeapi.selectors import from_label_selector_object, labels_match
from .lbipam import condition

CLUSTER_CONFIGS = "ciliumbgpclusterconfigs"
PEER_CONFIGS = "ciliumbgppeerconfigs"
NODE_CONFIGS = "ciliumbgpnodeconfigs"
NO_MATCHING_NODE = "cilium.io/NoMatchingNode"
MISSING_PEER_CONFIGS = "cilium.io/MissingPeerConfigs"
CONFLICTING_CLUSTER_CONFIG = "cilium.io/ConflictingClusterConfig"


def selects(cluster_config: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    selector = from_label_selector_object((cluster_config.get("spec") or {}).get("nodeSelector"))
    return selector is None or labels_match(selector, node["metadata"].get("labels"))


def node_config_spec(cluster_config: Mapping[str, Any]) -> dict[str, Any]:
    instances = []
    for instance in (cluster_config.get("spec") or {}).get("bgpInstances") or []:
        made: dict[str, Any] = {"name": instance["name"]}
        if instance.get("localASN") is not None:
            made["localASN"] = instance["localASN"]
        made["peers"] = [
            {key: peer[key] for key in ("name", "peerAddress", "peerASN", "peerConfigRef")
             if key in peer}
            for peer in instance.get("peers") or []
        ]
        instances.append(made)
    return {"bgpInstances": instances}


def _age_order(obj: Mapping[str, Any]) -> tuple[str, str]:
    return obj["metadata"].get("creationTimestamp", ""), obj["metadata"]["name"]


class BgpOperator(Controller):
    watches = ("nodes", CLUSTER_CONFIGS, PEER_CONFIGS, NODE_CONFIGS)
    name = "cilium-operator-bgp"

    def reconcile(self) -> None:
        with self.store.lock:
            nodes = self.store.list("nodes")
            cluster_configs = sorted(self.store.list(CLUSTER_CONFIGS), key=_age_order)
            peer_configs = {p["metadata"]["name"] for p in self.store.list(PEER_CONFIGS)}
            owner_of: dict[str, Mapping[str, Any]] = {}
            conflicts: dict[str, list[str]] = {}
            for config in cluster_configs:
                for node in nodes:
                    if not selects(config, node):
                        continue
                    name = node["metadata"]["name"]
                    if name in owner_of:
                        conflicts.setdefault(config["metadata"]["name"], []).append(name)
                    else:
                        owner_of[name] = config
            for node_name, owner in owner_of.items():
                self._write_node_config(node_name, owner)
            for existing in self.store.list(NODE_CONFIGS):
                if existing["metadata"]["name"] not in owner_of and self._ours(existing):
                    self._delete(existing["metadata"]["name"])
            if not self.store.type_of(CLUSTER_CONFIGS).status:
                return
            for config in cluster_configs:
                self._write_status(config, nodes, peer_configs,
                                   conflicts.get(config["metadata"]["name"], []))

    @staticmethod
    def _ours(node_config: Mapping[str, Any]) -> bool:
        return any(ref.get("kind") == "CiliumBGPClusterConfig"
                   for ref in node_config["metadata"].get("ownerReferences") or [])

    def _write_node_config(self, node_name: str, config: Mapping[str, Any]) -> None:
        metadata = config["metadata"]
        owner = {"apiVersion": self.store.type_of(CLUSTER_CONFIGS).api_version(),
                 "kind": "CiliumBGPClusterConfig",
                 "name": metadata["name"], "uid": metadata["uid"], "controller": True}
        spec = node_config_spec(config)
        existing = self.store.find(NODE_CONFIGS, node_name)
        if existing is None:
            self.store.create(NODE_CONFIGS, {
                "apiVersion": self.store.type_of(NODE_CONFIGS).api_version(),
                "kind": "CiliumBGPNodeConfig",
                "metadata": {"name": node_name, "ownerReferences": [owner]}, "spec": spec})
        elif existing.get("spec") != spec or existing["metadata"].get("ownerReferences") != [owner]:
            self.store.patch(NODE_CONFIGS, node_name,
                             {"metadata": {"ownerReferences": [owner]}, "spec": spec})

    def _delete(self, name: str) -> None:
        try:
            self.store.delete(NODE_CONFIGS, name)
        except ApiError as error:
            if error.code != 404:
                raise

    def _write_status(self, config: Mapping[str, Any], nodes: list[dict[str, Any]],
                      peer_configs: set[str], conflicting_nodes: list[str]) -> None:
        previous = {c["type"]: c for c in (config.get("status") or {}).get("conditions") or []}
        generation = config["metadata"].get("generation")
        matched = [n for n in nodes if selects(config, n)]
        missing = sorted({
            peer["peerConfigRef"]["name"]
            for instance in (config.get("spec") or {}).get("bgpInstances") or []
            for peer in instance.get("peers") or []
            if (peer.get("peerConfigRef") or {}).get("name")
            and peer["peerConfigRef"]["name"] not in peer_configs})
        conditions = [
            condition(NO_MATCHING_NODE, "True" if not matched else "False",
                      "NoMatchingNode" if not matched else "MatchingNodesFound",
                      "No node matches spec.nodeSelector" if not matched else "",
                      previous.get(NO_MATCHING_NODE), generation),
            condition(MISSING_PEER_CONFIGS, "True" if missing else "False",
                      "MissingPeerConfigs" if missing else "PeerConfigsFound",
                      f"Referenced CiliumBGPPeerConfig(s) are missing: {missing}" if missing
                      else "", previous.get(MISSING_PEER_CONFIGS), generation),
            condition(CONFLICTING_CLUSTER_CONFIG, "True" if conflicting_nodes else "False",
                      "ConflictingClusterConfigs" if conflicting_nodes else "NoConflict",
                      f"Nodes selected by another CiliumBGPClusterConfig: {conflicting_nodes}"
                      if conflicting_nodes else "",
                      previous.get(CONFLICTING_CLUSTER_CONFIG), generation),
        ]
        if [previous.get(c["type"]) for c in conditions] == conditions:
            return
        try:
            self.store.patch(CLUSTER_CONFIGS, config["metadata"]["name"],
                             {"status": {"conditions": conditions}}, status=True)
        except ApiError as error:
            if error.code != 404:
                raise
