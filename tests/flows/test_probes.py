"""The probes shipped to lab hosts: standalone scripts, run in place on this machine's hosts and
as ``python3 -c SOURCE`` on remote ones, through a shell string exactly as ssh hands it over."""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from pytest_ciliumbgp.flows.attribution import CaptureError, RouterCapture
from pytest_ciliumbgp.flows.scapy_probe import Flow, FlowProbeError, probe_request, send_syn_flows
from pytest_ciliumbgp.probes import egress_capture, shipping, syn_flows
from pytest_ciliumbgp.probes.shipping import probe_argv
from pytest_ciliumbgp.transport import (
    DockerTransport,
    LocalTransport,
    NetnsTransport,
    SshTransport,
    VagrantTransport,
)

PROBES_DIR = Path(shipping.__file__).parent
#: every script shipped to a host: the package's modules but its own plumbing
SCRIPTS = sorted(p for p in PROBES_DIR.glob("*.py") if p.name not in ("__init__.py",
                                                                        "shipping.py"))
#: what a router's python3 may lack; 3.8 is the oldest python3 of a supported distribution
OLDEST_PYTHON = (3, 8)
#: a quarter of the kernel's limit on one argument (MAX_ARG_STRLEN, 128 KiB)
MAX_QUOTED_SOURCE = 32 * 1024
ONE = Flow("10.10.1.100", 20001, "172.16.1.1", 80)
TWO = Flow("10.10.1.100", 20002, "172.16.1.1", 80)


def test_the_shipped_probes_are_found() -> None:
    assert {p.stem for p in SCRIPTS} >= {"syn_flows", "egress_capture"}


@pytest.mark.parametrize("transport", [LocalTransport(), NetnsTransport("cbgp-client")], ids=str)
@pytest.mark.parametrize("probe", [syn_flows, egress_capture], ids=lambda p: p.__name__)
def test_hosts_on_this_machine_run_the_file_in_place(transport: LocalTransport,
                                                     probe: ModuleType) -> None:
    assert probe_argv(transport, probe, ["--dst", "172.16.1.1"]) == [
        sys.executable, str(probe.__file__), "--dst", "172.16.1.1"]


@pytest.mark.parametrize("transport", [
    SshTransport("router", python="/usr/bin/python3"), DockerTransport("frr"),
    VagrantTransport("router")], ids=str)
