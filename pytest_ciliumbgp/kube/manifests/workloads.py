"""Services and their backends: LoadBalancer Services with Cilium's LB-IPAM annotations, whoami
Pods pinned to a node, and Deployments of them.

Backends run ``traefik/whoami`` (in the embedded lab any image answers like it): port 80,
``GET /health`` for readiness, so a test can make a backend unready with ``POST /health 500``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.kube.manifests.meta import Manifest, metadata

IPS_ANNOTATION = "lbipam.cilium.io/ips"
SHARING_KEY_ANNOTATION = "lbipam.cilium.io/sharing-key"
SHARING_CROSS_NAMESPACE_ANNOTATION = "lbipam.cilium.io/sharing-cross-namespace"
BGP_CONTROL_PLANE_CLASS = "io.cilium/bgp-control-plane"
WHOAMI_IMAGE = "traefik/whoami:v1.10.3"
WHOAMI_PORT = 80
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
TRAFFIC_POLICIES = ("Cluster", "Local")


@dataclass(frozen=True)
class ServicePort:
    """A Service port; ``target_port`` defaults to the backends' whoami port."""

    port: int
    target_port: int | str = WHOAMI_PORT
    protocol: str = "TCP"
    name: str | None = None


def service(
    name: str,
    selector: Mapping[str, str],
    *,
    namespace: str = "default",
    ports: Sequence[ServicePort | int] = (80,),
    service_type: str = "LoadBalancer",
    external_traffic_policy: str | None = "Cluster",
    load_balancer_class: str | None = None,
    requested_ips: Sequence[str] = (),
    sharing_key: str | None = None,
    sharing_cross_namespace: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """A Service selecting the backends labelled ``selector``. ``requested_ips`` becomes the
    ``lbipam.cilium.io/ips`` annotation, ``sharing_key`` ``lbipam.cilium.io/sharing-key``
    (with ``sharing_cross_namespace``: the namespaces allowed to share, ``*`` for all).
    ``externalTrafficPolicy`` is written only for LoadBalancer and NodePort Services."""
    if service_type not in SERVICE_TYPES:
        raise ValueError(
            f"Service {namespace}/{name}: type {service_type!r} not in {SERVICE_TYPES}"
        )
    all_annotations = dict(annotations or {})
    if requested_ips:
        all_annotations[IPS_ANNOTATION] = ",".join(requested_ips)
    if sharing_key is not None:
        all_annotations[SHARING_KEY_ANNOTATION] = sharing_key
    if sharing_cross_namespace:
        all_annotations[SHARING_CROSS_NAMESPACE_ANNOTATION] = ",".join(sharing_cross_namespace)
    spec: dict[str, Any] = {
        "type": service_type,
        "selector": dict(selector),
        "ports": [
            _service_port(p if isinstance(p, ServicePort) else ServicePort(p)) for p in ports
        ],
    }
    if service_type != "ClusterIP" and external_traffic_policy is not None:
        if external_traffic_policy not in TRAFFIC_POLICIES:
            raise ValueError(
                f"Service {namespace}/{name}: externalTrafficPolicy "
                f"{external_traffic_policy!r} not in {TRAFFIC_POLICIES}"
            )
        spec["externalTrafficPolicy"] = external_traffic_policy
    if load_balancer_class is not None:
        spec["loadBalancerClass"] = load_balancer_class
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace=namespace, labels=labels, annotations=all_annotations),
        "spec": spec,
    }


def backend_pod(
    name: str,
    node_name: str,
    app_labels: Mapping[str, str],
    *,
    namespace: str = "default",
    image: str = WHOAMI_IMAGE,
    port: int = WHOAMI_PORT,
    termination_grace_period_seconds: int | None = None,
    pre_stop_sleep_seconds: int | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """A whoami Pod bound to ``node_name`` (``spec.nodeName``: no scheduler involved), labelled
    ``app_labels`` (what the Service selects) plus ``labels``. ``pre_stop_sleep_seconds`` keeps
    it Terminating that long after deletion (the kubelet's preStop ``sleep`` action, which needs
    no shell in the image); the grace period must cover it."""
    spec = _whoami_pod_spec(image, port, termination_grace_period_seconds, pre_stop_sleep_seconds)
    spec = {"nodeName": node_name, **spec}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata(
            name,
            namespace=namespace,
            labels={**app_labels, **(labels or {})},
            annotations=annotations,
        ),
        "spec": spec,
    }


def backend_deployment(
    name: str,
    app_labels: Mapping[str, str],
    *,
    replicas: int,
    namespace: str = "default",
    image: str = WHOAMI_IMAGE,
    port: int = WHOAMI_PORT,
    one_per_node: bool = False,
    node_selector: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> Manifest:
    """A Deployment of whoami Pods labelled ``app_labels`` (its selector) plus ``labels`` (also
    on the Pods, so they carry the ownership labels). ``one_per_node`` adds a required
    podAntiAffinity on ``kubernetes.io/hostname``."""
    if replicas < 0:
        raise ValueError(f"Deployment {namespace}/{name}: replicas {replicas} < 0")
    pod_spec = _whoami_pod_spec(image, port, None, None)
    if node_selector:
        pod_spec["nodeSelector"] = dict(node_selector)
    if one_per_node:
        pod_spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": dict(app_labels)},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        }
    pod_labels = {**app_labels, **(labels or {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, namespace=namespace, labels=pod_labels, annotations=annotations),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(app_labels)},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        },
    }


def _service_port(port: ServicePort) -> dict[str, Any]:
    built: dict[str, Any] = {
        "port": port.port,
        "targetPort": port.target_port,
        "protocol": port.protocol,
    }
    if port.name is not None:
        built = {"name": port.name, **built}
    return built


def _whoami_pod_spec(
    image: str,
    port: int,
    termination_grace_period_seconds: int | None,
    pre_stop_sleep_seconds: int | None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "whoami",
        "image": image,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": "/health", "port": port},
            "periodSeconds": 1,
            "failureThreshold": 1,
            "successThreshold": 1,
        },
    }
    if port != WHOAMI_PORT:
        container["args"] = ["--port", str(port)]
    if pre_stop_sleep_seconds is not None:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": pre_stop_sleep_seconds}}}
        if termination_grace_period_seconds is None:
            termination_grace_period_seconds = pre_stop_sleep_seconds + 5
        elif termination_grace_period_seconds < pre_stop_sleep_seconds:
            raise ValueError(
                f"terminationGracePeriodSeconds {termination_grace_period_seconds} "
                f"is shorter than the preStop sleep {pre_stop_sleep_seconds}"
            )
    spec: dict[str, Any] = {"containers": [container]}
    if termination_grace_period_seconds is not None:
        spec["terminationGracePeriodSeconds"] = termination_grace_period_seconds
    return spec
