"""Transports: the exact local argv each one builds, arguments that survive any shell, and the
local and network-namespace transports run for real."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ciliumbgp.inventory import load_inventory
from pytest_ciliumbgp.transport import (
    SHOWN_ARGUMENT_CHARS,
    CommandResult,
    DockerTransport,
    LocalTransport,
    NetnsTransport,
    SshTransport,
    Transport,
    TransportError,
    VagrantTransport,
    shown,
    transport_for,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "inventories"
VTYSH = ["vtysh", "-c", "show ip bgp json"]
HOSTILE_ARGUMENTS = [
    "; rm -rf /",
    "two words",
    "it's",
    '"double"',
    "$(x)",
    "`id`",
    "a && b || c",
    "> /etc/passwd",
    "*",
    "new\nline",
    "",
    "-- --help",
]
SSH_PREFIX = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]


# --- command construction -------------------------------------------------------------------


def test_local_runs_the_command_as_given() -> None:
    assert LocalTransport().wrap(VTYSH) == VTYSH
    assert str(LocalTransport()) == "local://"


def test_netns_enters_the_namespace() -> None:
    transport = NetnsTransport("cbgp-router")
    assert transport.wrap(VTYSH) == ["ip", "netns", "exec", "cbgp-router", *VTYSH]
    assert str(transport) == "netns://cbgp-router"


def test_ssh_minimal() -> None:
    transport = SshTransport("vagrant@192.0.2.10")
    assert transport.wrap(VTYSH) == [
        *SSH_PREFIX,
        "vagrant@192.0.2.10",
        "--",
        "vtysh -c 'show ip bgp json'",
    ]
    assert str(transport) == "ssh://vagrant@192.0.2.10"


def test_ssh_with_port_identity_options_and_sudo() -> None:
    transport = SshTransport(
        "vagrant@192.0.2.10",
        port=2222,
        identity_file="/keys/router key",
        sudo=True,
        options=("StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"),
    )
    assert transport.wrap(VTYSH) == [
        "ssh",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        *SSH_PREFIX[1:],
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        "/keys/router key",
        "-p",
        "2222",
        "vagrant@192.0.2.10",
        "--",
        "sudo -n vtysh -c 'show ip bgp json'",
    ]
    assert str(transport) == "ssh://vagrant@192.0.2.10:2222"


def test_ssh_users_options_come_first_so_they_win() -> None:
    """ssh keeps the first value of an option: a user's ConnectTimeout beats the default."""
    argv = SshTransport("h", options=("ConnectTimeout=60", "ProxyJump=admin@bastion")).wrap(
        ["true"]
    )
    options = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-o"]
    assert options == ["ConnectTimeout=60", "ProxyJump=admin@bastion", "BatchMode=yes",
                       "ConnectTimeout=10"]


def test_ssh_with_user_and_config_file() -> None:
    transport = SshTransport("router.lab", user="admin", config_file="/etc/cbgp/ssh_config")
    assert transport.wrap(["true"]) == [
        "ssh", "-F", "/etc/cbgp/ssh_config", *SSH_PREFIX[1:], "-l", "admin", "router.lab",
        "--", "true",
    ]
    assert str(transport) == "ssh://admin@router.lab"


def test_which_transports_share_this_machines_files() -> None:
    assert LocalTransport.shares_files
    assert NetnsTransport("ns").shares_files
    remote = [SshTransport("h"), DockerTransport("c"), VagrantTransport("m")]
    assert not any(transport.shares_files for transport in remote)
    assert {transport.python for transport in remote} == {"python3"}


def test_long_arguments_are_cut_in_messages() -> None:
    source = "print('x')\n" * 100
    message = shown(["python3", "-c", source, "--dst", "172.16.1.1"])
    cut = shlex.quote(source[:SHOWN_ARGUMENT_CHARS] + "...").replace("\n", "\\n")
    assert message == f"python3 -c {cut} --dst 172.16.1.1"
    assert "\n" not in message


