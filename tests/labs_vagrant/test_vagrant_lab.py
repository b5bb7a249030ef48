"""The Vagrant lab driver against stand-in ``vagrant`` and ``ssh`` clients: every command it
runs, in which directory, what it makes of the answers, and the one line it says when the lab
cannot be used."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from pytest_ciliumbgp.inventory import Inventory, load_inventory
from pytest_ciliumbgp.labs import LabError, default_inventory, lab_class
from pytest_ciliumbgp.labs.vagrant import CHECKOUT_PROJECT, STATE_DIR, VagrantLab
from pytest_ciliumbgp.labs.vagrant_cli import Vagrant, VagrantError
from pytest_ciliumbgp.transport import SshTransport
from tests.labs_vagrant.conftest import (
    INVENTORY,
    MACHINES,
    ROOT,
    LabUnderTest,
    StandIns,
    answer_healthy_lab,
    ok,
)

DATA = ROOT / "tests" / "data" / "vagrant"
UP = ["up", "--no-parallel", "--no-color"]


def one_line(error: pytest.ExceptionInfo[LabError]) -> str:
    message = str(error.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_registry_entry_and_shipped_inventory() -> None:
    assert lab_class("vagrant") is VagrantLab
    shipped = default_inventory("vagrant")
    assert shipped is not None
    assert shipped.read_text() == INVENTORY.read_text()
    assert CHECKOUT_PROJECT == ROOT / "lab" / "vagrant"


# --- adopting a running lab -------------------------------------------------------------------


def test_running_machines_are_adopted(vagrant_lab: LabUnderTest, stand_ins: StandIns,
                                      project: Path) -> None:
    answer_healthy_lab(stand_ins)
    assert vagrant_lab.lab.ensure_running() is False
    assert stand_ins.vagrant_args() == [
        ["status", "--machine-readable"],
        ["ssh-config", *MACHINES],
        ["port", "k8s-ctr", "--machine-readable"],
    ]
    for call in stand_ins.calls("vagrant"):
        assert (call["cwd"], call["vagrant_cwd"]) == (str(project), str(project))
    assert sorted(stand_ins.ssh_commands()) == sorted([
        *((machine, "sudo -n ip -j -4 address show") for machine in MACHINES),
        ("router", "sudo -n python3 -c 'import scapy'"),
        ("client", "sudo -n python3 -c 'import scapy'"),
        ("k8s-ctr", "sudo -n cat /etc/kubernetes/admin.conf"),
    ])
    assert not vagrant_lab.progress, "adopting says nothing"


def test_hosts_are_reached_with_vagrants_ssh_config(vagrant_lab: LabUnderTest,
                                                    stand_ins: StandIns, project: Path) -> None:
    answer_healthy_lab(stand_ins)
    vagrant_lab.lab.ensure_running()
    config = project / STATE_DIR / "ssh_config"
    assert config.read_text() == (DATA / "ssh_config.txt").read_text()
    assert mode(config) == 0o600
    transport = vagrant_lab.lab.transport("router")
    assert transport == SshTransport("router", config_file=str(config), sudo=True)
    assert transport.wrap(["vtysh", "-c", "show bgp summary json"]) == [
        "ssh", "-F", str(config), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        "router", "--", "sudo -n vtysh -c 'show bgp summary json'",
    ]
    # Every ssh call of the driver used that file.
    for call in stand_ins.calls("ssh"):
        assert call["args"][:2] == ["-F", str(config)]


def test_router_is_read_over_ssh(vagrant_lab: LabUnderTest, stand_ins: StandIns) -> None:
    summary = (ROOT / "tests/data/frr/bgp_summary_established.json").read_text()
    answer_healthy_lab(stand_ins)
    stand_ins.ssh("router", "vtysh -c 'show bgp summary json'", ok(stdout=summary))
    vagrant_lab.lab.ensure_running()
    peers = vagrant_lab.lab.router().bgp_peers()
    assert sorted(peers) == sorted(json.loads(summary)["ipv4Unicast"]["peers"])
    assert ("router", "sudo -n vtysh -c 'show bgp summary json'") in stand_ins.ssh_commands()


def test_kubeconfig_points_at_the_forwarded_api_port(vagrant_lab: LabUnderTest,
                                                     stand_ins: StandIns, project: Path) -> None:
    answer_healthy_lab(stand_ins)
    vagrant_lab.lab.ensure_running()
    path = Path(vagrant_lab.lab.kubeconfig())
    assert path == project / STATE_DIR / "kubeconfig"
    assert mode(path) == 0o600
    fetched = yaml.safe_load(path.read_text())
    expected = yaml.safe_load((DATA / "admin.conf").read_text())
    # port_k8s-ctr.txt: Vagrant auto-corrected the API server's 6443 to host port 2204.
    expected["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:2204"
    assert fetched == expected


def test_kubeconfig_keeps_the_servers_address_without_a_forwarded_port(
        vagrant_lab: LabUnderTest, stand_ins: StandIns) -> None:
    answer_healthy_lab(stand_ins)
    stand_ins.vagrant(["port"], {"rc": 1, "stdout_file": "port_k8s-ctr_unsupported.txt"})
    vagrant_lab.lab.ensure_running()
    fetched = yaml.safe_load(Path(vagrant_lab.lab.kubeconfig()).read_text())
    assert fetched["clusters"][0]["cluster"]["server"] == "https://192.168.10.100:6443"


def test_kubeconfig_is_fetched_when_asked_first(vagrant_lab: LabUnderTest,
                                                stand_ins: StandIns) -> None:
    answer_healthy_lab(stand_ins)
    vagrant_lab.lab.ensure_running()
    kubeconfig = Path(vagrant_lab.lab.kubeconfig())
    kubeconfig.unlink()
    assert Path(vagrant_lab.lab.kubeconfig()).is_file()
    assert stand_ins.vagrant_args()[-1] == ["port", "k8s-ctr", "--machine-readable"]


# --- bringing up and stopping -----------------------------------------------------------------


def test_fresh_project_is_brought_up_with_progress_and_destroyed_by_stop(
        vagrant_lab: LabUnderTest, stand_ins: StandIns, project: Path, inventory: Inventory,
) -> None:
    answer_healthy_lab(stand_ins, status="status_not_created.txt")
    stand_ins.vagrant(["up"], ok("up_not_created.txt"))
    stand_ins.vagrant(["destroy"], ok("destroy.txt"))
    assert vagrant_lab.lab.ensure_running() is True
    assert stand_ins.vagrant_args()[:2] == [["status", "--machine-readable"], [*UP, *MACHINES]]
    log = project / STATE_DIR / "vagrant-up.log"
    assert log.read_text() == (DATA / "up_not_created.txt").read_text()
    said = vagrant_lab.progress
    assert said[0] == (f"vagrant up router, k8s-ctr, k8s-w1, k8s-w0, client in {project} (a "
                       f"first boot provisions them: 15-30 min); output in {log}")
    assert "router: Booting VM..." in said
    assert "k8s-ctr: kubeadm init (Kubernetes 1.33.4, no kube-proxy)" in said
    assert "k8s-w0: waiting for Cilium on this node (PodCIDR 172.20.2.0/24 expected)" in said
    assert not any("[preflight]" in line for line in said)
    recorded = json.loads((project / STATE_DIR / "started.json").read_text())
    assert recorded == {"machines": dict.fromkeys(MACHINES, "not_created")}

    # The xdist controller stops the lab with an object of its own.
    VagrantLab(inventory, progress=said.append).stop()
    assert stand_ins.vagrant_args()[-1] == ["destroy", "--force", "--no-color", *MACHINES]
    assert said[-3] == ("destroying router, k8s-ctr, k8s-w1, k8s-w0, client (brought up by "
                        "this run)")
    assert not (project / STATE_DIR / "started.json").exists()
    calls = len(stand_ins.vagrant_args())
    vagrant_lab.lab.stop()
    assert len(stand_ins.vagrant_args()) == calls, "a second stop has nothing left to stop"


def test_only_machines_found_down_are_brought_up_and_each_returns_to_its_state(
        vagrant_lab: LabUnderTest, stand_ins: StandIns, project: Path) -> None:
    answer_healthy_lab(stand_ins, status="status_mixed.txt")
    stand_ins.vagrant(["up"], ok(stdout="==> k8s-ctr: Booting VM...\n"))
    for command in ("destroy", "suspend", "halt"):
        stand_ins.vagrant([command], ok(f"{command}.txt"))
    assert vagrant_lab.lab.ensure_running() is True
    # router was running: neither brought up nor stopped.
    assert [*UP, "k8s-ctr", "k8s-w1", "k8s-w0", "client"] in stand_ins.vagrant_args()
    vagrant_lab.lab.stop()
    assert stand_ins.vagrant_args()[-3:] == [
        ["destroy", "--force", "--no-color", "client"],
        ["suspend", "--no-color", "k8s-w1"],
        ["halt", "--no-color", "k8s-ctr", "k8s-w0"],
    ]
    assert (project / STATE_DIR / "vagrant-halt.log").read_text() == (
        (DATA / "halt.txt").read_text())


def test_stop_without_record_runs_nothing(vagrant_lab: LabUnderTest,
                                          stand_ins: StandIns) -> None:
    vagrant_lab.lab.stop()
    assert stand_ins.vagrant_args() == []


def test_failed_up_is_one_line_naming_the_step(vagrant_lab: LabUnderTest, stand_ins: StandIns,
                                               project: Path) -> None:
    answer_healthy_lab(stand_ins, status="status_not_created.txt")
    stand_ins.vagrant(["up"], {"rc": 1, "stdout_file": "up_failed.txt"})
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    log = project / STATE_DIR / "vagrant-up.log"
    assert one_line(raised) == (
        f"vagrant up --no-parallel --no-color {' '.join(MACHINES)} failed (exit 1) during "
        f"'k8s-ctr: installing Cilium 1.18.2 by Helm (BGP control plane, kube-proxy "
        f"replacement)': The SSH command responded with a non-zero exit status.; full output "
        f"in {log}; the machines are left as they are for inspection (vagrant destroy -f in "
        f"{project} removes them)")
    assert not (project / STATE_DIR / "started.json").exists()
    assert stand_ins.vagrant_args()[-1][0] == "up", "nothing runs after a failed up"


def test_hung_vagrant_is_ended(stand_ins: StandIns, project: Path, tmp_path: Path) -> None:
    stand_ins.vagrant(["up"], {"sleep": 30})
    with pytest.raises(VagrantError, match=r"^vagrant up failed \(no end within 0.5 s\): "):
        Vagrant(project).stream(["up"], tmp_path / "up.log", lambda line: None, timeout=0.5)


# --- a lab that cannot be used ----------------------------------------------------------------


def test_missing_vagrant_is_one_line(vagrant_lab: LabUnderTest, project: Path,
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    assert one_line(raised) == (
        "vagrant: program not found on this machine; install Vagrant "
        "(https://developer.hashicorp.com/vagrant/install) and a provider (VirtualBox or "
        "libvirt), or pick another --lab")


def test_project_without_vagrantfile(vagrant_lab: LabUnderTest, stand_ins: StandIns,
                                     tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAGRANT_CWD", str(tmp_path))
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    assert one_line(raised) == (f"no Vagrantfile in {tmp_path} (VAGRANT_CWD); set VAGRANT_CWD "
                                f"to the directory of lab/vagrant/Vagrantfile")
    assert stand_ins.vagrant_args() == []


@pytest.mark.parametrize(("fixture", "why"), [
    ("status_no_provider.txt", "No usable default provider could be found for your system."),
    ("status_no_vagrantfile.txt",
     "A Vagrant environment or target machine is required to run this command."),
], ids=["no-provider", "no-environment"])
def test_vagrant_error_is_one_line(vagrant_lab: LabUnderTest, stand_ins: StandIns,
                                   project: Path, fixture: str, why: str) -> None:
    stand_ins.vagrant(["status"], {"rc": 1, "stdout_file": fixture})
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    assert one_line(raised) == (
        f"vagrant status --machine-readable exited 1 in {project}: {why}")


def test_machine_the_vagrantfile_lacks(vagrant_lab: LabUnderTest, stand_ins: StandIns,
                                       project: Path) -> None:
    without_client = "".join(line + "\n" for line in
                             (DATA / "status_running.txt").read_text().splitlines()
                             if ",client," not in line)
    stand_ins.vagrant(["status"], ok(stdout=without_client))
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    assert one_line(raised) == (
        f"{project}/Vagrantfile defines no machine 'client' (it defines: router, k8s-ctr, "
        f"k8s-w1, k8s-w0), yet the inventory reaches a host by it")


def test_unreachable_host(vagrant_lab: LabUnderTest, stand_ins: StandIns) -> None:
    answer_healthy_lab(stand_ins)
    stand_ins.ssh("k8s-w1", "ip -j", {"rc": 255, "stderr": "ssh: connect to host 127.0.0.1 "
                                                           "port 2201: Connection refused\n"})
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    message = one_line(raised)
    assert message.startswith("k8s-w1 unreachable over ssh://k8s-w1: ssh -F ")
    assert message.endswith("exited 255: ssh: connect to host 127.0.0.1 port 2201: "
                            "Connection refused")


def test_interface_names_must_match_the_inventory(vagrant_lab: LabUnderTest,
                                                  stand_ins: StandIns, project: Path) -> None:
    answer_healthy_lab(stand_ins)
    stand_ins.ssh("router", "ip -j", ok("ip_address_router_enp_names.json"))
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    assert one_line(raised) == (
        f"router: the inventory puts 192.168.10.200/24 on eth1, but it is on enp0s8; provision "
        f"the machines with {project}/Vagrantfile and its pinned box, or fix the inventory")


def test_address_nowhere(vagrant_lab: LabUnderTest, stand_ins: StandIns) -> None:
    answer_healthy_lab(stand_ins)
    stand_ins.ssh("client", "ip -j", ok("ip_address_k8s-w1.json"))
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    assert one_line(raised).startswith(
        "client: the inventory puts 10.10.1.100/24 on eth1, but no interface holds it; ")


def test_probe_hosts_need_scapy(vagrant_lab: LabUnderTest, stand_ins: StandIns) -> None:
    answer_healthy_lab(stand_ins)
    stand_ins.ssh("client", "import scapy", {"rc": 1, "stderr": (
        "Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n"
        "ModuleNotFoundError: No module named 'scapy'\n")})
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    assert one_line(raised) == (
        "client: python3 cannot import scapy, which the probe scripts need (lab/vagrant "
        "provisioning installs python3-scapy): ModuleNotFoundError: No module named 'scapy'")


def test_unreadable_admin_conf(vagrant_lab: LabUnderTest, stand_ins: StandIns) -> None:
    answer_healthy_lab(stand_ins)
    stand_ins.ssh("k8s-ctr", "admin.conf", {"rc": 1, "stderr": (
        "cat: /etc/kubernetes/admin.conf: No such file or directory\n")})
    with pytest.raises(LabError) as raised:
        vagrant_lab.lab.ensure_running()
    message = one_line(raised)
    assert message.startswith("cannot read /etc/kubernetes/admin.conf on k8s-ctr: ssh -F ")
    assert message.endswith("No such file or directory")


# --- where the project is, and what the lab says before it runs anything ----------------------


def test_describe_runs_nothing(vagrant_lab: LabUnderTest, stand_ins: StandIns,
                               project: Path) -> None:
    assert vagrant_lab.lab.describe() == (
        f"Vagrant project {project}: machines router, k8s-ctr, k8s-w1, k8s-w0, client over ssh "
        f"(vagrant ssh-config), Kubernetes API from k8s-ctr:/etc/kubernetes/admin.conf")
    assert stand_ins.vagrant_args() == []
    assert stand_ins.calls("ssh") == []


def test_describe_without_a_project(vagrant_lab: LabUnderTest, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAGRANT_CWD", str(tmp_path))
    assert vagrant_lab.lab.describe() == (
        f"Vagrant lab, not usable as it is: no Vagrantfile in {tmp_path} (VAGRANT_CWD); set "
        f"VAGRANT_CWD to the directory of lab/vagrant/Vagrantfile")


def test_checkout_project_is_the_default(inventory: Inventory,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAGRANT_CWD", raising=False)
    assert VagrantLab(inventory).project() == ROOT / "lab" / "vagrant"


def test_inventory_cwd_wins_relative_to_the_inventory(tmp_path: Path, project: Path) -> None:
    own = tmp_path / "labs" / "mine"
    own.mkdir(parents=True)
    (own / "Vagrantfile").write_text("")
    text = INVENTORY.read_text().replace("reach: {via: vagrant, machine: router}",
                                         "reach: {via: vagrant, machine: router, cwd: mine}")
    path = tmp_path / "labs" / "inventory.yaml"
    path.write_text(text)
    assert VagrantLab(load_inventory(path)).project() == own


def test_one_lab_is_one_project(tmp_path: Path) -> None:
    text = (INVENTORY.read_text()
            .replace("machine: router}", "machine: router, cwd: a}")
            .replace("machine: client}", "machine: client, cwd: b}"))
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    with pytest.raises(LabError, match=r"^inventory hosts name several Vagrant projects \(a, b\)"):
        VagrantLab(load_inventory(path)).project()


def test_hosts_reached_otherwise_use_their_own_transport(tmp_path: Path, project: Path) -> None:
    text = INVENTORY.read_text().replace(
        "reach: {via: vagrant, machine: client}",
        "reach: {via: ssh, target: tester@10.10.1.100, identity_file: keys/client}")
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    lab = VagrantLab(load_inventory(path))
    assert lab.machines() == {"router": "router", "k8s-ctr": "k8s-ctr", "k8s-w1": "k8s-w1",
                              "k8s-w0": "k8s-w0"}
    assert lab.transport("client") == SshTransport("tester@10.10.1.100",
                                                   identity_file=str(tmp_path / "keys/client"))
