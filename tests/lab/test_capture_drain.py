"""The router-side capture on a real packet socket: a burst that waits in the kernel's receive
queue while the probe cannot run (SIGSTOP: a router whose CPUs are busy) is reported in full
once stdin has closed, or said to be incomplete when draining it takes longer than allowed;
the kernel filter keeps other traffic out of the queue; steps tag what follows them.

Everything happens in one network namespace of this test's own lab id, on a veth pair: the
probe sniffs ``cap0`` and the test sends the burst out of ``cap0`` with scapy, so each packet is
seen leaving by it, as a forwarded packet leaves the router.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_ciliumbgp.probes import egress_capture
from pytest_ciliumbgp.probes.shipping import probe_argv
from pytest_ciliumbgp.transport import NetnsTransport

pytestmark = pytest.mark.lab

LAB_ID = "cbgptc"
NAMESPACE = f"{LAB_ID}-capture"
SERVICE, OTHER, CLIENT = "172.16.1.1", "172.16.1.2", "10.10.1.100"
#: large enough that scapy needs far longer than the capture's grace time to dissect it
BURST = 5000
FIRST_PORT = 20000
#: the scapy sender, run in the namespace: frames as JSON on stdin, sent out of one interface
SENDER = """
import json, sys
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.sendrecv import sendp
doc = json.load(sys.stdin)
frames = [Ether(src=doc["src"], dst=doc["dst"]) / IP(src=f[0], dst=f[1])
          / TCP(sport=f[2], dport=80, flags=f[3], seq=1000) / (b"x" * f[4])
          for f in doc["frames"]]
sendp(frames, iface=doc["iface"], verbose=False)
"""


@dataclass(frozen=True)
class Veth:
    """``cap0`` (sniffed, sending) and its peer ``cap1`` in the test's namespace."""

    transport: NetnsTransport
    mac: str
    peer_mac: str

    def send(self, frames: list[tuple[str, str, int, str, int]]) -> None:
        """Send (src, dst, sport, TCP flags, payload length) packets out of ``cap0``."""
        doc = {"src": self.mac, "dst": self.peer_mac, "iface": "cap0", "frames": frames}
        self.transport.run([sys.executable, "-c", SENDER], input=json.dumps(doc)).check()


def link_mac(name: str) -> str:
    out = subprocess.run(["ip", "-n", NAMESPACE, "-j", "link", "show", name],
                         capture_output=True, text=True, check=True).stdout
    mac: str = json.loads(out)[0]["address"]
    return mac


def remove_namespace() -> None:
    subprocess.run(["ip", "netns", "delete", NAMESPACE], capture_output=True, check=False)


@pytest.fixture(scope="module")
def veth() -> Iterator[Veth]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2")
    remove_namespace()  # left over by an interrupted run of this test
    try:
        for command in (["ip", "netns", "add", NAMESPACE],
                        ["ip", "-n", NAMESPACE, "link", "add", "cap0", "type", "veth",
                         "peer", "name", "cap1"],
                        ["ip", "-n", NAMESPACE, "link", "set", "cap0", "up"],
                        ["ip", "-n", NAMESPACE, "link", "set", "cap1", "up"]):
            subprocess.run(command, capture_output=True, text=True, check=True)
        yield Veth(NetnsTransport(NAMESPACE), link_mac("cap0"), link_mac("cap1"))
    finally:
        remove_namespace()


