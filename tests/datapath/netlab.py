"""A throwaway network for the datapath's end-to-end tests: a client and two nodes joined by a
router, one pod behind each node (plumbed by the lab's own ``PodNetworks``) running a whoami-like
HTTP server, all in ``cbgpd…`` namespaces that ``net_lab`` removes again, whatever happens.

    client 10.10.1.100 ── router ── node-a 192.168.10.100 ── pod 172.20.0.10
                                 └─ node-b 192.168.20.100 ── pod 172.20.1.10

The router sends the LB pool to node-a, as if node-a were the ECMP next hop that BGP chose.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from pytest_ciliumbgp.emulator.netns import socket_in
from pytest_ciliumbgp.emulator.topology import LabNames
from pytest_ciliumbgp.emulator.workloads.podnet import PodNetworks

from .conftest import (
    CLIENT_ADDRESS,
    CLIENT_GATEWAY,
    NODE_A,
    NODE_ADDRESSES,
    NODE_B,
    POD_ADDRESSES,
    POD_CIDRS,
    POD_PORT,
    ROUTER_ADDRESSES,
)

# Answers like traefik/whoami with what the datapath's tests look at.
WHOAMI = """
import http.server, sys
class Whoami(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host, port = self.client_address[:2]
        body = f"Hostname: {sys.argv[1]}\\nRemoteAddr: {host}:{port}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), Whoami).serve_forever()
"""


@dataclass(frozen=True)
class Answer:
    hostname: str
    remote_ip: str


@dataclass
class NetLab:
    lab_id: str
    pods: dict[str, str] = field(default_factory=dict)  # node -> pod name

    @property
    def names(self) -> LabNames:
        return LabNames(self.lab_id)

    @property
    def client(self) -> str:
        return self.names.namespace("client")


def _ip_batch(namespace: str, commands: Sequence[str]) -> None:
    subprocess.run(["ip", "-n", namespace, "-batch", "-"], input="\n".join(commands), text=True,
                   check=True, capture_output=True)


def _wire(lab: NetLab) -> None:
    router = lab.names.namespace("router")
    links = {NODE_A: "eth1", NODE_B: "eth2", "client": "eth3"}
    commands = [f"link add {port} type veth peer name eth1 netns {lab.names.namespace(host)}"
                for host, port in links.items()]
    commands += [f"link set {port} up" for port in links.values()]
    commands += [f"addr add {ROUTER_ADDRESSES[node]}/24 dev {links[node]}"
                 for node in (NODE_A, NODE_B)]
    commands += [f"addr add {CLIENT_GATEWAY}/24 dev eth3",
                 f"route add {POD_CIDRS[NODE_A]} via {NODE_ADDRESSES[NODE_A]}",
                 f"route add {POD_CIDRS[NODE_B]} via {NODE_ADDRESSES[NODE_B]}",
                 f"route add 172.16.1.0/24 via {NODE_ADDRESSES[NODE_A]}"]
    _ip_batch(router, commands)
    subprocess.run(["ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                   check=True)
    hosts = {**{node: (NODE_ADDRESSES[node], ROUTER_ADDRESSES[node]) for node in (NODE_A, NODE_B)},
             "client": (CLIENT_ADDRESS, CLIENT_GATEWAY)}
    for host, (address, gateway) in hosts.items():
        _ip_batch(lab.names.namespace(host), [
            "link set lo up", f"addr add {address}/24 dev eth1", "link set eth1 up",
            f"route add default via {gateway}"])


def connect(namespace: str, address: str, port: int,
            timeout: float = 1.0) -> socket.socket | None:
    """A TCP connection from ``namespace``; None when nothing answers (the packets dropped)."""
    sock = socket_in(namespace)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
    except OSError as error:
        sock.close()
        if isinstance(error, TimeoutError):
            return None
        raise
    return sock


def request(sock: socket.socket) -> Answer:
    """Ask whoami over ``sock`` (closed afterwards) who it is and whom it sees."""
    with sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    fields = dict(line.split(": ", 1) for line in reply.decode().splitlines() if ": " in line)
    return Answer(fields["Hostname"], fields["RemoteAddr"].rsplit(":", 1)[0])


def probe(namespace: str, address: str, port: int, timeout: float = 1.0) -> Answer | None:
    """One request on a new connection; None when the connection is dropped."""
    sock = connect(namespace, address, port, timeout)
    return None if sock is None else request(sock)


def _wait_for_servers(lab: NetLab) -> None:
    deadline = time.monotonic() + 10
    pending = set(lab.pods)
    while pending:
        for node in sorted(pending):
            try:
                answer = probe(lab.names.namespace(node), POD_ADDRESSES[node], POD_PORT)
            except OSError:  # refused until the server listens
                answer = None
            if answer is not None:
                pending.discard(node)
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"whoami of the pods on {sorted(pending)} not answering in 10 s")
        time.sleep(0.05)


@contextmanager
def net_lab() -> Iterator[NetLab]:
    lab = NetLab(f"cbgpd{secrets.token_hex(3)}")
    with ExitStack() as cleanup:
        for host in ("router", "client", NODE_A, NODE_B):
            namespace = lab.names.namespace(host)
            subprocess.run(["ip", "netns", "add", namespace], check=True)
            cleanup.callback(subprocess.run, ["ip", "netns", "delete", namespace], check=False)
        _wire(lab)
        networks = PodNetworks(lab.lab_id)
        for node in (NODE_A, NODE_B):
            network = networks.attach(node, IPv4Network(POD_CIDRS[node]), uuid.uuid4().hex,
                                      IPv4Address(POD_ADDRESSES[node]))
            cleanup.callback(networks.detach, network)
            lab.pods[node] = f"web-{node}"
            server = subprocess.Popen(["ip", "netns", "exec", network.namespace, sys.executable,
                                       "-c", WHOAMI, lab.pods[node], str(POD_PORT)])
            cleanup.callback(server.wait, 5)
            cleanup.callback(server.kill)
        _wait_for_servers(lab)
        yield lab
