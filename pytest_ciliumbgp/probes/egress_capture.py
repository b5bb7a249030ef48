"""Capture the TCP packets this host (the router) forwards to given addresses, per egress port,
tagged with the step of the test they were sent in.

Shipped to the router and run there by its python3 (see ``shipping``), so it imports only the
standard library and scapy and keeps to Python 3.8::

    python3 egress_capture.py --dst 172.16.1.0/28 --iface eth1 --iface eth2 [--syn-only]

It sniffs the node-facing interfaces for TCP packets to the given addresses or networks (a
test's pool slice lets the capture start before the Service has its address) that leave by one
of them (source MAC one of the router's own: forwarded packets, seen on egress), only SYNs with
``--syn-only``, and prints ``ready`` once sniffing. Each line read on stdin names the test's next
step (``--step`` names the first); a packet belongs to the step named last before its capture
time. When stdin closes (or ``--max-seconds`` pass) it prints every packet's flow, egress
interface, destination MAC, step, time, sequence number, payload length and SYN flag as one
JSON list.

Under CPU load scapy dissects slower than packets arrive, and what waits in a socket's receive
queue when sniffing stops is lost. So:

- the kernel drops every packet the capture does not want before queueing it: a classic BPF
  program, compiled here because scapy compiles its ``filter=`` with libpcap, which a router
  may lack;
- scapy dissects headers only (the kernel keeps ``SNAP_BYTES`` of each packet);
- it drains before it stops: the kernel counts the packets it queued on each socket
  (``PACKET_STATISTICS``), the probe counts those it handled, and it stops once every socket
  is drained of what arrived until ``GRACE_S`` after stdin closed — no quiet time to guess,
  since a packet taken off the queue but not yet handled still counts as pending. After
  ``--drain-seconds`` it stops anyway; what it may have missed, and any packet the kernel
  dropped for a full receive buffer, it says on stderr, and exits ``INCOMPLETE_EXIT`` after
  the report: a partial capture would make a sound router look wrong.
"""

from __future__ import annotations

import argparse
import bisect
import ctypes
import ipaddress
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

READY = "ready"
#: after stdin closes, packets stamped up to this much later still belong to the capture
GRACE_S = 0.5
#: how long to keep draining the receive queues at most, by default
DRAIN_S = 10.0
#: how often the drain looks at the receive queues
POLL_S = 0.05
#: setsockopt SO_RCVBUFFORCE (root may exceed net.core.rmem_max); Python lacks the constant
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER_BYTES = 32 << 20
#: Linux constants Python lacks (asm-generic/socket.h, linux/socket.h, linux/if_packet.h,
#: linux/if_arp.h)
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
PACKET_STATISTICS = 6
ARPHRD_ETHER = 1
#: enough for Ethernet plus the largest IPv4 and TCP headers (14 + 60 + 60)
SNAP_BYTES = 256
#: What a host without scapy says, on stderr, with this exit code.
NO_SCAPY_EXIT = 3
#: The report is printed but the capture may lack packets (said on stderr).
INCOMPLETE_EXIT = 4
TCP_SYN, TCP_ACK = 0x02, 0x10
#: at most this many --dst: the kernel filter's jumps reach 255 instructions ahead
MAX_DESTINATIONS = 64

# Classic BPF opcodes (linux/filter.h)
_LD_W_ABS, _LD_H_ABS, _LD_B_ABS, _LD_B_IND, _LDX_B_MSH = 0x20, 0x28, 0x30, 0x50, 0xB1
_ALU_AND_K, _JMP_JEQ_K, _JMP_JSET_K, _RET_K = 0x54, 0x15, 0x45, 0x06
_ETH_P_IP, _IPPROTO_TCP = 0x0800, 6
# Offsets in an Ethernet frame carrying IPv4
_ETHER_TYPE, _IP, _IP_FRAGMENT, _IP_PROTOCOL, _IP_DST = 12, 14, 20, 23, 30
_TCP_FLAGS = 13  # after the IP header


def networks(destinations: Sequence[str]) -> list[ipaddress.IPv4Network]:
    """The IPv4 networks ``--dst`` names (an address is a /32)."""
    if len(destinations) > MAX_DESTINATIONS:
        raise ValueError(f"at most {MAX_DESTINATIONS} --dst, got {len(destinations)}")
    found = []
    for destination in destinations:
        try:
            found.append(ipaddress.IPv4Network(destination, strict=False))
        except ValueError:
            raise ValueError(f"--dst {destination}: not an IPv4 address or network") from None
    return found


