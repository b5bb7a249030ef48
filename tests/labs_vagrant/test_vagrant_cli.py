"""Reading what ``vagrant`` prints: machine-readable rows, status, ssh-config, forwarded ports,
error paragraphs and the progress lines of ``vagrant up``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ciliumbgp.labs.vagrant_cli import (
    MachineState,
    Row,
    closing_error,
    first_sentence,
    machine_error,
    milestone,
    parse_forwarded_ports,
    parse_rows,
    parse_ssh_config,
    parse_status,
)
from tests.labs_vagrant.conftest import MACHINES

DATA = Path(__file__).resolve().parents[1] / "data" / "vagrant"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_rows_unescape_commas_and_newlines() -> None:
    rows = parse_rows("1756735412,router,state-human-long,The VM is running. To stop this "
                      "VM%!(VAGRANT_COMMA) run\\n`vagrant halt`.\n"
                      "Vagrant is upgrading some internal state for the latest version.\n"
                      "1756735412,,ui,info,two,fields\n")
    assert rows == [
        Row("router", "state-human-long", ("The VM is running. To stop this VM, run\n"
                                           "`vagrant halt`.",)),
        Row("", "ui", ("info", "two", "fields")),
    ]


@pytest.mark.parametrize(("fixture", "states"), [
    ("status_running.txt", ["running"] * 5),
    ("status_not_created.txt", ["not_created"] * 5),
    ("status_mixed.txt", ["running", "poweroff", "saved", "aborted", "not_created"]),
], ids=["running", "not-created", "mixed"])
def test_status_lists_machines_in_vagrantfile_order(fixture: str, states: list[str]) -> None:
    status = parse_status(read(fixture))
    assert list(status) == MACHINES
    assert [machine.state for machine in status.values()] == states
    assert status["router"] == MachineState("router", states[0], "virtualbox")
    assert [m.running for m in status.values()] == [s == "running" for s in states]


def test_status_of_a_failed_command_lists_nothing() -> None:
    assert parse_status(read("status_no_vagrantfile.txt")) == {}


def test_ssh_config_keeps_every_setting_per_host() -> None:
    hosts = parse_ssh_config(read("ssh_config.txt"))
    assert list(hosts) == MACHINES
    router = hosts["router"]
    assert router["hostname"] == ["127.0.0.1"]
    assert router["port"] == ["2222"]
    assert hosts["client"]["port"] == ["2203"]
    assert router["identityfile"] == [
        "/home/dev/pytest-ciliumbgp/lab/vagrant/.vagrant/machines/router/virtualbox/private_key"]
    assert router["stricthostkeychecking"] == ["no"]


def test_ssh_config_quoted_paths_several_keys_and_proxy_command() -> None:
    text = ('Host k8s-ctr\n  HostName 192.168.121.17\n  User vagrant\n  Port 22\n'
            '  IdentityFile "/home/dev/my labs/.vagrant/machines/k8s-ctr/libvirt/private_key"\n'
            '  IdentityFile /home/dev/.vagrant.d/insecure_private_keys/vagrant.key.ed25519\n'
            '  ProxyCommand ssh -W %h:%p -q kvm-host\n\n')
    host = parse_ssh_config(text)["k8s-ctr"]
    assert host["identityfile"] == [
        "/home/dev/my labs/.vagrant/machines/k8s-ctr/libvirt/private_key",
        "/home/dev/.vagrant.d/insecure_private_keys/vagrant.key.ed25519",
    ]
    assert host["proxycommand"] == ["ssh -W %h:%p -q kvm-host"]


def test_forwarded_ports_guest_to_host() -> None:
    assert parse_forwarded_ports(read("port_k8s-ctr.txt")) == {22: 2200, 6443: 2204}
    assert parse_forwarded_ports(read("port_k8s-ctr_unsupported.txt")) == {}


@pytest.mark.parametrize(("fixture", "sentence"), [
    ("status_no_vagrantfile.txt",
     "A Vagrant environment or target machine is required to run this command."),
    ("status_no_provider.txt", "No usable default provider could be found for your system."),
    ("port_k8s-ctr_unsupported.txt",
     "The libvirt provider does not support listing forwarded ports."),
], ids=["error-exit", "error-exit-first-paragraph", "ui-error"])
def test_machine_error_is_its_first_sentence(fixture: str, sentence: str) -> None:
    assert machine_error(read(fixture)) == sentence


def test_no_machine_error_in_healthy_output() -> None:
    assert machine_error(read("status_running.txt")) is None


def test_first_sentence_joins_wrapped_lines() -> None:
    assert first_sentence("The SSH command responded with a non-zero exit status. Vagrant\n"
                          "assumes that this means the command failed.") == (
        "The SSH command responded with a non-zero exit status.")
    assert first_sentence("no full stop here") == "no full stop here"
    assert first_sentence("version 1.18.2 is pinned. Then") == "version 1.18.2 is pinned."


def test_closing_error_is_vagrants_own_paragraph() -> None:
    lines = read("up_failed.txt").splitlines()
    assert closing_error(lines) == "The SSH command responded with a non-zero exit status."
    assert closing_error(read("up_not_created.txt").splitlines()) is None
    assert closing_error([]) is None


def test_milestones_are_our_steps_and_vagrants_banners() -> None:
    lines = read("up_not_created.txt").splitlines()
    said = [m for m in map(milestone, lines) if m is not None]
    assert "router: forwarding between the LANs" in said
    assert "k8s-ctr: installing Cilium 1.18.2 by Helm (BGP control plane, kube-proxy " \
           "replacement)" in said
    assert "router: Booting VM..." in said
    assert "client: installing curl and python3-scapy" in said
    # Machine output that is neither (apt, kubeadm, helm) stays in the log only.
    assert milestone("    k8s-ctr: [preflight] Running pre-flight checks") is None
    assert milestone("    router: Adapter 2: intnet") is None
    assert milestone("Bringing machine 'router' up with 'virtualbox' provider...") is None