def test_docker_execs_in_the_container() -> None:
    assert DockerTransport("clab-frr").wrap(VTYSH) == ["docker", "exec", "-i", "clab-frr", *VTYSH]
    assert DockerTransport("clab-frr", sudo=True).wrap(VTYSH) == [
        "sudo",
        "-n",
        "docker",
        "exec",
        "-i",
        "clab-frr",
        *VTYSH,
    ]
    assert str(DockerTransport("clab-frr")) == "docker://clab-frr"


def test_vagrant_runs_from_its_project_directory_with_sudo_by_default() -> None:
    transport = VagrantTransport("router", cwd="/srv/lab/vagrant")
    assert transport.wrap(VTYSH) == [
        "vagrant",
        "ssh",
        "router",
        "-c",
        "sudo -n vtysh -c 'show ip bgp json'",
    ]
    assert transport.workdir() == "/srv/lab/vagrant"
    assert VagrantTransport("router", sudo=False).wrap(VTYSH)[-1] == "vtysh -c 'show ip bgp json'"
    assert VagrantTransport("router").workdir() is None
    assert str(transport) == "vagrant://router"


@pytest.mark.parametrize("sudo", [False, True], ids=["plain", "sudo"])
@pytest.mark.parametrize(
    "transport_class", [SshTransport, VagrantTransport], ids=["ssh", "vagrant"]
)
@pytest.mark.parametrize("argument", HOSTILE_ARGUMENTS)
def test_remote_string_gives_back_each_argument(
    transport_class: type[SshTransport] | type[VagrantTransport], sudo: bool, argument: str
) -> None:
    command = ["printf", "%s\n", argument, "after"]
    remote = transport_class("host", sudo=sudo).wrap(command)[-1]
    expected = ["sudo", "-n", *command] if sudo else command
    assert shlex.split(remote) == expected


@pytest.mark.parametrize("argument", HOSTILE_ARGUMENTS)
def test_list_transports_pass_arguments_untouched(argument: str) -> None:
    command = ["printf", "%s\n", argument]
    assert LocalTransport().wrap(command)[-1] == argument
    assert NetnsTransport("ns").wrap(command)[-1] == argument
    assert DockerTransport("c", sudo=True).wrap(command)[-1] == argument


# --- transport_for ----------------------------------------------------------------------------


def test_transport_for_each_reach_of_an_inventory() -> None:
    inventory = load_inventory(DATA / "remote-reach.yaml")
    transports = {
        host.name: transport_for(host.reach.via, host.reach.settings, namespace=f"lab-{host.name}")
        for host in inventory.hosts
    }
    assert {name: str(t) for name, t in transports.items()} == {
        "router": "ssh://vagrant@192.0.2.10:2222",
        "k8s-ctr": "vagrant://k8s-ctr",
        "k8s-w1": "docker://kind-worker",
        "k8s-w0": "netns://w0",
        "client": "local://",
    }
    assert transports["router"] == SshTransport(
        "vagrant@192.0.2.10",
        port=2222,
        identity_file="/keys/router_ed25519",
        sudo=True,
        options=("StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null"),
    )
    assert transports["k8s-ctr"] == VagrantTransport("k8s-ctr", cwd="/srv/lab/vagrant", sudo=True)
    assert transports["k8s-w1"] == DockerTransport("kind-worker", sudo=True)
    assert type(transports["client"]) is LocalTransport


def test_transport_for_netns_falls_back_to_the_labs_namespace() -> None:
    assert transport_for("netns", {}, namespace="cbgp-k8s-w0") == NetnsTransport("cbgp-k8s-w0")
    assert transport_for("netns", {"namespace": "own"}, namespace="x") == NetnsTransport("own")
    with pytest.raises(TransportError, match="netns transport needs a namespace name"):
        transport_for("netns", {})


def test_transport_for_reads_defaults_and_strings() -> None:
    assert transport_for("ssh", {"target": "h", "port": "22"}) == SshTransport("h", port=22)
    assert transport_for("docker", {"container": "c"}) == DockerTransport("c", sudo=False)
    assert transport_for("vagrant", {"machine": "m"}) == VagrantTransport("m", sudo=True)


