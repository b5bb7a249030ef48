"""lab/vagrant as far as it can be proven without a hypervisor: the Vagrantfile parses and,
evaluated by ruby under a recorder of Vagrant's configuration API, builds exactly the hosts of
lab/vagrant/inventory.yaml; the shell scripts pass shellcheck; FRR accepts frr.conf and it holds
the embedded lab's router configuration; Cilium's Helm values and the BGP objects are the ones
the embedded lab emulates."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ciliumbgp.emulator import boot
from pytest_ciliumbgp.emulator.kubeapi.cilium_release import cilium_release
from pytest_ciliumbgp.emulator.router import bgpd_config
from pytest_ciliumbgp.inventory import Host, Inventory, load_inventory
from tests.labs_vagrant.conftest import INVENTORY, ROOT

LAB = ROOT / "lab" / "vagrant"
STUB = ROOT / "tests" / "data" / "vagrant" / "vagrant_stub.rb"
SCRIPTS = sorted(LAB.glob("*.sh"))


def need(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"needs {program} (Debian/Ubuntu package {package})")
    return path


# --- the Vagrantfile --------------------------------------------------------------------------


def test_vagrantfile_is_valid_ruby() -> None:
    ruby = need("ruby", "ruby")
    done = subprocess.run([ruby, "-c", "Vagrantfile"], cwd=LAB, capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "Syntax OK"), done.stderr


def test_ruby_check_catches_a_broken_vagrantfile(tmp_path: Path) -> None:
    ruby = need("ruby", "ruby")
    broken = tmp_path / "Vagrantfile"
    broken.write_text((LAB / "Vagrantfile").read_text().replace("end\n", "", 1))
    done = subprocess.run([ruby, "-c", str(broken)], capture_output=True, text=True, check=False)
    assert done.returncode != 0


@cache
def _evaluated() -> dict[str, Any]:
    done = subprocess.run(["ruby", "-r", str(STUB), "Vagrantfile"], cwd=LAB, capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


@pytest.fixture
def vagrantfile() -> dict[str, Any]:
    """What the Vagrantfile configures, recorded."""
    need("ruby", "ruby")
    return _evaluated()


def machines(vagrantfile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Machine name → its ``vm`` settings, in definition order."""
    return {define["args"][0]: define["block"]["vm"]
            for define in vagrantfile["config"]["vm"]["define"]}