@dataclass
class Probe:
    """The capture probe on ``cap0``, run as the local sides run it."""

    process: subprocess.Popen[str]

    @classmethod
    def start(cls, veth: Veth, *arguments: str) -> Probe:
        argv = veth.transport.wrap(probe_argv(veth.transport, egress_capture, [
            *arguments, "--dst", SERVICE, "--iface", "cap0"]))
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        ready = process.stdout.readline()
        if ready.strip() != egress_capture.READY:
            process.kill()
            pytest.fail(f"capture did not start: {ready!r} {process.communicate()[1]}")
        return cls(process)

    def mark(self, step: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(step + "\n")
        self.process.stdin.flush()

    def report(self, *, then: signal.Signals | None = None) -> tuple[int, list[Any], str]:
        """Close stdin (and send ``then``); the exit code, the packets and stderr."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        if then is not None:
            self.process.send_signal(then)
        stdout = self.process.stdout.read() if self.process.stdout else ""
        stderr = self.process.stderr.read() if self.process.stderr else ""
        returncode = self.process.wait(60)
        return returncode, json.loads(stdout.strip().splitlines()[-1]), stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()


@pytest.fixture
def probes() -> Iterator[list[Probe]]:
    """Probes the test started, killed afterwards whatever happened."""
    started: list[Probe] = []
    yield started
    for probe in started:
        probe.kill()


def burst_while_stopped(veth: Veth, probe: Probe) -> list[tuple[str, str, int, str, int]]:
    """Stop the probe, send the burst (with packets the kernel filter must keep out of the
    queue in between), and return the SYNs to the Service it holds."""
    syns = [(CLIENT, SERVICE, FIRST_PORT + n, "S", 0) for n in range(BURST)]
    others = [(CLIENT, SERVICE, FIRST_PORT + n, "A", 0) for n in range(0, BURST, 10)]
    others += [(CLIENT, OTHER, FIRST_PORT + n, "S", 0) for n in range(0, BURST, 10)]
    probe.process.send_signal(signal.SIGSTOP)
    veth.send(syns[:BURST // 2] + others + syns[BURST // 2:])
    return syns


def test_a_burst_queued_while_the_probe_is_stopped_is_reported_in_full(
        veth: Veth, probes: list[Probe]) -> None:
    probe = Probe.start(veth, "--syn-only")
    probes.append(probe)
    syns = burst_while_stopped(veth, probe)

    returncode, packets, stderr = probe.report(then=signal.SIGCONT)

    assert returncode == 0, stderr
    reported = sorted(packet["flow"][1] for packet in packets)
    assert reported == [sport for _, _, sport, _, _ in syns], (
        f"expected the {BURST} SYNs to {SERVICE} once each, capture reported {len(reported)}")
    assert {packet["mac"] for packet in packets} == {veth.peer_mac}


def test_a_burst_not_drained_in_time_is_said_to_be_incomplete(veth: Veth,
                                                              probes: list[Probe]) -> None:
    probe = Probe.start(veth, "--syn-only", "--drain-seconds", "0")
    probes.append(probe)
    burst_while_stopped(veth, probe)

    returncode, packets, stderr = probe.report(then=signal.SIGCONT)

    assert returncode == egress_capture.INCOMPLETE_EXIT, stderr
    said = stderr.strip().splitlines()[-1]
    prefix = "egress_capture: capture incomplete: cap0: "
    suffix = " packets still queued after draining 0 s"
    assert said.startswith(prefix), said
    assert said.endswith(suffix), said
    unread = int(said[len(prefix):-len(suffix)])
    assert unread > 0
    assert len(packets) + unread == BURST, (
        f"{len(packets)} reported + {unread} said unread: expected the {BURST} sent")


def test_every_tcp_packet_is_tagged_with_its_step(veth: Veth, probes: list[Probe]) -> None:
    probe = Probe.start(veth, "--step", "before")
    probes.append(probe)
    veth.send([(CLIENT, SERVICE, 30001, "S", 0), (CLIENT, SERVICE, 30001, "PA", 60),
               (CLIENT, OTHER, 30001, "PA", 60)])
    time.sleep(0.2)
    probe.mark("after")
    time.sleep(0.2)
    veth.send([(CLIENT, SERVICE, 30001, "PA", 1400), (CLIENT, SERVICE, 30001, "FA", 0)])

    returncode, packets, stderr = probe.report()

    assert returncode == 0, stderr
    seen = [(p["flow"], p["step"], p["syn"], p["length"], p["seq"])
            for p in sorted(packets, key=lambda p: p["time"])]
    flow = [CLIENT, 30001, SERVICE, 80]
    assert seen == [(flow, "before", True, 0, 1000), (flow, "before", False, 60, 1000),
                    (flow, "after", False, 1400, 1000), (flow, "after", False, 0, 1000)]