def test_transport_for_every_ssh_setting(tmp_path: Path) -> None:
    settings = {
        "target": "router.lab", "user": "admin", "port": 2200, "identity_file": "keys/id",
        "config_file": "~/lab/ssh_config", "options": ["ProxyJump=bastion"], "sudo": True,
        "python": "/opt/py/bin/python3",
    }
    assert transport_for("ssh", settings, base=tmp_path) == SshTransport(
        "router.lab", port=2200, identity_file=str(tmp_path / "keys" / "id"), sudo=True,
        options=("ProxyJump=bastion",), user="admin",
        config_file=os.path.expanduser("~/lab/ssh_config"), python="/opt/py/bin/python3",
    )


def test_transport_for_keeps_absolute_paths_and_names_python(tmp_path: Path) -> None:
    ssh = transport_for("ssh", {"target": "h", "identity_file": "/keys/id"}, base=tmp_path)
    assert isinstance(ssh, SshTransport)
    assert ssh.identity_file == "/keys/id"
    relative = transport_for("ssh", {"target": "h", "identity_file": "id"})
    assert isinstance(relative, SshTransport)
    assert relative.identity_file == "id"
    assert transport_for("docker", {"container": "c", "python": "python3.11"}).python == (
        "python3.11"
    )
    assert transport_for("vagrant", {"machine": "m", "python": "/usr/bin/python3"}).python == (
        "/usr/bin/python3"
    )


def test_transport_for_unknown_via() -> None:
    with pytest.raises(TransportError, match="unknown transport 'telnet'"):
        transport_for("telnet", {})


# --- local, for real --------------------------------------------------------------------------


def test_local_run_reports_rc_stdout_and_stderr() -> None:
    command = ("sh", "-c", "echo out; echo err >&2; exit 3")
    result = LocalTransport().run(command)
    assert result == CommandResult(command, 3, "out\n", "err\n")
    assert not result.ok


def test_local_run_feeds_input() -> None:
    assert LocalTransport().run(["cat"], input="route 172.16.1.1/32\n").stdout == (
        "route 172.16.1.1/32\n"
    )


def test_local_run_passes_hostile_arguments_as_data(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    arguments = [*HOSTILE_ARGUMENTS, f"; touch {marker}", f"$(touch {marker})"]
    result = LocalTransport().run(["printf", "%s\\0", *arguments])
    assert result.stdout.split("\0")[:-1] == arguments
    assert not marker.exists()


def test_check_returns_the_result_or_raises_with_the_last_line() -> None:
    local = LocalTransport()
    assert local.check_output(["echo", "Established"]) == "Established\n"
    failed = local.run(["sh", "-c", "echo first >&2; echo 'peer 192.168.10.100 down' >&2; exit 2"])
    with pytest.raises(TransportError) as caught:
        failed.check()
    assert str(caught.value).endswith("exited 2: peer 192.168.10.100 down")
    with pytest.raises(TransportError, match=r"^false exited 1: no output$"):
        local.check_output(["false"])


def test_local_timeout_is_a_transport_error() -> None:
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"^sleep 30: no answer within 0.3 s$"):
        LocalTransport().run(["sleep", "30"], timeout=0.3)
    assert time.monotonic() - started < 5


def test_missing_program_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match=r"^cbgp-no-such-program: program not found"):
        LocalTransport().run(["cbgp-no-such-program", "--version"])


# --- the remote transports through stand-in clients -------------------------------------------


@pytest.fixture
def stand_in_clients(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``ssh``, ``docker`` and ``vagrant`` stand-ins that do what the real clients do with the
    command: ssh and vagrant hand the remote string to a POSIX shell, docker execs the argv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "ssh": 'while [ "$1" != "--" ]; do shift; done; shift; exec sh -c "$*"',
        "vagrant": 'pwd >&2; exec sh -c "$4"',
        "docker": 'shift 3; exec "$@"',
    }
    for name, body in scripts.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


