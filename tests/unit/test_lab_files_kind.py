"""The kind lab's files (lab/kind/), checked without a cluster: parsed, linted, validated against
the real CRD schemas and kind's config fields, and held to agree with each other and with the
inventory, which is what the suite's expectations come from."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ciliumbgp.emulator.boot import bgp_objects
from pytest_ciliumbgp.emulator.kubeapi.cilium_release import cilium_release
from pytest_ciliumbgp.emulator.router import bgpd_config
from pytest_ciliumbgp.inventory import Inventory, load_inventory
from pytest_ciliumbgp.labs.kind import CLUSTER, DOCKER_NETWORK_PREFIX
from tests.kube.crd_schemas import problems

KIND = Path(__file__).resolve().parents[2] / "lab" / "kind"
#: kind's v1alpha4 Cluster fields (sigs.k8s.io/kind pkg/apis/config/v1alpha4/types.go, v0.31.0);
#: kind decodes its config strictly, so any other key fails ``kind create cluster``.
KIND_CLUSTER_FIELDS = {"kind", "apiVersion", "name", "nodes", "networking", "featureGates",
                       "runtimeConfig", "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902",
                       "containerdConfigPatches", "containerdConfigPatchesJSON6902"}
KIND_NETWORKING_FIELDS = {"ipFamily", "apiServerPort", "apiServerAddress", "podSubnet",
                          "serviceSubnet", "disableDefaultCNI", "kubeProxyMode", "dnsSearch"}
KIND_NODE_FIELDS = {"role", "image", "labels", "extraMounts", "extraPortMappings",
                    "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902"}


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(KIND / "inventory.yaml")


@pytest.fixture(scope="module")
def kind_config() -> Any:
    return yaml.safe_load((KIND / "kind-config.yaml").read_text())


@pytest.fixture(scope="module")
def cilium_values() -> Any:
    return yaml.safe_load((KIND / "cilium-values.yaml").read_text())


@pytest.fixture(scope="module")
def lab_sh() -> dict[str, str]:
    """lab/kind/lab.sh's variables, as bash sees them once it sources the file."""
    names = ("CLUSTER", "CONTEXT", "CILIUM_VERSION", "NETWORKS", "ROUTER_WIRING", "NODE_WIRING",
             "NODE_INTERFACE", "CLIENT_WIRING", "POD_CIDR", "ROUTED_PREFIXES", "EXPECTED_PEERS",
             "ROUTER", "CLIENT")
    script = f". {KIND / 'lab.sh'}; " + "; ".join(
        f"printf '%s\\0%s\\0' {name} \"${name}\"" for name in names)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin"})
    fields = done.stdout.split("\0")
    return dict(zip(fields[0::2], fields[1::2], strict=False))


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip()]


# kind config


def test_kind_config_has_only_fields_kind_knows(kind_config: Any) -> None:
    assert set(kind_config) <= KIND_CLUSTER_FIELDS
    assert set(kind_config["networking"]) <= KIND_NETWORKING_FIELDS
    for node in kind_config["nodes"]:
        assert set(node) <= KIND_NODE_FIELDS


def test_kind_cluster_has_no_cni_no_kube_proxy_and_three_nodes(kind_config: Any) -> None:
    assert (kind_config["kind"], kind_config["apiVersion"]) == ("Cluster",
                                                                 "kind.x-k8s.io/v1alpha4")
    assert kind_config["name"] == CLUSTER
    networking = kind_config["networking"]
    assert networking["disableDefaultCNI"] is True
    assert networking["kubeProxyMode"] == "none"
    assert networking["podSubnet"] == "172.20.0.0/16"
    assert [node["role"] for node in kind_config["nodes"]] == ["control-plane", "worker",
                                                                "worker"]


def test_node_names_are_the_ones_kind_gives(inventory: Inventory, kind_config: Any) -> None:
    workers = sum(node["role"] == "worker" for node in kind_config["nodes"])
    kind_names = [f"{CLUSTER}-control-plane", f"{CLUSTER}-worker",
                  *(f"{CLUSTER}-worker{index}" for index in range(2, workers + 1))]
    assert [node.name for node in inventory.nodes] == kind_names
    assert [node.control_plane for node in inventory.nodes] == [True, False, False]
    assert all(node.reach.settings["container"] == node.name for node in inventory.nodes)


# Cilium values


def test_cilium_values_match_the_reference_datapath(cilium_values: Any) -> None:
    assert cilium_values["kubeProxyReplacement"] is True
    assert cilium_values["routingMode"] == "native"
    assert cilium_values["autoDirectNodeRoutes"] is False
    assert cilium_values["bpf"]["masquerade"] is True
    assert cilium_values["bgpControlPlane"]["enabled"] is True
    assert cilium_values["ipam"]["mode"] == "cluster-pool"
    assert cilium_values["ipam"]["operator"]["clusterPoolIPv4MaskSize"] == 24


