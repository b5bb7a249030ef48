"""The Cilium agent's options as the cluster is configured (ConfigMap ``kube-system/cilium-config``,
which Helm writes from its values): settings a platform team chose, so checks may take their
expectations from them."""

from __future__ import annotations

from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import KubeError

AGENT_CONFIG = ("kube-system", "cilium-config")
#: Whether a Service with no usable backend stays advertised (cilium#40438, option #40717).
NO_ENDPOINTS_ROUTABLE = "enable-no-service-endpoints-routable"


def agent_option(cluster: Cluster, key: str) -> str | None:
    """``key`` of the Cilium agent's ConfigMap, None when it is not set there (or there is no
    such ConfigMap)."""
    namespace, name = AGENT_CONFIG
    try:
        config = cluster.call_json(f"read ConfigMap {namespace}/{name}",
                                   cluster.core.read_namespaced_config_map, name, namespace)
    except KubeError as err:
        if err.not_found:
            return None
        raise
    value = (config.get("data") or {}).get(key)
    return None if value is None else str(value)


def no_endpoints_routable(cluster: Cluster) -> bool | None:
    """The agent's ``enable-no-service-endpoints-routable`` (Cilium's default is true); None
    when the cluster does not set it: its Cilium predates the option, and a Service without
    backends stays advertised."""
    value = agent_option(cluster, NO_ENDPOINTS_ROUTABLE)
    return None if value is None else value.strip().lower() != "false"
