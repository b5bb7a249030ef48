"""The Kubernetes side of the suite, usable from a script (no pytest here).

- ``client``: ``connect(kubeconfig)`` → ``Cluster``, the official client's APIs behind one
  facade whose failures are one-line ``KubeError``\\ s;
- ``versions``: which ``cilium.io`` version (v2 / v2alpha1) the cluster serves, by discovery;
- ``manifests``: builders of pools, BGP configs, advertisements, Services and backends, and the
  ownership labels;
- ``objects``: create / apply / get / patch / delete, and the cleanup of a run's objects;
- ``waits``: tenacity-based waits that give up with the last state they saw.
"""

from __future__ import annotations

from pytest_ciliumbgp.kube.client import Cluster, connect, connect_in_cluster
from pytest_ciliumbgp.kube.errors import KubeError, WaitTimeout
from pytest_ciliumbgp.kube.objects import ObjectRef
from pytest_ciliumbgp.kube.versions import CiliumApi, cilium_api

__all__ = [
    "CiliumApi",
    "Cluster",
    "KubeError",
    "ObjectRef",
    "WaitTimeout",
    "cilium_api",
    "connect",
    "connect_in_cluster",
]