def test_pod_subnet_is_one_range_everywhere(
    cilium_values: Any, kind_config: Any, lab_sh: dict[str, str]
) -> None:
    pod_subnet = kind_config["networking"]["podSubnet"]
    assert cilium_values["ipv4NativeRoutingCIDR"] == pod_subnet
    assert cilium_values["ipam"]["operator"]["clusterPoolIPv4PodCIDRList"] == [pod_subnet]
    assert lab_sh["POD_CIDR"] == pod_subnet
    assert pod_subnet in lab_sh["ROUTED_PREFIXES"].split()


def test_agents_reach_the_api_server_of_kind_without_kube_proxy(
    cilium_values: Any, lab_sh: dict[str, str]
) -> None:
    assert cilium_values["k8sServiceHost"] == f"{lab_sh['CLUSTER']}-control-plane"
    assert cilium_values["k8sServicePort"] == 6443


def test_cilium_attaches_to_the_lab_interface(cilium_values: Any, lab_sh: dict[str, str]) -> None:
    assert lab_sh["NODE_INTERFACE"] in cilium_values["devices"]


# lab.sh against the inventory


def test_lab_sh_names_the_cluster_the_driver_adopts(lab_sh: dict[str, str]) -> None:
    assert lab_sh["CLUSTER"] == CLUSTER
    assert lab_sh["CONTEXT"] == f"kind-{CLUSTER}"


def test_docker_networks_are_the_inventory_networks(
    inventory: Inventory, lab_sh: dict[str, str]
) -> None:
    networks = {name: subnet for name, subnet, _ in rows(lab_sh["NETWORKS"])}
    assert networks == {f"{DOCKER_NETWORK_PREFIX}{name}": str(network)
                        for name, network in inventory.networks.items()}


def test_bridge_addresses_stay_clear_of_hosts_and_extra_client_addresses(
    inventory: Inventory, lab_sh: dict[str, str]
) -> None:
    used = {interface.ip for host in inventory.hosts for interface in host.interfaces}
    for _, subnet, bridge in rows(lab_sh["NETWORKS"]):
        network = ipaddress.IPv4Network(subnet)
        address = ipaddress.IPv4Address(bridge)
        assert address in network
        assert address not in used
        # The suite takes extra client addresses from the bottom of the client's network.
        assert address == network.broadcast_address - 1


def test_router_wiring_is_the_inventory_router(
    inventory: Inventory, lab_sh: dict[str, str]
) -> None:
    router = inventory.router
    assert router.reach.settings["container"] == lab_sh["ROUTER"]
    assert rows(lab_sh["ROUTER_WIRING"]) == [
        [i.name, f"{DOCKER_NETWORK_PREFIX}{i.network}", str(i.ip)] for i in router.interfaces]
    # docker names the interfaces of a container eth0, eth1, ... in the order they are attached
    assert [i.name for i in router.interfaces] == [f"eth{n}" for n in range(3)]


def test_node_wiring_is_the_inventory_nodes(inventory: Inventory, lab_sh: dict[str, str]) -> None:
    assert rows(lab_sh["NODE_WIRING"]) == [
        [node.name, f"{DOCKER_NETWORK_PREFIX}{node.interfaces[0].network}", str(node.address),
         str(node.gateway)] for node in inventory.nodes]
    assert {node.interfaces[0].name for node in inventory.nodes} == {lab_sh["NODE_INTERFACE"]}
    assert int(lab_sh["EXPECTED_PEERS"]) == len(inventory.nodes)


def test_client_wiring_is_the_inventory_client(
    inventory: Inventory, lab_sh: dict[str, str]
) -> None:
    (client,) = inventory.clients
    assert client.reach.settings["container"] == lab_sh["CLIENT"]
    (interface,) = client.interfaces
    assert interface.name == "eth0"
    assert lab_sh["CLIENT_WIRING"].split() == [
        f"{DOCKER_NETWORK_PREFIX}{interface.network}", str(interface.ip), str(client.gateway)]


def test_nodes_route_every_other_lab_network_through_the_router(
    inventory: Inventory, lab_sh: dict[str, str]
) -> None:
    routed = {ipaddress.IPv4Network(prefix) for prefix in lab_sh["ROUTED_PREFIXES"].split()}
    assert set(inventory.networks.values()) <= routed
    for node in inventory.nodes:
        assert node.gateway in {i.ip for i in inventory.router.interfaces}
        assert node.gateway in node.interfaces[0].address.network


def test_cilium_version_is_overridable(lab_sh: dict[str, str]) -> None:
    done = subprocess.run(["bash", "-c", f". {KIND / 'lab.sh'}; echo \"$CILIUM_VERSION\""],
                          capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "CILIUM_VERSION": "1.99.0"})
    assert done.stdout.strip() == "1.99.0"
    assert lab_sh["CILIUM_VERSION"] != "1.99.0"


# BGP objects


def bgp_manifests() -> list[Any]:
    return list(yaml.safe_load_all((KIND / "bgp.yaml").read_text()))


def test_bgp_objects_are_the_embedded_labs(inventory: Inventory) -> None:
    assert bgp_manifests() == [made for _, made in bgp_objects(inventory, cilium_release())]