@pytest.mark.parametrize(
    "transport",
    [
        SshTransport("core@192.0.2.10", port=2222, options=("LogLevel=ERROR",)),
        VagrantTransport("router", sudo=False),
        DockerTransport("clab-frr"),
    ],
    ids=str,
)
def test_remote_side_receives_each_argument_unchanged(
    stand_in_clients: Path, transport: Transport
) -> None:
    marker = stand_in_clients / "ran"
    arguments = [*HOSTILE_ARGUMENTS, f"; touch {marker}", f"$(touch {marker})", f"`touch {marker}`"]
    result = transport.run(["printf", "%s\\0", *arguments]).check()
    assert result.stdout.split("\0")[:-1] == arguments
    assert not marker.exists()


def test_vagrant_runs_in_its_project_directory(stand_in_clients: Path) -> None:
    project = stand_in_clients / "vagrant project"
    project.mkdir()
    result = VagrantTransport("router", cwd=str(project), sudo=False).run(["true"])
    assert result.stderr == f"{project}\n"


# --- network namespace, for real --------------------------------------------------------------


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def throwaway_namespace() -> Iterator[str]:
    """A network namespace of this test's own, deleted afterwards."""
    if shutil.which("ip") is None:
        pytest.skip("needs the ip command (Debian/Ubuntu package iproute2)")
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace (run the lab tests as root)")
    name = f"cbgpu-{secrets.token_hex(4)}"
    created = _ip("netns", "add", name)
    assert created.returncode == 0, f"ip netns add {name}: {created.stderr.strip()}"
    try:
        yield name
    finally:
        _ip("netns", "delete", name)
    assert name not in _ip("netns", "list").stdout, f"namespace {name} left behind"


def _own_namespace(transport: Transport) -> str:
    return transport.check_output(["readlink", "/proc/self/ns/net"]).strip()


@pytest.mark.lab
def test_netns_runs_inside_the_namespace(throwaway_namespace: str) -> None:
    transport = NetnsTransport(throwaway_namespace)
    assert _own_namespace(transport) != _own_namespace(LocalTransport())
    links = transport.check_output(["ip", "-o", "link", "show"]).splitlines()
    assert [line.split(":")[1].strip() for line in links] == ["lo"]


@pytest.mark.lab
def test_netns_reports_rc_stdout_stderr_and_arguments(throwaway_namespace: str) -> None:
    transport = NetnsTransport(throwaway_namespace)
    result = transport.run(
        ["sh", "-c", 'printf "%s\\0" "$@"; echo oops >&2; exit 7', "sh", *HOSTILE_ARGUMENTS]
    )
    assert (result.rc, result.stderr) == (7, "oops\n")
    assert result.stdout.split("\0")[:-1] == HOSTILE_ARGUMENTS
    with pytest.raises(TransportError, match=r"^ip netns exec cbgpu-\w+ sleep 30: no answer"):
        transport.run(["sleep", "30"], timeout=0.3)


@pytest.mark.lab
def test_netns_missing_namespace_fails_with_ips_reason(throwaway_namespace: str) -> None:
    missing = NetnsTransport(f"{throwaway_namespace}-absent").run(["true"])
    assert missing.rc != 0
    with pytest.raises(TransportError, match="Cannot open network namespace"):
        missing.check()


def test_missing_project_directory_is_named(stand_in_clients: Path) -> None:
    project = stand_in_clients / "absent"
    with pytest.raises(TransportError, match=f"^{re.escape(str(project))}: "):
        VagrantTransport("router", cwd=str(project)).run(["true"])


def test_program_that_cannot_run_is_a_transport_error(tmp_path: Path) -> None:
    not_a_program = tmp_path / "notes.txt"
    not_a_program.write_text("not a program\n")
    with pytest.raises(TransportError, match=f"^{re.escape(str(not_a_program))}: "):
        LocalTransport().run([str(not_a_program)])
