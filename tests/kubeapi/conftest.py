"""Objects the API server tests create; the ``api`` fixture comes from tests/apiserver.py."""

from __future__ import annotations

from tests.apiserver import Api, k8s

__all__ = ["Api", "k8s", "pool", "service"]


def pool(name: str, cidr: str = "172.16.1.0/24", version: str = "v2") -> dict[str, object]:
    return {"apiVersion": f"cilium.io/{version}", "kind": "CiliumLoadBalancerIPPool",
            "metadata": {"name": name}, "spec": {"blocks": [{"cidr": cidr}]}}


def service(name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec}}