@pytest.mark.parametrize("manifest", bgp_manifests(), ids=lambda m: m["kind"])
def test_bgp_objects_pass_the_real_crd_schemas(manifest: Any) -> None:
    assert problems(manifest) == []


def test_peer_config_selects_the_podcidr_advertisement() -> None:
    cluster, peer, advertisement = bgp_manifests()
    (peer_ref,) = {p["peerConfigRef"]["name"] for instance in cluster["spec"]["bgpInstances"]
                   for p in instance["peers"]}
    assert peer_ref == peer["metadata"]["name"]
    (family,) = peer["spec"]["families"]
    assert family["advertisements"]["matchLabels"].items() <= advertisement["metadata"][
        "labels"].items()
    assert advertisement["spec"]["advertisements"] == [{"advertisementType": "PodCIDR"}]


# FRR


def frr_lines() -> list[str]:
    return [line.rstrip() for line in (KIND / "frr" / "frr.conf").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("!")]


def test_frr_conf_is_the_embedded_labs_router(inventory: Inventory) -> None:
    lines = frr_lines()
    wanted = [line for line in bgpd_config(inventory).splitlines()
              if line.strip() and not line.startswith("hostname")]
    start = lines.index(wanted[0])
    assert lines[start:start + len(wanted)] == wanted


def test_frr_conf_passes_vtysh_dry_run() -> None:
    if shutil.which("vtysh") is None:
        pytest.skip("vtysh (package frr) is not installed")
    done = subprocess.run(["vtysh", "--dryrun", "-f", str(KIND / "frr" / "frr.conf")],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_vtysh_dry_run_catches_a_broken_frr_conf(tmp_path: Path) -> None:
    if shutil.which("vtysh") is None:
        pytest.skip("vtysh (package frr) is not installed")
    broken = tmp_path / "frr.conf"
    broken.write_text((KIND / "frr" / "frr.conf").read_text().replace(
        " neighbor 192.168.10.101 remote-as 65001", " neighbor 192.168.10.101 remote-as"))
    done = subprocess.run(["vtysh", "--dryrun", "-f", str(broken)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode != 0


#: Boots FRR as the router container does (frrinit.sh with the lab's files over /etc/frr), in
#: private mount, network and pid namespaces: every daemon dies with the namespace's first
#: process, and the host's FRR never sees it. Prints the BGP summary once bgpd answers.
_BOOT_FRR = """
set -eu
mount -t tmpfs tmpfs /run
for name in frr.conf daemons vtysh.conf; do mount --bind "$1/$name" "/etc/frr/$name"; done
ip link set lo up
index=0
for address in 192.168.10.200/24 192.168.20.200/24 10.10.1.200/24; do
    ip link add "eth$index" type veth peer name "peer$index"
    ip addr add "$address" dev "eth$index"
    ip link set "eth$index" up
    index=$((index + 1))
done
/usr/lib/frr/frrinit.sh start >&2
for _ in $(seq 50); do
    if vtysh -c 'show bgp summary json' 2>/dev/null | grep -q ipv4Unicast; then
        vtysh -c 'show bgp summary json'
        exit 0
    fi
    sleep 0.2
done
echo 'bgpd did not answer' >&2
exit 1
"""


@pytest.mark.lab
def test_frr_boots_with_the_lab_files_as_in_the_router_container(inventory: Inventory) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (mount and network namespaces)")
    if shutil.which("unshare") is None or not Path("/usr/lib/frr/frrinit.sh").exists():
        pytest.skip("needs unshare and FRR (package frr)")
    done = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc",
                           "bash", "-c", _BOOT_FRR, "boot-frr", str(KIND / "frr")],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["ipv4Unicast"]
    assert (summary["routerId"], summary["as"]) == (str(inventory.router.address),
                                                    inventory.router.asn)
    assert {address: peer["remoteAs"] for address, peer in summary["peers"].items()} == {
        str(node.address): node.asn for node in inventory.nodes}


def test_frr_daemons_file_starts_bgpd_only() -> None:
    text = (KIND / "frr" / "daemons").read_text()
    subprocess.run(["bash", "-n"], input=text, text=True, check=True)
    switches = dict(line.split("=", 1) for line in text.splitlines()
                    if line and not line.startswith("#") and "_" not in line.split("=")[0])
    assert {name for name, value in switches.items() if value == "yes"} == {"bgpd"}


# scripts and image


def test_lab_scripts_pass_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = sorted(str(path) for path in KIND.glob("*.sh"))
    assert len(scripts) == 3
    done = subprocess.run(["shellcheck", "--external-sources", *scripts], capture_output=True,
                          text=True, check=False, cwd=KIND.parents[1], timeout=120)
    assert done.returncode == 0, done.stdout


def test_tools_image_has_what_the_suite_runs_there() -> None:
    dockerfile = (KIND / "image" / "Dockerfile").read_text()
    installed = set(dockerfile.replace("\\\n", " ").split())
    # vtysh, ip -j, sysctl, curl, and python3 with scapy for the probe scripts
    assert {"frr", "iproute2", "procps", "curl", "python3", "python3-scapy"} <= installed
