"""kubectl against the server, with the kubeconfig a user gets (skipped without kubectl)."""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

from .conftest import Api
from .kubectl import KUBECTL, kubectl, needs_kubectl

pytestmark = needs_kubectl

POOL = textwrap.dedent("""\
    apiVersion: cilium.io/v2
    kind: CiliumLoadBalancerIPPool
    metadata:
      name: pool-a
    spec:
      allowFirstLastIPs: "Yes"
      blocks:
      - cidr: 172.16.1.0/24
    """)


def test_get_nodes_wide(api: Api) -> None:
    api.store.create("nodes", {
        "metadata": {"name": "k8s-w1", "labels": {"kubernetes.io/hostname": "k8s-w1"}},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.168.10.101"}],
                   "conditions": [{"type": "Ready", "status": "True"}]}})
    lines = kubectl(api, "get", "nodes", "-o", "wide").splitlines()
    assert lines[0].split()[:2] == ["NAME", "STATUS"]
    assert lines[1].split()[:2] == ["k8s-w1", "Ready"]
    assert "192.168.10.101" in lines[1]


def test_apply_get_patch_describe_delete(api: Api, tmp_path: Path) -> None:
    manifest = tmp_path / "pool.yaml"
    manifest.write_text(POOL)
    assert "created" in kubectl(api, "apply", "-f", str(manifest))
    assert "unchanged" in kubectl(api, "apply", "-f", str(manifest))
    stored = api.store.get("ippool", "pool-a")
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]
    assert "pool-a" in kubectl(api, "get", "ippool")
    kubectl(api, "patch", "ippool", "pool-a", "--type=merge", "-p",
            '{"spec":{"disabled":true}}')
    assert api.store.get("ippool", "pool-a")["spec"]["disabled"] is True
    assert "172.16.1.0/24" in kubectl(api, "describe", "ippool", "pool-a")
    kubectl(api, "delete", "-f", str(manifest))
    assert api.store.find("ippool", "pool-a") is None


def test_apply_service_twice_uses_strategic_merge(api: Api, tmp_path: Path) -> None:
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          type: LoadBalancer
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: 8080}]
        """))
    kubectl(api, "apply", "-f", str(manifest))
    manifest.write_text(manifest.read_text().replace("8080", "9090"))
    assert "configured" in kubectl(api, "apply", "-f", str(manifest))
    port = api.store.get("services", "web", "default")["spec"]["ports"][0]
    assert (port["targetPort"], port["nodePort"] >= 30000) == (9090, True)
    assert "web" in kubectl(api, "describe", "svc", "web")


def test_get_watch_sees_changes(api: Api) -> None:
    assert KUBECTL is not None
    watcher = subprocess.Popen([KUBECTL, "--kubeconfig", str(api.kubeconfig), "get", "cm",
                                "-w", "--request-timeout=3s"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        api.store.create("configmaps", {"metadata": {"name": "seen-live"}}, "default")
        output, _ = watcher.communicate(timeout=10)
    finally:
        watcher.kill()
    assert "seen-live" in output