def kernel_filter(destinations: Sequence[ipaddress.IPv4Network], syn_only: bool) -> bytes:
    """A classic BPF program for Ethernet frames that keeps the first ``SNAP_BYTES`` of IPv4
    TCP packets (first fragments) to ``destinations`` — only SYNs without ACK if
    ``syn_only`` — and drops the rest, as ``struct sock_filter`` array."""
    # (opcode, k, label jumped to if true, if false); None goes on to the next instruction
    code: list[Any] = [
        (_LD_H_ABS, _ETHER_TYPE, None, None), (_JMP_JEQ_K, _ETH_P_IP, None, "drop"),
        (_LD_B_ABS, _IP_PROTOCOL, None, None), (_JMP_JEQ_K, _IPPROTO_TCP, None, "drop"),
        (_LD_H_ABS, _IP_FRAGMENT, None, None), (_JMP_JSET_K, 0x1FFF, "drop", None),
    ]
    for network in destinations:
        code += [(_LD_W_ABS, _IP_DST, None, None),
                 (_ALU_AND_K, int(network.netmask), None, None),
                 (_JMP_JEQ_K, int(network.network_address), "tcp", None)]
    code += [(_RET_K, 0, None, None), "tcp"]
    if syn_only:
        code += [(_LDX_B_MSH, _IP, None, None), (_LD_B_IND, _IP + _TCP_FLAGS, None, None),
                 (_ALU_AND_K, TCP_SYN | TCP_ACK, None, None),
                 (_JMP_JEQ_K, TCP_SYN, None, "drop")]
    code += [(_RET_K, SNAP_BYTES, None, None), "drop", (_RET_K, 0, None, None)]
    labels: dict[str, int] = {}
    instructions: list[tuple[int, int, Any, Any]] = []
    for entry in code:
        if isinstance(entry, str):
            labels[entry] = len(instructions)
        else:
            instructions.append(entry)

    def jump(at: int, label: Any) -> int:
        return 0 if label is None else labels[label] - at - 1

    return b"".join(struct.pack("=HBBI", op, jump(at, yes), jump(at, no), k)
                    for at, (op, k, yes, no) in enumerate(instructions))