def test_remote_hosts_get_the_source_for_their_python(
        transport: SshTransport | DockerTransport | VagrantTransport) -> None:
    argv = probe_argv(transport, egress_capture, ["--iface", "eth1"])
    assert argv == [transport.python, "-c", Path(str(egress_capture.__file__)).read_text(),
                    "--iface", "eth1"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_import_only_the_standard_library_and_scapy(script: Path) -> None:
    tree = ast.parse(script.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{script.name}: relative import"
            imported.add(str(node.module).split(".")[0])
    foreign = imported - set(sys.stdlib_module_names) - {"scapy"}
    assert not foreign, f"{script.name} imports {sorted(foreign)}: not on a lab host"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_are_python_3_8(script: Path) -> None:
    ast.parse(script.read_text(), feature_version=OLDEST_PYTHON)


@pytest.mark.parametrize("probe", [syn_flows, egress_capture], ids=lambda p: p.__name__)
def test_quoted_source_fits_in_one_argument(probe: ModuleType) -> None:
    transport = SshTransport("router", sudo=True)
    remote = transport.wrap(probe_argv(transport, probe, ["--max-seconds", "30"]))[-1]
    assert len(remote.encode()) < MAX_QUOTED_SOURCE


def test_syn_packets_go_round_by_round() -> None:
    request = json.loads(probe_request([ONE, TWO], 2))
    sent = [(p["IP"].src, p["TCP"].sport, p["IP"].dst, p["TCP"].dport, p["TCP"].seq,
             str(p["TCP"].flags)) for p in syn_flows.packets(request)]
    first = syn_flows.FIRST_SEQUENCE
    assert sent == [
        (*ONE.as_list(), first, "S"), (*TWO.as_list(), first, "S"),
        (*ONE.as_list(), first + 1, "S"), (*TWO.as_list(), first + 1, "S"),
    ]


# --- through a shell string, as ssh hands it to the remote side ------------------------------


@pytest.fixture
def ssh_without_scapy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SshTransport:
    """An ``ssh`` stand-in that runs the remote string with ``sh -c`` as sshd does, on a
    "host" whose python has no scapy."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done; shift; exec sh -c "$*"\n')
    ssh.chmod(0o755)
    no_scapy = tmp_path / "no-scapy"
    (no_scapy / "scapy").mkdir(parents=True)
    (no_scapy / "scapy" / "__init__.py").write_text("raise ImportError('no scapy here')\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(no_scapy))
    return SshTransport("router", python=sys.executable)


def test_syn_flows_without_scapy_say_so_in_one_line(ssh_without_scapy: SshTransport) -> None:
    with pytest.raises(FlowProbeError) as raised:
        send_syn_flows(ssh_without_scapy, [ONE])
    assert str(raised.value) == (
        f"scapy probe on ssh://router: scapy is not installed for {sys.executable} on this host "
        "(Debian/Ubuntu: apt install python3-scapy)")


def test_capture_without_scapy_says_so_in_one_line(ssh_without_scapy: SshTransport) -> None:
    with pytest.raises(CaptureError) as raised, \
            RouterCapture(ssh_without_scapy, ["172.16.1.1"], ["eth1"], timeout=20):
        pass
    assert str(raised.value) == (
        f"capture on ssh://router did not start: scapy is not installed for {sys.executable} "
        "on this host (Debian/Ubuntu: apt install python3-scapy)")


def test_capture_arguments_reach_the_shipped_source(ssh_without_scapy: SshTransport) -> None:
    """``python3 -c SOURCE ARGS``: the arguments arrive as the script's argv (here: argparse
    refuses a call without --iface before it looks for scapy)."""
    result = ssh_without_scapy.run(probe_argv(ssh_without_scapy, egress_capture,
                                              ["--dst", "172.16.1.1"]))
    assert result.rc == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "egress_capture: error: the following arguments are required: --iface")


def test_capture_runs_in_the_transports_directory(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """vagrant ssh only finds its machine from the project directory."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vagrant = bin_dir / "vagrant"
    vagrant.write_text("#!/bin/sh\npwd >&2\nexit 1\n")
    vagrant.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    project = tmp_path / "vagrant project"
    project.mkdir()
    with pytest.raises(CaptureError) as raised, \
            RouterCapture(VagrantTransport("router", cwd=str(project)), ["172.16.1.1"], ["eth1"]):
        pass
    assert str(raised.value) == f"capture on vagrant://router did not start: {project}"


def test_router_capture_asks_for_syns_only() -> None:
    """Attribution needs one packet per connection; every other one would only slow scapy."""
    capture = RouterCapture(NetnsTransport("lab-router"), ["172.16.1.1"], ["eth1", "eth2"],
                            timeout=20)
    assert capture.argv[:6] == ["ip", "netns", "exec", "lab-router", sys.executable,
                                egress_capture.__file__]
    assert capture.argv[6:] == ["--syn-only", "--max-seconds", "20", "--dst", "172.16.1.1",
                                "--iface", "eth1", "--iface", "eth2"]


# --- the capture's own checks and its kernel filter ------------------------------------------


def run_capture(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(egress_capture.__file__), *arguments],
                          capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(("arguments", "said"), [
    (["--dst", "172.16.1.0/33", "--iface", "lo"],
     "--dst 172.16.1.0/33: not an IPv4 address or network"),
    (["--dst", "fd00::1", "--iface", "lo"], "--dst fd00::1: not an IPv4 address or network"),
    ([arg for n in range(65) for arg in ("--dst", f"172.16.1.{n}")] + ["--iface", "lo"],
     "at most 64 --dst, got 65"),
    (["--dst", "172.16.1.1", "--iface", "cbgp-none0"], "--iface cbgp-none0: no such interface"),
], ids=["bad-prefix", "ipv6", "too-many", "no-interface"])
def test_bad_arguments_are_one_line_before_sniffing(arguments: list[str], said: str) -> None:
    done = run_capture(*arguments)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"egress_capture: error: {said}"


@pytest.fixture
def filtered() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A datagram socket pair whose receiving end runs the kernel filter the capture attaches
    to its packet sockets: the kernel runs socket filters on any socket's datagrams, so no root
    and no interface is needed to see what it keeps."""
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with sender, receiver:
        yield sender, receiver


def kept(pair: tuple[socket.socket, socket.socket], frame: Packet, *, syn_only: bool) -> bytes:
    """What of ``frame`` the filter for 172.16.1.1 and 172.16.2.0/30 lets through."""
    sender, receiver = pair
    destinations = egress_capture.networks(["172.16.1.1", "172.16.2.0/30"])
    egress_capture.attach_filter(receiver, egress_capture.kernel_filter(destinations, syn_only))
    sender.send(bytes(frame))
    try:
        return receiver.recv(65535, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return b""


def tcp(dst: str = "172.16.1.1", flags: str = "S", **ip: Any) -> Packet:
    return Ether() / IP(src="10.10.1.100", dst=dst, **ip) / TCP(sport=40001, dport=80,
                                                                flags=flags)


KEPT_EITHER_WAY = {"syn": tcp(), "syn-in-network": tcp("172.16.2.3"),
                   "syn-with-ecn": tcp(flags="SEC"),
                   "syn-after-ip-options": tcp(options=b"\x01" * 8)}
KEPT_UNLESS_SYN_ONLY = {"syn-ack": tcp(flags="SA"), "ack": tcp(flags="A"),
                        "data": tcp(flags="PA") / (b"x" * 100), "fin": tcp(flags="FA"),
                        "ack-after-ip-options": tcp(flags="A", options=b"\x01" * 8)}
DROPPED = {"other-address": tcp("172.16.1.2"), "past-the-network": tcp("172.16.2.4"),
           "udp": Ether() / IP(dst="172.16.1.1") / UDP(dport=80),
           "later-fragment": tcp(frag=10), "ipv6": Ether() / IPv6() / TCP(flags="S"),
           "arp": Ether() / ARP(pdst="172.16.1.1")}


@pytest.mark.parametrize("syn_only", [True, False], ids=["syn-only", "all-tcp"])
@pytest.mark.parametrize("name", list(KEPT_EITHER_WAY))
def test_the_kernel_keeps_syns_to_the_destinations(filtered: tuple[socket.socket, socket.socket],
                                                    name: str, syn_only: bool) -> None:
    frame = KEPT_EITHER_WAY[name]
    assert kept(filtered, frame, syn_only=syn_only) == bytes(frame)


@pytest.mark.parametrize("syn_only", [True, False], ids=["syn-only", "all-tcp"])
@pytest.mark.parametrize("name", list(KEPT_UNLESS_SYN_ONLY))
def test_the_kernel_keeps_other_tcp_unless_syns_only(
        filtered: tuple[socket.socket, socket.socket], name: str, syn_only: bool) -> None:
    frame = KEPT_UNLESS_SYN_ONLY[name]
    assert kept(filtered, frame, syn_only=syn_only) == (b"" if syn_only else bytes(frame))


@pytest.mark.parametrize("name", list(DROPPED))
def test_the_kernel_drops_what_is_not_tcp_to_the_destinations(
        filtered: tuple[socket.socket, socket.socket], name: str) -> None:
    assert kept(filtered, DROPPED[name], syn_only=False) == b""


def test_the_kernel_keeps_headers_only(filtered: tuple[socket.socket, socket.socket]) -> None:
    frame = tcp(flags="PA") / (b"x" * 1400)
    assert kept(filtered, frame, syn_only=False) == bytes(frame)[:egress_capture.SNAP_BYTES]
