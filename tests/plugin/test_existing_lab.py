"""``--lab=existing``: the router and clients are checked reachable, then one vtysh call checks
FRR; nothing starts or stops. The lab file's own settings, dead ssh targets, and the documented
example."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from pytest_ciliumbgp.inventory import load_inventory
from pytest_ciliumbgp.labs import LabError, lab_class
from pytest_ciliumbgp.labs.existing import ExistingLab, unreachable_reason
from pytest_ciliumbgp.transport import LocalTransport, SshTransport
from tests.plugin.conftest import inventory_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "lab" / "existing" / "example.yaml"
SUMMARY = '{"ipv4Unicast": {"peers": {"192.168.50.11": {"remoteAs": 65101, "state": "Active"}}}}'


@pytest.fixture
def fake_vtysh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``vtysh`` first on PATH; tests write what it does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir / "vtysh"


def write_script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def local_router_inventory(tmp_path: Path) -> Path:
    path = tmp_path / "existing.yaml"
    local = "router: {name: router, reach: {via: local},"
    path.write_text(inventory_text(2).replace("router: {name: router,", local))
    return path


def test_registry_entry_imports() -> None:
    assert lab_class("existing") is ExistingLab


def test_reachable_router_is_adopted(tmp_path: Path, fake_vtysh: Path) -> None:
    write_script(fake_vtysh, f"echo '{SUMMARY}'")
    lab = ExistingLab(load_inventory(local_router_inventory(tmp_path)))
    assert lab.ensure_running() is False
    assert isinstance(lab.transport("router"), LocalTransport)
    assert lab.router().bgp_peers()["192.168.50.11"].state == "Active"
    lab.stop()


def test_unreachable_router_is_one_line(tmp_path: Path, fake_vtysh: Path) -> None:
    write_script(fake_vtysh, "echo '% Connection refused: is bgpd running?'; exit 1")
    lab = ExistingLab(load_inventory(local_router_inventory(tmp_path)))
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("router router is not usable: show bgp summary json on local://")
    assert message.endswith("exited 1: % Connection refused: is bgpd running?")


def test_unreachable_router_ends_the_run(pytester: pytest.Pytester, fake_vtysh: Path) -> None:
    write_script(fake_vtysh, "echo '% Connection refused'; exit 1")
    inventory = local_router_inventory(pytester.path)
    pytester.makepyfile("def test_router(cbgp_router): pass")
    result = pytester.runpytest_subprocess("--lab=existing", f"--lab-file={inventory}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        ["!*Exit: cbgp: router router is not usable: *% Connection refused !*"]
    )
    assert "Traceback" not in result.stdout.str()


# --- the lab file's own settings --------------------------------------------------------------


def lab_file(tmp_path: Path, extra: str, router_extra: str = "") -> Path:
    path = tmp_path / "lab.yaml"
    router = f"router: {{name: router, reach: {{via: local}}, {router_extra}"
    path.write_text(extra + inventory_text(2).replace("router: {name: router,", router))
    return path


def test_kubeconfig_is_read_from_the_lab_files_directory(tmp_path: Path, fake_vtysh: Path) -> None:
    write_script(fake_vtysh, f"echo '{SUMMARY}'")
    (tmp_path / "kube").mkdir()
    (tmp_path / "kube" / "config").write_text("apiVersion: v1\n")
    lab = ExistingLab(load_inventory(lab_file(tmp_path, "kubeconfig: kube/config\n")))
    assert lab.ensure_running() is False
    assert lab.kubeconfig() == str(tmp_path / "kube" / "config")


def test_without_kubeconfig_the_client_library_default_is_used(tmp_path: Path) -> None:
    lab = ExistingLab(load_inventory(lab_file(tmp_path, "")))
    assert lab.kubeconfig() is None
    assert lab.router().vtysh == ("vtysh",)


@pytest.mark.parametrize(("vtysh", "argv"), [
    ("vtysh -N blue", ("vtysh", "-N", "blue")),
    ("[docker, exec, frr, vtysh]", ("docker", "exec", "frr", "vtysh")),
], ids=["string", "list"])
def test_router_vtysh_is_how_frr_is_called(tmp_path: Path, vtysh: str,
                                          argv: tuple[str, ...]) -> None:
    lab = ExistingLab(load_inventory(lab_file(tmp_path, "", f"vtysh: {vtysh},")))
    assert lab.router().vtysh == argv


@pytest.mark.parametrize(("extra", "router_extra", "problem"), [
    ("kubeconfig: 5\n", "", "kubeconfig: expected a path, got 5"),
    ("kubeconfig: absent/config\n", "", "kubeconfig: no such file {tmp}/absent/config"),
    ("", "vtysh: [],", "router.vtysh: expected a command like 'vtysh' or [vtysh, -N, name], "
                       "got []"),
    ("", "vtysh: '',", "router.vtysh: expected a command like 'vtysh' or [vtysh, -N, name], "
                       "got ''"),
], ids=["kubeconfig-number", "kubeconfig-missing", "vtysh-empty-list", "vtysh-empty"])
def test_bad_lab_file_settings_are_one_line(tmp_path: Path, extra: str, router_extra: str,
                                            problem: str) -> None:
    path = lab_file(tmp_path, extra, router_extra)
    with pytest.raises(LabError) as raised:
        ExistingLab(load_inventory(path)).ensure_running()
    assert str(raised.value) == f"{path}: {problem.format(tmp=tmp_path)}"


# --- unreachable hosts ------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def dead_ssh(port: int) -> str:
    return (f"{{via: ssh, target: 127.0.0.1, port: {port}, config_file: /dev/null, "
            "options: [UserKnownHostsFile=/dev/null]}")


@pytest.fixture
def ssh_client() -> None:
    if shutil.which("ssh") is None:
        pytest.skip("needs the ssh client (Debian/Ubuntu package openssh-client)")


@pytest.mark.usefixtures("ssh_client")
def test_dead_ssh_router_ends_the_run_in_one_line(pytester: pytest.Pytester) -> None:
    port = free_port()
    inventory = pytester.path / "lab.yaml"
    inventory.write_text(inventory_text(2).replace(
        "router: {name: router,", f"router: {{name: router, reach: {dead_ssh(port)},"))
    pytester.makepyfile("def test_router(cbgp_router): pass")

    result = pytester.runpytest_subprocess("--lab=existing", f"--lab-file={inventory}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    said = [line for line in result.stdout.lines if "unreachable" in line]
    assert len(said) == 1, result.stdout.str()
    result.stdout.fnmatch_lines([
        f"!*Exit: cbgp: router router unreachable over ssh://127.0.0.1:{port}: ssh: connect to "
        f"host 127.0.0.1 port {port}: Connection refused !*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.usefixtures("ssh_client")
def test_dead_ssh_client_is_named(tmp_path: Path, fake_vtysh: Path) -> None:
    write_script(fake_vtysh, f"echo '{SUMMARY}'")
    port = free_port()
    clients = ("clients: [{name: probe-host, reach: " + dead_ssh(port)
               + ", interfaces: [{name: eth1, network: lan, address: 192.168.50.99/24}]}]\n")
    path = lab_file(tmp_path, clients)
    with pytest.raises(LabError) as raised:
        ExistingLab(load_inventory(path)).ensure_running()
    assert str(raised.value) == (
        f"client probe-host unreachable over ssh://127.0.0.1:{port}: ssh: connect to host "
        f"127.0.0.1 port {port}: Connection refused")


def test_proxy_failure_names_the_proxys_reason() -> None:
    said = ("ssh_relay: cannot connect to 127.0.0.1:2222: Connection refused\n"
            "kex_exchange_identification: Connection closed by remote host\n"
            "Connection closed by UNKNOWN port 65535\n")
    assert unreachable_reason(said) == (
        "ssh_relay: cannot connect to 127.0.0.1:2222: Connection refused")
    assert unreachable_reason("Connection closed by 192.0.2.1 port 22\n") == (
        "Connection closed by 192.0.2.1 port 22")
    assert unreachable_reason("") == ""


# --- the documented example -------------------------------------------------------------------


def test_example_lab_file_describes_an_ssh_lab() -> None:
    lab = ExistingLab(load_inventory(EXAMPLE))
    router = lab.transport("router")
    assert isinstance(router, SshTransport)
    argv = router.wrap(["vtysh", "-c", "show bgp summary json"])
    assert argv[:5] == ["ssh", "-o", "ProxyJump=admin@bastion.example.net", "-o",
                        "StrictHostKeyChecking=accept-new"]
    assert argv[-5:] == ["-l", "admin", "192.168.10.200", "--",
                         "sudo -n vtysh -c 'show bgp summary json'"]
    assert router.identity_file == os.path.expanduser("~/.ssh/id_ed25519")
    assert {str(lab.transport(host.name)) for host in lab.inventory.hosts} == {
        "ssh://admin@192.168.10.200:22", "ssh://admin@192.168.10.100",
        "ssh://admin@192.168.10.101", "ssh://admin@192.168.20.100", "ssh://admin@10.10.1.100"}
    assert lab.describe() == (
        "existing cluster: router router over ssh://admin@192.168.10.200:22 (vtysh), "
        f"Kubernetes API from {os.path.expanduser('~/.kube/config')}")


def test_example_lab_file_collects_the_whole_suite(pytester: pytest.Pytester) -> None:
    """Collection contacts nothing: the example's hosts do not exist."""
    result = pytester.runpytest_subprocess(str(ROOT / "suites"), "--lab=existing",
                                           f"--lab-file={EXAMPLE}", "--collect-only",
                                           "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(["cbgp lab: existing (from --lab)",
                                 f"cbgp inventory: {EXAMPLE} (from --lab-file)",
                                 "*<Module test_ecmp.py>*",
                                 "*[1-9]* tests collected*"])


def test_netns_reach_without_a_namespace_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(inventory_text(2))  # every host defaults to netns, no namespace named
    lab = ExistingLab(load_inventory(path))
    with pytest.raises(LabError, match=r"^router router: netns transport needs a namespace name$"):
        lab.ensure_running()
    assert lab.describe() == (
        "existing cluster; lab file not usable: netns transport needs a namespace name")
