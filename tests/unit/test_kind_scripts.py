"""lab/kind/up.sh and down.sh run for real against fake docker, kind, helm and kubectl: the
commands they issue build the inventory's topology, a second run changes nothing, and a
problem ends them with one line. Nothing here needs docker or a cluster."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ciliumbgp.inventory import Inventory, load_inventory
from tests.kube.crd_schemas import problems
from tests.unit.fake_kind_tools import FRR_DATA, Call, FakeTools, data

KIND = Path(__file__).resolve().parents[2] / "lab" / "kind"
CONTEXT = ("--context", "kind-cbgp")
CILIUM_VERSION = "1.18.7"
#: one line of ``ip -4 -o addr show dev eth0``, recorded in a network namespace
ADDRESS_LINE = data("client_ip_4_o_addr_show_eth0.txt")


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(KIND / "inventory.yaml")


@pytest.fixture
def fakes(tmp_path: Path) -> FakeTools:
    tools = FakeTools(tmp_path / "fakes")
    tools.install("docker", "kind", "helm", "kubectl")
    return tools


def run(script: str, fakes: FakeTools, **env: str) -> subprocess.CompletedProcess[str]:
    path = fakes.path_with(*os.environ["PATH"].split(os.pathsep))
    return subprocess.run([str(KIND / script)], capture_output=True, text=True, check=False,
                          timeout=300, env={"PATH": path, "HOME": str(fakes.bin.parent), **env})


def address_line(interface: str, address: str) -> str:
    return ADDRESS_LINE.replace("eth0", interface).replace("10.10.1.100/24", address)


def container_of(host: Any) -> str:
    return str(host.reach.settings["container"])


def answer_lab(fakes: FakeTools, inventory: Inventory, *, made: bool,
               served: str = "v2alpha1 v2") -> None:
    """The fakes of a docker host without the lab (``made=False``) or with all of it."""
    fakes.on("docker", "info", stdout="28.2.2\n")
    for name, network in inventory.networks.items():
        if made:
            fakes.on("docker", "network", "inspect", "--format", "*", f"cbgp-{name}",
                     stdout=f"{network} \n")
        else:
            fakes.on("docker", "network", "inspect", "--format", "*", f"cbgp-{name}", rc=1,
                     stderr=f"Error response from daemon: network cbgp-{name} not found\n")
    fakes.on("docker", "network", "create", stdout="4f9d2c0d1e6b\n")
    fakes.on("docker", "build", stdout="sha256:51d0c1e1\n")
    if made:
        fakes.on("kind", "get", "clusters", stdout=data("kind_get_clusters_cbgp.stdout"))
    else:
        fakes.on("kind", "get", "clusters", stderr=data("kind_get_clusters_none.stderr"))
    fakes.on("kind", "create", "cluster")
    kubelet = data("kind_node_etc_default_kubelet.txt")
    for node in inventory.nodes:
        name, interface = node.name, node.interfaces[0]
        if not made:
            fakes.on("docker", "exec", name, "ip", "-4", "-o", "addr", "show", "dev", "eth1",
                     rc=1, stderr=data("ip_4_o_addr_show_missing_device.stderr"), uses=1)
        fakes.on("docker", "exec", name, "ip", "-4", "-o", "addr", "show", "dev", "eth1",
                 stdout=address_line("eth1", str(interface.address)))
        pinned = kubelet.rstrip("\n") + f" --node-ip={node.address}\n"
        fakes.on("docker", "exec", name, "cat", "/etc/default/kubelet",
                 stdout=pinned if made else kubelet)
        fakes.on("kubectl", *CONTEXT, "get", "node", name, "-o",
                 "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
                 stdout=str(node.address))
    for host in (inventory.router, *inventory.clients):
        for interface in host.interfaces:
            fakes.on("docker", "exec", container_of(host), "ip", "-4", "-o", "addr", "show",
                     "dev", interface.name,
                     stdout=address_line(interface.name, str(interface.address)))
        fakes.on("docker", "container", "inspect", container_of(host), rc=0 if made else 1,
                 stdout="[]\n", stderr="" if made else
                 f"Error response from daemon: No such container: {container_of(host)}\n")
    fakes.on("docker", "exec", "cbgp-router", "vtysh", "-c", "show bgp summary json",
             stdout=(FRR_DATA / "bgp_summary_established.json").read_text())
    fakes.on("docker", "exec", "-i", stdin=True)
    fakes.on("docker", "exec")
    fakes.on("docker", "network", "connect")
    fakes.on("docker", "run", stdout="9c1f3e5b7a2d\n")
    fakes.on("helm")
    fakes.on("kubectl", *CONTEXT, "get", "nodes", "--selector",
             stdout="cbgp-control-plane")
    fakes.on("kubectl", *CONTEXT, "get", "node", "cbgp-control-plane", "-o",
             "jsonpath={.spec.taints[*].key}", stdout="node-role.kubernetes.io/control-plane")
    fakes.on("kubectl", *CONTEXT, "get", "crd", "ciliumbgpclusterconfigs.cilium.io", "-o",
             stdout=served)
    fakes.on("kubectl", *CONTEXT, "get", "crd")
    fakes.on("kubectl", *CONTEXT, "apply", "-f", "-", stdin=True)
    fakes.on("kubectl", *CONTEXT, "apply")
    fakes.on("kubectl", *CONTEXT, "wait")
    fakes.on("kubectl", *CONTEXT, "taint")


def docker_args(calls: list[Call], *start: str) -> list[tuple[str, ...]]:
    return [call.args for call in calls if call.starts("docker", *start)]


@pytest.fixture(scope="module")
def first_up(
    inventory: Inventory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], FakeTools]:
    """One up.sh on a docker host without the lab (the tests below read what it did)."""
    tools = FakeTools(tmp_path_factory.mktemp("first-up"))
    tools.install("docker", "kind", "helm", "kubectl")
    answer_lab(tools, inventory, made=False)
    done = run("up.sh", tools, CILIUM_VERSION=CILIUM_VERSION)
    assert done.returncode == 0, done.stderr
    return done, tools


def test_up_builds_the_inventorys_topology(
    first_up: tuple[subprocess.CompletedProcess[str], FakeTools], inventory: Inventory
) -> None:
    done, fakes = first_up
    calls = fakes.calls()

    created = {args[-1]: args for args in docker_args(calls, "network", "create")}
    assert set(created) == {f"cbgp-{name}" for name in inventory.networks}
    for name, network in inventory.networks.items():
        args = created[f"cbgp-{name}"]
        assert args[args.index("--subnet") + 1] == str(network)

    connected = docker_args(calls, "network", "connect")
    nodes_wired = [(a[-1], a[-2], a[a.index("--ip") + 1]) for a in connected
                   if a[-1].startswith("cbgp-") and a[-1] != "cbgp-router"]
    assert nodes_wired == [(node.name, f"cbgp-{node.interfaces[0].network}", str(node.address))
                           for node in inventory.nodes]

    (router_run,) = [a for a in docker_args(calls, "run") if "cbgp-router" in a]
    router_connects = [(a[-2], a[a.index("--ip") + 1]) for a in connected
                       if a[-1] == "cbgp-router"]
    first, *rest = inventory.router.interfaces
    assert router_run[router_run.index("--ip") + 1] == str(first.ip)
    assert router_run[router_run.index("--network") + 1] == f"cbgp-{first.network}"
    assert "--privileged" in router_run
    assert router_connects == [(f"cbgp-{i.network}", str(i.ip)) for i in rest]

    (client_run,) = [a for a in docker_args(calls, "run") if "cbgp-client" in a]
    (client,) = inventory.clients
    assert client_run[client_run.index("--ip") + 1] == str(client.address)
    assert ("exec", "cbgp-client", "ip", "route", "replace", "default", "via",
            str(client.gateway)) in docker_args(calls, "exec", "cbgp-client")

    helm = [call.args for call in fakes.calls("helm") if call.args[:1] == ("upgrade",)]
    (install,) = helm
    assert install[:4] == ("upgrade", "--install", "cilium", "cilium/cilium")
    assert install[install.index("--version") + 1] == CILIUM_VERSION
    assert install[install.index("--values") + 1] == str(KIND / "cilium-values.yaml")
    kubectl = [c.args[2:] for c in fakes.calls("kubectl")]
    assert ("apply", "-f", str(KIND / "bgp.yaml")) in kubectl
    assert [args for args in kubectl if args[:1] == ("taint",)] == [
        ("taint", "nodes", "cbgp-control-plane",
         "node-role.kubernetes.io/control-plane:NoSchedule-")]
    assert done.stdout.splitlines()[-1].endswith(
        f"kind lab up: cluster cbgp (context kind-cbgp), Cilium {CILIUM_VERSION}")


def test_up_pins_each_kubelet_to_its_lab_address(
    first_up: tuple[subprocess.CompletedProcess[str], FakeTools], inventory: Inventory
) -> None:
    calls = first_up[1].calls("docker")
    for node in inventory.nodes:
        (written,) = [c.stdin for c in calls if c.args == ("exec", "-i", node.name, "tee",
                                                           "/etc/default/kubelet")]
        assert written == ("KUBELET_EXTRA_ARGS=--runtime-cgroups=/system.slice/containerd.service"
                           f" --node-ip={node.address}\n")
        writes = [i for i, c in enumerate(calls) if c.args[:3] == ("exec", "-i", node.name)]
        restarts = [i for i, c in enumerate(calls)
                    if c.args == ("exec", node.name, "systemctl", "restart", "kubelet")]
        assert len(restarts) == 1
        assert restarts[0] > writes[0], "kubelet restarted before its node IP was written"


def test_up_routes_other_networks_through_the_router(
    first_up: tuple[subprocess.CompletedProcess[str], FakeTools], inventory: Inventory
) -> None:
    calls = first_up[1].calls("docker")
    others = {str(n) for n in inventory.networks.values()} | {"172.20.0.0/16"}
    for node in inventory.nodes:
        routes = {(c.args[5], c.args[7]) for c in calls
                  if c.args[:5] == ("exec", node.name, "ip", "route", "replace")}
        own = str(node.interfaces[0].address.network)
        assert routes == {(prefix, str(node.gateway)) for prefix in others - {own}}


@pytest.fixture(scope="module")
def second_up(
    inventory: Inventory, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], FakeTools]:
    """up.sh again on a lab that is all there, in a cluster whose Cilium (< 1.18) serves the
    BGP kinds as v2alpha1 only."""
    tools = FakeTools(tmp_path_factory.mktemp("second-up"))
    tools.install("docker", "kind", "helm", "kubectl")
    answer_lab(tools, inventory, made=True, served="v2alpha1")
    done = run("up.sh", tools)
    assert done.returncode == 0, done.stderr
    return done, tools


def test_second_up_changes_nothing(
    second_up: tuple[subprocess.CompletedProcess[str], FakeTools]
) -> None:
    done, fakes = second_up
    calls = fakes.calls()
    assert "kind cluster cbgp already exists" in done.stdout
    for changing in (("docker", "network", "create"), ("docker", "network", "connect"),
                     ("docker", "run"), ("kind", "create"), ("docker", "exec", "-i")):
        assert not [c for c in calls if c.starts(*changing)], f"{' '.join(changing)} ran again"
    assert not [c for c in calls if c.args[-2:] == ("restart", "kubelet")]


def test_up_applies_v2alpha1_where_the_cluster_serves_no_v2(
    second_up: tuple[subprocess.CompletedProcess[str], FakeTools]
) -> None:
    kubectl = second_up[1].calls("kubectl")
    assert ("apply", "-f", str(KIND / "bgp.yaml")) not in [c.args[2:] for c in kubectl]
    (applied,) = [c.stdin for c in kubectl if c.args[2:] == ("apply", "-f", "-")]
    assert applied is not None
    manifests = list(yaml.safe_load_all(applied))
    assert [m["kind"] for m in manifests] == ["CiliumBGPClusterConfig", "CiliumBGPPeerConfig",
                                              "CiliumBGPAdvertisement"]
    for manifest in manifests:
        assert manifest["apiVersion"] == "cilium.io/v2alpha1"
        assert problems(manifest, "older/v2alpha1") == []


def test_up_stops_at_once_without_a_docker_daemon(fakes: FakeTools) -> None:
    fakes.on("docker", "info", stdout=data("docker_info_unreachable.stdout"),
             stderr=data("docker_info_unreachable.stderr"), rc=1)
    done = run("up.sh", fakes)
    assert done.returncode == 1
    assert done.stderr == ("up.sh: docker daemon not reachable: Cannot connect to the Docker "
                           "daemon at unix:///var/run/docker.sock. Is the docker daemon "
                           "running?\n")
    assert [c.args[0] for c in fakes.calls()] == ["info"]


def test_up_refuses_a_network_of_the_same_name_elsewhere(fakes: FakeTools) -> None:
    fakes.on("docker", "info", stdout="28.2.2\n")
    fakes.on("docker", "network", "inspect", stdout="10.99.0.0/24 \n")
    done = run("up.sh", fakes)
    assert done.returncode == 1
    assert done.stderr == ("up.sh: docker network cbgp-lan1 exists with subnet 10.99.0.0/24 "
                           "instead of 192.168.10.0/24\n")
    assert not [c for c in fakes.calls() if c.starts("docker", "network", "create")]


def test_up_names_a_missing_tool(tmp_path: Path) -> None:
    tools = FakeTools(tmp_path / "fewer")
    tools.install("docker", "kind", "kubectl")
    done = subprocess.run([str(KIND / "up.sh")], capture_output=True, text=True, check=False,
                          env={"PATH": tools.path_with("/usr/bin", "/bin")}, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "up.sh: helm is not installed (not on PATH)\n"
    assert tools.calls() == []


def test_down_removes_only_the_labs_things(fakes: FakeTools, inventory: Inventory) -> None:
    answer_lab(fakes, inventory, made=True)
    fakes.on("kind", "delete", "cluster")
    fakes.on("docker", "rm")
    fakes.on("docker", "network", "inspect", stdout="[]\n")
    fakes.on("docker", "network", "rm")
    done = run("down.sh", fakes)
    assert done.returncode == 0, done.stderr
    calls = fakes.calls()
    assert [c.args for c in calls if c.starts("kind", "delete")] == [
        ("delete", "cluster", "--name", "cbgp")]
    assert docker_args(calls, "rm") == [("rm", "--force", "cbgp-router"),
                                        ("rm", "--force", "cbgp-client")]
    assert docker_args(calls, "network", "rm") == [
        ("network", "rm", f"cbgp-{name}") for name in inventory.networks]


def test_down_of_no_lab_removes_nothing(fakes: FakeTools, inventory: Inventory) -> None:
    answer_lab(fakes, inventory, made=False)
    fakes.on("docker", "network", "inspect", rc=1, stderr="Error response from daemon: "
             "network not found\n")
    done = run("down.sh", fakes)
    assert done.returncode == 0, done.stderr
    removing = [c for c in fakes.calls()
                if c.starts("kind", "delete") or c.starts("docker", "rm")
                or c.starts("docker", "network", "rm")]
    assert removing == []
