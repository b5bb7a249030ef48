"""The embedded lab's Kubernetes API as ``cbgp-lab up`` serves it: kubeconfig, Nodes from the
inventory, kubectl, schema validation of cilium.io kinds and bearer-token auth."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ciliumbgp.inventory import load_inventory
from pytest_ciliumbgp.kube.client import connect
from tests.lab.conftest import ROOT, LabCli

pytestmark = pytest.mark.lab

INVENTORY = load_inventory(ROOT / "lab/netns/inventory.yaml")
POOL = """\
apiVersion: cilium.io/v2
kind: CiliumLoadBalancerIPPool
metadata:
  name: lab-pool
spec:
  blocks: {blocks}
"""


def kubeconfig(cli: LabCli) -> Path:
    shown = cli.run("kubeconfig")
    assert shown.returncode == 0, shown.stderr
    return Path(shown.stdout.strip())


def kubectl(cli: LabCli, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed on this machine")
    return subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig(cli)}", *args], input=stdin,
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_kubeconfig_is_private_and_names_the_lab_server(running_lab: LabCli) -> None:
    path = kubeconfig(running_lab)
    config = yaml.safe_load(path.read_text())

    assert path.stat().st_mode & 0o077 == 0
    assert config["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
    assert config["users"][0]["user"]["token"]


def test_inventory_nodes_are_registered_as_ready_nodes(running_lab: LabCli) -> None:
    with connect(str(kubeconfig(running_lab))) as cluster:
        listed: list[Any] = cluster.core.list_node().items
        nodes = {n.metadata.name: n for n in listed}

    assert set(nodes) == {node.name for node in INVENTORY.nodes}
    for expected in INVENTORY.nodes:
        node = nodes[expected.name]
        addresses = {a.type: a.address for a in node.status.addresses}
        ready = {c.type: c.status for c in node.status.conditions}
        assert addresses["InternalIP"] == str(expected.address)
        assert node.spec.pod_cidr == str(expected.pod_cidr)
        assert ready["Ready"] == "True"
        assert node.metadata.labels["kubernetes.io/hostname"] == expected.name
        is_control_plane = "node-role.kubernetes.io/control-plane" in node.metadata.labels
        assert is_control_plane == expected.control_plane


def test_kubectl_lists_the_nodes(running_lab: LabCli) -> None:
    shown = kubectl(running_lab, "get", "nodes", "-o", "wide")

    assert shown.returncode == 0, shown.stderr
    for node in INVENTORY.nodes:
        assert any(
            line.split()[0] == node.name and str(node.address) in line
            for line in shown.stdout.splitlines()
        ), shown.stdout


def test_kubectl_applies_a_valid_pool_and_rejects_blocks_as_a_string(running_lab: LabCli) -> None:
    valid = POOL.format(blocks="[{cidr: 172.16.1.0/24}]")
    applied = kubectl(running_lab, "apply", "-f", "-", stdin=valid)
    listed = kubectl(running_lab, "get", "ippool")
    refused = kubectl(running_lab, "apply", "-f", "-", stdin=POOL.format(blocks='"172.16.1.0/24"'))
    kubectl(running_lab, "delete", "ippool", "lab-pool")

    assert applied.returncode == 0, applied.stderr
    assert "lab-pool" in listed.stdout
    assert refused.returncode != 0
    assert "spec.blocks" in refused.stderr


def test_requests_without_the_token_get_401(running_lab: LabCli) -> None:
    server = yaml.safe_load(kubeconfig(running_lab).read_text())["clusters"][0]["cluster"]["server"]
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server}/api/v1/nodes", context=insecure, timeout=10)

    assert refused.value.code == 401
