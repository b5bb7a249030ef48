"""Upgrade Cilium the way the cluster was installed, and wait until its agents have rolled.

- A ``cilium`` DaemonSet that Helm manages (annotation ``meta.helm.sh/release-name``) is
  upgraded with ``helm upgrade <release> cilium/cilium --version VERSION --reuse-values -n
  <release namespace>``, against the lab's kubeconfig.
- Any other (the embedded lab's, an install by manifests) gets the image tag of the agent
  container set to the version, as ``kubectl set image`` does.

Either way the DaemonSet replaces its pods node by node; the upgrade is done when every pod
runs the new template and is Ready again (the DaemonSet's status says so).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.waits import wait_until

NAMESPACE = "kube-system"
DAEMONSET = "cilium"
CONTAINER = "cilium-agent"
CHART = "cilium/cilium"
RELEASE_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"
HELM = "helm upgrade"
IMAGE = "image set"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"

Run = Callable[..., "subprocess.CompletedProcess[str]"]


class UpgradeError(RuntimeError):
    """The upgrade could not be made or did not finish; the message says what was seen."""


@dataclass(frozen=True)
class Upgrade:
    """An upgrade that rolled out: from which agent image to which, how, in how long."""

    from_image: str
    to_image: str
    method: str
    seconds: float

    def __str__(self) -> str:
        return (f"{self.from_image} -> {self.to_image} by {self.method}, rolled out in "
                f"{self.seconds:.1f} s")


def read_daemonset(cluster: Cluster) -> dict[str, Any]:
    return cluster.call_json(f"read DaemonSet {NAMESPACE}/{DAEMONSET}",
                             cluster.apps.read_namespaced_daemon_set, DAEMONSET, NAMESPACE)


def agent_image(daemonset: Mapping[str, Any]) -> str:
    for container in daemonset["spec"]["template"]["spec"].get("containers") or []:
        if container.get("name") == CONTAINER:
            return str(container.get("image", ""))
    raise UpgradeError(f"DaemonSet {NAMESPACE}/{DAEMONSET} has no container {CONTAINER}")


def image_for(image: str, version: str) -> str:
    """``image`` with its tag (and digest) replaced by ``v<version>``."""
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last) + last.index(":")]
    return f"{repository}:v{version}"


def helm_release(daemonset: Mapping[str, Any]) -> tuple[str, str] | None:
    """(release, namespace) of the Helm release that owns the DaemonSet, if one does."""
    annotations = daemonset["metadata"].get("annotations") or {}
    release = annotations.get(RELEASE_ANNOTATION)
    if not release:
        return None
    return str(release), str(annotations.get(RELEASE_NAMESPACE_ANNOTATION) or NAMESPACE)


def helm_upgrade_argv(release: str, namespace: str, version: str,
                      kubeconfig: str | None) -> list[str]:
    argv = ["helm", "upgrade", release, CHART, "--version", version, "--reuse-values",
            "--namespace", namespace]
    return [*argv, "--kubeconfig", kubeconfig] if kubeconfig else argv


def rolled_out(daemonset: Mapping[str, Any], generation: int) -> bool:
    """The DaemonSet saw ``generation`` (or later) and every node runs a Ready pod of it."""
    status = daemonset.get("status") or {}
    desired = int(status.get("desiredNumberScheduled") or 0)
    return (int(status.get("observedGeneration") or 0) >= generation
            and int(status.get("updatedNumberScheduled") or 0) == desired
            and int(status.get("numberAvailable") or 0) == desired)


def show_rollout(daemonset: Mapping[str, Any] | None) -> str:
    status = (daemonset or {}).get("status") or {}
    return (f"{status.get('updatedNumberScheduled') or 0} of "
            f"{status.get('desiredNumberScheduled') or 0} pods updated, "
            f"{status.get('numberAvailable') or 0} available")


def set_image(cluster: Cluster, image: str) -> dict[str, Any]:
    body = {"spec": {"template": {"spec": {"containers": [{"name": CONTAINER, "image": image}]}}}}
    return cluster.call_json(f"set image of DaemonSet {NAMESPACE}/{DAEMONSET}",
                             cluster.apps.patch_namespaced_daemon_set, DAEMONSET, NAMESPACE,
                             body, _content_type=STRATEGIC_MERGE)


def run_helm(argv: Sequence[str], run: Run = subprocess.run, timeout: float = 900.0) -> None:
    try:
        done = run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise UpgradeError("helm: program not found on this machine; install Helm 3 to "
                           "upgrade a Helm-managed Cilium") from None
    except subprocess.TimeoutExpired:
        raise UpgradeError(f"{' '.join(argv)}: no end within {timeout:g} s") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise UpgradeError(f"{' '.join(argv)} exited {done.returncode}: "
                           f"{lines[-1] if lines else 'no output'}")


def upgrade(cluster: Cluster, version: str, *, kubeconfig: str | None = None,
            timeout: float = 600.0, run: Run = subprocess.run) -> Upgrade:
    """Upgrade Cilium to ``version`` and wait up to ``timeout`` seconds for the rollout."""
    try:
        before = read_daemonset(cluster)
    except KubeError as error:
        raise UpgradeError(f"no Cilium agents to upgrade: {error}") from None
    from_image = agent_image(before)
    began = time.monotonic()
    release = helm_release(before)
    try:
        if release is not None:
            run_helm(helm_upgrade_argv(*release, version, kubeconfig), run)
            method = HELM
        else:
            set_image(cluster, image_for(from_image, version))
            method = IMAGE
        after = read_daemonset(cluster)
    except KubeError as error:
        raise UpgradeError(str(error)) from None
    generation = int(after["metadata"].get("generation") or 0)

    def probe() -> tuple[bool, dict[str, Any]]:
        found = read_daemonset(cluster)
        return rolled_out(found, generation), found

    try:
        done = wait_until(f"DaemonSet {NAMESPACE}/{DAEMONSET} rolled out", probe, timeout,
                          interval=1.0, show=show_rollout)
    except KubeError as error:
        raise UpgradeError(str(error)) from None
    return Upgrade(from_image, agent_image(done), method, time.monotonic() - began)
