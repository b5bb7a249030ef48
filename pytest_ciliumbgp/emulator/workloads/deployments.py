"""The Deployment controller (with the ReplicaSet's job folded in: the lab has no ReplicaSets).

For each Deployment it keeps ``spec.replicas`` non-terminating pods of the current template:
named ``<deployment>-<template hash>-<5 random>``, labelled from the template plus
``pod-template-hash``, owned by the Deployment. It creates the missing ones, deletes the surplus
(unready and newest first, a graceful deletion), and replaces pods that are deleted. When the
template changes it rolls: pods of the new template are created first, old ones are deleted as
the new ones become ready. Status: observedGeneration, replica counts, Available/Progressing.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..controller import Controller
from ..faults import Faults
from ..kubeapi.errors import ApiError
from ..kubeapi.objectmeta import now
from ..kubeapi.resources import resolve
from ..kubeapi.store import Store
from .podspec import Object

PODS = "pods"
DEPLOYMENTS = "deployments"
TEMPLATE_HASH_LABEL = "pod-template-hash"
# kube's rand.SafeEncodeString alphabet: no vowels, no look-alike characters.
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Mapping[str, Any]) -> str:
    """A 10-character hash of the pod template: FNV-1a 32 of its JSON, encoded as kube does."""
    digest = 0x811C9DC5
    for byte in json.dumps(template, sort_keys=True, separators=(",", ":")).encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in f"{digest:010d}")


def is_ready(pod: Object) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _scaled(value: Any, replicas: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = replicas * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def deletion_order(pods: Sequence[Object]) -> list[Object]:
    """Pods in the order a scale-down removes them: unbound, then not running, then unready,
    and among equals the newest first."""
    newest_first = sorted(pods, key=lambda p: (p["metadata"]["creationTimestamp"],
                                               p["metadata"]["name"]), reverse=True)
    return sorted(newest_first, key=lambda p: (bool(p["spec"].get("nodeName")),
                                               (p.get("status") or {}).get("phase") == "Running",
                                               is_ready(p)))


def _condition(previous: Sequence[Mapping[str, Any]], kind: str, status: bool, reason: str,
               message: str, moment: str) -> dict[str, Any]:
    value = "True" if status else "False"
    before = next((c for c in previous if c.get("type") == kind), None) or {}
    unchanged = (before.get("status"), before.get("reason"), before.get("message")) == (
        value, reason, message)
    return {"type": kind, "status": value, "reason": reason, "message": message,
            "lastUpdateTime": before["lastUpdateTime"] if unchanged else moment,
            "lastTransitionTime": before["lastTransitionTime"]
            if before.get("status") == value else moment}


class Deployments(Controller):
    watches = ("deployments", "pods")
    name = "deployments"

    def __init__(self, store: Store, faults: Faults | None = None) -> None:
        super().__init__(store, faults=faults)

    def reconcile(self) -> None:
        deployments, _ = self.store.snapshot(resolve(DEPLOYMENTS), None)
        pods, _ = self.store.snapshot(resolve(PODS), None)
        owned: dict[str, list[Object]] = {}
        for pod in pods:
            for reference in pod["metadata"].get("ownerReferences") or []:
                if reference.get("kind") == "Deployment" and reference.get("controller"):
                    owned.setdefault(reference["uid"], []).append(pod)
        for deployment in deployments:
            if not deployment["metadata"].get("deletionTimestamp"):
                self._sync(deployment, owned.get(deployment["metadata"]["uid"], []))

    def _sync(self, deployment: Object, pods: list[Object]) -> None:
        spec = deployment["spec"]
        replicas = int(spec.get("replicas", 1))
        revision = template_hash(spec["template"])
        active = [p for p in pods if not p["metadata"].get("deletionTimestamp")
                  and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        current: list[Object] = []
        old: list[Object] = []
        for pod in active:
            labels = pod["metadata"].get("labels") or {}
            (current if labels.get(TEMPLATE_HASH_LABEL) == revision else old).append(pod)
        for _ in range(replicas - len(current)):
            self._create_pod(deployment, revision)
        self._delete(deletion_order(current)[:max(len(current) - replicas, 0)])
        # Old pods go only as pods of the new template are ready to take over.
        ready_current = min(sum(map(is_ready, current)), replicas)
        self._delete(deletion_order(old)[:max(len(old) + ready_current - replicas, 0)])
        self._write_status(deployment, replicas, revision, active, current)

    def _create_pod(self, deployment: Object, revision: str) -> None:
        metadata = deployment["metadata"]
        template = deployment["spec"]["template"]
        template_metadata = template.get("metadata") or {}
        pod_metadata: dict[str, Any] = {
            "generateName": f"{metadata['name']}-{revision}-",
            "namespace": metadata["namespace"],
            "labels": {**(template_metadata.get("labels") or {}), TEMPLATE_HASH_LABEL: revision},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                 "name": metadata["name"], "uid": metadata["uid"],
                                 "controller": True, "blockOwnerDeletion": True}],
        }
        if template_metadata.get("annotations"):
            pod_metadata["annotations"] = dict(template_metadata["annotations"])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_metadata,
               "spec": copy.deepcopy(template.get("spec") or {})}
        try:
            self.store.create(PODS, pod, metadata["namespace"])
        except ApiError as error:
            if error.code != 409:  # a generated name taken: the next pass tries another
                raise

    def _delete(self, pods: Sequence[Object]) -> None:
        for pod in pods:
            metadata = pod["metadata"]
            try:
                self.store.delete(PODS, metadata["name"], metadata["namespace"],
                                  uid=metadata["uid"])
            except ApiError as error:
                if error.code not in (404, 409):
                    raise

    def _write_status(self, deployment: Object, replicas: int, revision: str,
                      active: Sequence[Object], current: Sequence[Object]) -> None:
        metadata, spec = deployment["metadata"], deployment["spec"]
        available = sum(map(is_ready, active))
        updated_available = sum(map(is_ready, current))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, False)
        replica_set = f'ReplicaSet "{metadata["name"]}-{revision}"'
        complete = len(active) == len(current) == updated_available == replicas
        previous = (deployment.get("status") or {}).get("conditions") or []
        moment = now()
        minimum = available >= replicas - max_unavailable
        conditions = [
            _condition(previous, "Available", minimum,
                       "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
                       "Deployment has minimum availability." if minimum
                       else "Deployment does not have minimum availability.", moment),
            _condition(previous, "Progressing", True,
                       "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
                       f"{replica_set} has successfully progressed." if complete
                       else f"{replica_set} is progressing.", moment),
        ]
        # Zero counts are omitted, as the API serialises them; None removes a stale one.
        counts = {"replicas": len(active), "updatedReplicas": len(current),
                  "readyReplicas": available, "availableReplicas": available,
                  "unavailableReplicas": max(replicas - available, 0)}
        status: dict[str, Any] = {"observedGeneration": metadata.get("generation"),
                                  **{key: value or None for key, value in counts.items()},
                                  "conditions": conditions}
        current_status = deployment.get("status") or {}
        if all(current_status.get(key) == value for key, value in status.items()):
            return
        try:
            self.store.patch(DEPLOYMENTS, metadata["name"], {"status": status},
                             metadata["namespace"], status=True)
        except ApiError as error:
            if error.code != 404:
                raise