def attach_filter(sock: socket.socket, program: bytes) -> None:
    """SO_ATTACH_FILTER: ``struct sock_fprog`` points at the program, which the kernel copies."""
    buffer = ctypes.create_string_buffer(program, len(program))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    struct.pack("HP", len(program) // 8, ctypes.addressof(buffer)))


def kernel_counts(sock: socket.socket) -> tuple[int, int]:
    """(queued, dropped) since the last call: PACKET_STATISTICS resets as it is read, and its
    packet count includes the drops."""
    packets, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    return packets - drops, drops


def flush(sock: socket.socket) -> int:
    """Reset the kernel's counts, then throw away what is queued (some of it came before the
    filter was attached); how many packets that was."""
    kernel_counts(sock)
    flushed = 0
    while True:
        try:
            sock.recv(SNAP_BYTES, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return flushed
        flushed += 1


class Capture:
    """The sniffing sockets, one per interface, and what was seen on each."""

    def __init__(self, interfaces: Sequence[str], program: bytes) -> None:
        from scapy.config import conf

        self.sockets: dict[Any, str] = {}
        #: per interface: packets the kernel queued, and those taken off the queue since
        self.queued = {interface: 0 for interface in interfaces}
        self.handled = {interface: 0 for interface in interfaces}
        self.newest = {interface: 0.0 for interface in interfaces}
        self.dropped = {interface: 0 for interface in interfaces}
        for interface in interfaces:
            sock = conf.L2listen(iface=interface)
            if sock.ins.getsockname()[3] != ARPHRD_ETHER:  # the filter reads Ethernet frames
                raise ValueError(f"--iface {interface}: not an Ethernet interface")
            attach_filter(sock.ins, program)
            # scapy dissects slower than a burst arrives: the kernel must hold the whole burst
            sock.ins.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER_BYTES)
            self.handled[interface] = flush(sock.ins)
            self.sockets[sock] = interface

    def count_queued(self) -> None:
        for sock, interface in self.sockets.items():
            queued, dropped = kernel_counts(sock.ins)
            self.queued[interface] += queued
            self.dropped[interface] += dropped

    def handled_one(self, interface: str, when: float) -> None:
        """Called by the sniffer after each packet, whatever became of it."""
        self.newest[interface] = when
        self.handled[interface] += 1

    def pending(self, horizon: float) -> dict[str, int]:
        """Packets queued but not handled, per interface that may still hold some stamped
        up to ``horizon`` (its queue is in time order: past one stamped later, none is)."""
        self.count_queued()
        return {interface: self.queued[interface] - self.handled[interface]
                for interface in self.sockets.values()
                if self.handled[interface] < self.queued[interface]
                and self.newest[interface] <= horizon}


def capture(destinations: Sequence[ipaddress.IPv4Network], interfaces: Sequence[str],
            syn_only: bool, first_step: str, max_seconds: float,
            drain_seconds: float) -> tuple[list[dict[str, Any]], list[str]]:
    """The packets seen as report entries, and the lines saying what may be missing."""
    from scapy.arch import get_if_hwaddr
    from scapy.config import conf
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.sendrecv import AsyncSniffer

    sockets = Capture(interfaces, kernel_filter(destinations, syn_only))
    conf.layers.filter([Ether, IP, TCP])  # payloads stay raw bytes: dissecting them is costly
    own_macs = {get_if_hwaddr(interface).lower() for interface in interfaces}
    marks = [0.0]
    steps = [first_step]
    seen: list[tuple[float, dict[str, Any]]] = []
    started = threading.Event()

    def handle(packet: Any) -> None:
        # Must not raise: scapy closes the socket of a packet whose handling fails.
        when = float(packet.time)  # the kernel's receive time, on the clock of time.time()
        if IP in packet and TCP in packet and packet[Ether].src.lower() in own_macs:
            ip, tcp = packet[IP], packet[TCP]
            seen.append((when, {"flow": [ip.src, tcp.sport, ip.dst, tcp.dport],
                                "iface": packet.sniffed_on, "mac": packet[Ether].dst.lower(),
                                "time": when, "seq": int(tcp.seq),
                                "length": max(ip.len - 4 * ip.ihl - 4 * tcp.dataofs, 0),
                                "syn": bool(int(tcp.flags) & TCP_SYN)}))
        sockets.handled_one(packet.sniffed_on, when)

    def follow_steps() -> None:
        for line in sys.stdin:
            if line.strip():
                marks.append(time.time())
                steps.append(line.strip())

    sniffer = AsyncSniffer(opened_socket=sockets.sockets, prn=handle, store=False,
                           started_callback=started.set)
    sniffer.start()
    started.wait(10)
    print(READY, flush=True)
    follower = threading.Thread(target=follow_steps, daemon=True)
    follower.start()
    follower.join(max_seconds)
    horizon = time.time() + GRACE_S
    time.sleep(GRACE_S)
    deadline = time.monotonic() + drain_seconds
    pending = sockets.pending(horizon)
    while pending and time.monotonic() < deadline:
        time.sleep(POLL_S)
        pending = sockets.pending(horizon)
    sniffer.stop()
    if pending:  # given up: count again, the sniffer may have handled more before it stopped
        pending = sockets.pending(horizon)
    missing = [f"{interface}: {count} packets still queued after draining {drain_seconds:g} s"
               for interface, count in pending.items()]
    missing += [f"{interface}: {count} packets dropped by the kernel (receive buffer full)"
                for interface, count in sockets.dropped.items() if count]
    report = []
    for when, entry in seen:
        entry["step"] = steps[bisect.bisect_right(marks, when) - 1]
        report.append(entry)
    return report, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="egress_capture",
                                     description="capture forwarded TCP packets per egress port "
                                                 "and step")
    parser.add_argument("--dst", action="append", required=True,
                        help="an IPv4 address or network; repeat for more")
    parser.add_argument("--iface", action="append", required=True)
    parser.add_argument("--syn-only", action="store_true", help="only SYNs without ACK")
    parser.add_argument("--step", default="start", help="name of the first step")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--drain-seconds", type=float, default=DRAIN_S)
    options = parser.parse_args(argv)
    interfaces = list(dict.fromkeys(options.iface))
    try:
        destinations = networks(options.dst)
    except ValueError as error:
        parser.error(str(error))
    try:
        import scapy.sendrecv  # noqa: F401  (only to say so now, not after "ready")
    except ImportError:
        print(f"scapy is not installed for {sys.executable} on this host "
              "(Debian/Ubuntu: apt install python3-scapy)", file=sys.stderr)
        return NO_SCAPY_EXIT
    for interface in interfaces:
        try:
            socket.if_nametoindex(interface)
        except OSError:
            parser.error(f"--iface {interface}: no such interface")
    try:
        report, missing = capture(destinations, interfaces, options.syn_only, options.step,
                                  options.max_seconds, options.drain_seconds)
    except (OSError, ValueError) as error:
        print(f"egress_capture: {error}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    if missing:
        print("egress_capture: capture incomplete: " + "; ".join(missing), file=sys.stderr)
        return INCOMPLETE_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