def provisioners(vm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Provisioner name → its options, in the order they run."""
    return {call["args"][0]: call["options"] for call in vm.get("provision", [])}


def private_networks(vm: dict[str, Any]) -> list[dict[str, Any]]:
    return [n["options"] for n in vm["network"] if n["args"] == ["private_network"]]


@pytest.fixture
def inventory() -> Inventory:
    return load_inventory(INVENTORY)


def test_machines_are_the_inventory_hosts_in_bring_up_order(
        vagrantfile: dict[str, Any], inventory: Inventory) -> None:
    # Router first (the nodes route through it), then the nodes in PodCIDR order, then clients.
    assert list(machines(vagrantfile)) == [str(h.reach.settings["machine"])
                                           for h in inventory.hosts]
    assert [n.name for n in inventory.nodes] == [
        n.name for n in sorted(inventory.nodes, key=lambda n: str(n.pod_cidr))]
    for host in inventory.hosts:
        assert machines(vagrantfile)[str(host.reach.settings["machine"])]["hostname"] == host.name


def test_each_machine_has_its_inventory_addresses_on_the_inventory_networks(
        vagrantfile: dict[str, Any], inventory: Inventory) -> None:
    lan_of: dict[str, str] = {}  # inventory network -> the provider network carrying it
    for host in inventory.hosts:
        nics = private_networks(machines(vagrantfile)[host.name])
        assert [(n["ip"], n["netmask"]) for n in nics] == [
            (str(i.ip), str(i.address.netmask)) for i in host.interfaces], host.name
        for interface, nic in zip(host.interfaces, nics, strict=True):
            assert nic["virtualbox__intnet"] == nic["libvirt__network_name"]
            assert lan_of.setdefault(interface.network, nic["virtualbox__intnet"]) == (
                nic["virtualbox__intnet"]), f"{host.name} {interface.name}: another network"
    assert len(set(lan_of.values())) == len(inventory.networks), "one provider network each"


def test_router_names_its_client_side_nic_itself(vagrantfile: dict[str, Any],
                                                 inventory: Inventory) -> None:
    router = machines(vagrantfile)[inventory.router.name]
    assert [n["auto_config"] for n in private_networks(router)] == [True, True, False]
    assert inventory.router.interfaces[2].name == "loop1"
    assert provisioners(router)["router"]["args"] == [str(inventory.router.interfaces[2].address)]


def test_interface_checks_name_the_inventory_interfaces(vagrantfile: dict[str, Any],
                                                        inventory: Inventory) -> None:
    for host in inventory.hosts:
        check = provisioners(machines(vagrantfile)[host.name])["interfaces"]
        assert check["path"] == "interfaces.sh"
        assert check["args"] == [f"{i.name}={i.address}" for i in host.interfaces]


def _routed(host: Host, inventory: Inventory) -> set[str]:
    """Networks a host must reach through the router: the lab's other networks, the pods
    (Cilium's native routing CIDR), and for clients the LB pool."""
    own = {i.network for i in host.interfaces}
    wanted = {str(cidr) for name, cidr in inventory.networks.items() if name not in own}
    wanted.add(helm_values()["ipv4NativeRoutingCIDR"])
    if host in inventory.clients:
        wanted.add(str(inventory.lb_pool))
    return wanted


def test_nodes_and_clients_route_the_other_networks_through_their_gateway(
        vagrantfile: dict[str, Any], inventory: Inventory) -> None:
    for host in (*inventory.nodes, *inventory.clients):
        routes = provisioners(machines(vagrantfile)[host.name])["routes"]
        address, gateway, *destinations = routes["args"]
        assert (address, gateway) == (str(host.address), str(host.gateway)), host.name
        assert set(destinations) == _routed(host, inventory), host.name
    assert "routes" not in provisioners(machines(vagrantfile)[inventory.router.name])


def test_nodes_run_kubernetes_and_check_their_pod_cidr(vagrantfile: dict[str, Any],
                                                       inventory: Inventory) -> None:
    control = [n for n in inventory.nodes if n.control_plane]
    assert len(control) == 1
    for node in inventory.nodes:
        steps = provisioners(machines(vagrantfile)[node.name])
        assert steps["kubernetes"]["env"]["NODE_IP"] == str(node.address)
        assert steps["pod-cidr"]["args"] == [str(node.pod_cidr)]
        role = "control-plane" if node.control_plane else "worker"
        assert list(steps)[-2:] == [role, "pod-cidr"], node.name
        if not node.control_plane:
            assert steps["worker"]["env"]["CONTROL_PLANE_ENDPOINT"] == f"{control[0].address}:6443"
    versions = provisioners(machines(vagrantfile)[control[0].name])["control-plane"]["env"]
    assert versions["NODE_IP"] == str(control[0].address)
    assert set(versions) >= {"KUBERNETES_VERSION", "CILIUM_VERSION", "HELM_VERSION",
                             "KUBEADM_TOKEN"}


def test_api_server_port_is_forwarded_to_this_host_only(vagrantfile: dict[str, Any],
                                                        inventory: Inventory) -> None:
    for host in inventory.hosts:
        forwards = [n["options"] for n in machines(vagrantfile)[host.name]["network"]
                    if n["args"] == ["forwarded_port"]]
        if host.name == "k8s-ctr":
            assert forwards == [{"id": "kube-apiserver", "guest": 6443, "host": 6443,
                                 "host_ip": "127.0.0.1", "auto_correct": True}]
        else:
            assert forwards == [], host.name


def test_versions_and_box_are_pinned(vagrantfile: dict[str, Any]) -> None:
    vm = vagrantfile["config"]["vm"]
    assert vm["box"] == "bento/ubuntu-24.04"
    assert vm["box_version"].count(".") == 2
    assert vm["box_check_update"] is False
    env = provisioners(machines(vagrantfile)["k8s-ctr"])["control-plane"]["env"]
    for name in ("KUBERNETES_VERSION", "CILIUM_VERSION", "HELM_VERSION"):
        assert [part.isdigit() for part in env[name].split(".")] == [True] * 3, name


def test_every_file_the_vagrantfile_names_exists(vagrantfile: dict[str, Any]) -> None:
    named: set[str] = set()
    for vm in machines(vagrantfile).values():
        for options in provisioners(vm).values():
            named.add(options.get("path") or options["source"])
    assert sorted(named) == sorted(p.name for p in LAB.iterdir()
                                   if p.suffix in (".sh", ".yaml", ".conf")
                                   and p.name != "inventory.yaml")
    for script in SCRIPTS:
        assert script.stat().st_mode & 0o111, f"{script.name} is not executable"


# --- the shell scripts ------------------------------------------------------------------------


def test_scripts_pass_shellcheck() -> None:
    shellcheck = need("shellcheck", "shellcheck")
    assert SCRIPTS
    done = subprocess.run([shellcheck, *map(str, SCRIPTS)], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout) == (0, ""), done.stdout


def test_shellcheck_catches_a_quoting_bug(tmp_path: Path) -> None:
    shellcheck = need("shellcheck", "shellcheck")
    script = tmp_path / "broken.sh"
    script.write_text((LAB / "routes.sh").read_text().replace('"$device"', "$device"))
    done = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "SC2086" in done.stdout


def test_scripts_say_their_steps_as_the_driver_reads_them() -> None:
    for script in SCRIPTS:
        text = script.read_text()
        assert text.startswith("#!/usr/bin/env bash\n"), script.name
        assert "set -euo pipefail" in text, script.name
        if script.name != "interfaces.sh":  # a check, not a step
            assert "cbgp-step: " in text, script.name


def test_interface_check_runs_against_this_hosts_interfaces() -> None:
    need("ip", "iproute2")
    script = str(LAB / "interfaces.sh")
    held = subprocess.run([script, "lo=127.0.0.1/8"], capture_output=True, text=True,
                          check=False)
    assert (held.returncode, held.stderr) == (0, "")
    missing = subprocess.run([script, "lo=127.0.0.1/8", "lo=192.0.2.77/24"], capture_output=True,
                             text=True, check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("interfaces.sh: lo should hold 192.0.2.77/24; this host "
                                     "has: lo 127.0.0.1/8; ")


# --- FRR --------------------------------------------------------------------------------------


def router_bgp_block(config: str) -> list[str]:
    """The lines of the ``router bgp`` block, comments and blank lines left out."""
    lines = [line.rstrip() for line in config.splitlines()
             if line.strip() and not line.lstrip().startswith("!")]
    start = next(i for i, line in enumerate(lines) if line.startswith("router bgp "))
    end = lines.index("exit", start)
    return lines[start:end + 1]


def test_frr_accepts_frr_conf() -> None:
    vtysh = need("vtysh", "frr")
    done = subprocess.run([vtysh, "--dryrun", "-f", str(LAB / "frr.conf")], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_frr_dryrun_catches_a_bad_command(tmp_path: Path) -> None:
    vtysh = need("vtysh", "frr")
    broken = tmp_path / "frr.conf"
    broken.write_text((LAB / "frr.conf").read_text().replace("maximum-paths 3",
                                                             "maximum-paths three"))
    done = subprocess.run([vtysh, "--dryrun", "-f", str(broken)], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode != 0


def test_frr_conf_is_the_embedded_routers_configuration(inventory: Inventory) -> None:
    assert router_bgp_block((LAB / "frr.conf").read_text()) == router_bgp_block(
        bgpd_config(inventory))


def test_frr_conf_peers_with_every_node_and_spreads_over_all(inventory: Inventory) -> None:
    block = router_bgp_block((LAB / "frr.conf").read_text())
    assert block[0] == f"router bgp {inventory.router.asn}"
    remote_as = {line.split()[1]: int(line.split()[3]) for line in block
                 if line.startswith(" neighbor ") and " remote-as " in line}
    assert remote_as == {str(node.address): node.asn for node in inventory.nodes}
    assert " no bgp ebgp-requires-policy" in block
    assert " bgp bestpath as-path multipath-relax" in block
    paths = [int(line.split()[1]) for line in block if line.startswith("  maximum-paths ")]
    assert len(paths) == 1
    assert paths[0] >= len(inventory.nodes)


# --- Cilium -----------------------------------------------------------------------------------


def helm_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((LAB / "cilium-values.yaml").read_text())
    return values


def test_helm_values_are_the_options_the_embedded_lab_emulates() -> None:
    values = helm_values()
    options = boot.DEFAULT_OPTIONS

    def flag(value: bool) -> str:
        return "true" if value else "false"

    assert flag(values["bgpControlPlane"]["enabled"]) == options["enable-bgp-control-plane"]
    assert flag(values["kubeProxyReplacement"]) == options["kube-proxy-replacement"]
    assert values["routingMode"] == options["routing-mode"]
    assert values["ipv4NativeRoutingCIDR"] == options["ipv4-native-routing-cidr"]
    assert flag(values["autoDirectNodeRoutes"]) == options["auto-direct-node-routes"]
    assert flag(values["bpf"]["masquerade"]) == options["enable-bpf-masquerade"]
    assert values["ipam"]["mode"] == options["ipam"]
    assert flag(values["ipv6"]["enabled"]) == options["enable-ipv6"]


def test_helm_values_fit_the_inventory(inventory: Inventory) -> None:
    values = helm_values()
    control = next(n for n in inventory.nodes if n.control_plane)
    assert values["k8sServiceHost"] == str(control.address)
    operator = values["ipam"]["operator"]
    pools = [ipaddress.IPv4Network(c) for c in operator["clusterPoolIPv4PodCIDRList"]]
    native = ipaddress.IPv4Network(values["ipv4NativeRoutingCIDR"])
    for node in inventory.nodes:
        assert node.pod_cidr is not None
        assert any(node.pod_cidr.subnet_of(pool) for pool in pools), node.name
        assert node.pod_cidr.subnet_of(native), node.name
        assert node.pod_cidr.prefixlen == operator["clusterPoolIPv4MaskSize"]
    assert not inventory.lb_pool.overlaps(native), "LB IPs must not look like pod addresses"


def test_bgp_objects_are_the_embedded_labs_boot_objects(vagrantfile: dict[str, Any],
                                                        inventory: Inventory) -> None:
    version = provisioners(machines(vagrantfile)["k8s-ctr"])["control-plane"]["env"][
        "CILIUM_VERSION"]
    expected = [made for _, made in boot.bgp_objects(inventory, cilium_release(version))]
    applied = list(yaml.safe_load_all((LAB / "bgp-objects.yaml").read_text()))
    assert applied == expected


# --- the inventory ----------------------------------------------------------------------------


def test_inventory_reaches_every_host_by_its_own_machine(inventory: Inventory) -> None:
    for host in inventory.hosts:
        assert host.reach.via == "vagrant"
        assert host.reach.settings == {"machine": host.name}
