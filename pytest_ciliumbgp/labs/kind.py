"""``--lab=kind``: a kind cluster running Cilium with its BGP control plane, FRR in a docker
container as the router and a client container behind it (``lab/kind/``).

A cluster that already runs (``kind get clusters`` names it) is adopted, and a run never tears
down what it adopted; otherwise ``lab/kind/up.sh`` brings the whole lab up, its progress lines
passed on, and ``lab/kind/down.sh`` removes it when the run that started it ends. Either way the
driver then checks that every container holds the address the inventory gives it on the docker
network of that name, so a lab wired otherwise stops the run at once with one line, instead of
failing every check later with a confusing next hop.

Hosts are reached by ``docker exec``; the router and the client run the suite's probe scripts
with their own python3 (:mod:`pytest_ciliumbgp.probes.shipping`), which must import scapy: the
lab's tools image has it, and the driver checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pytest_ciliumbgp.inventory import Host, Inventory
from pytest_ciliumbgp.labs.base import Lab, LabError
from pytest_ciliumbgp.transport import CommandResult, Transport, TransportError, transport_for

#: The kind cluster's name, as lab/kind/lab.sh and the inventory's node names have it.
CLUSTER = "cbgp"
#: Inventory network ``lan1`` is docker network ``cbgp-lan1`` (lab/kind/lab.sh makes them).
DOCKER_NETWORK_PREFIX = "cbgp-"
#: Overrides where up.sh and down.sh are (default: lab/kind of this checkout).
LAB_DIR_ENV = "CBGP_KIND_DIR"
_CHECKOUT_LAB_DIR = Path(__file__).resolve().parents[2] / "lab" / "kind"
#: How long one docker command of the driver may take.
DOCKER_TIMEOUT_S = 120.0
_INSPECT_FORMAT = ("{{.Name}} {{.State.Running}}{{range $network, $endpoint := "
                   ".NetworkSettings.Networks}} {{$network}}={{$endpoint.IPAddress}}{{end}}")

Progress = Callable[[str], None]


def _to_stderr(line: str) -> None:
    print(f"cbgp: kind lab: {line}", file=sys.stderr, flush=True)


class KindLab(Lab):
    """A kind cluster with Cilium, FRR and a client in docker containers, as ``lab/kind/up.sh``
    builds it; a cluster already running is adopted as it is."""

    name: ClassVar[str] = "kind"

    def __init__(self, inventory: Inventory, *, lab_dir: Path | None = None,
                 state_dir: Path | None = None, progress: Progress | None = None) -> None:
        super().__init__(inventory)
        self.lab_dir = lab_dir or Path(os.environ.get(LAB_DIR_ENV) or _CHECKOUT_LAB_DIR)
        self.state_dir = state_dir or Path(tempfile.gettempdir()) / f"cbgp-kind-{CLUSTER}"
        self.progress = progress or _to_stderr
        self._kubeconfig: Path | None = None

    def ensure_running(self) -> bool:
        _require("docker", "kind")
        daemon = _command(["docker", "info", "--format", "{{.ServerVersion}}"])
        if daemon.returncode != 0:
            raise LabError(f"docker daemon not reachable: {_last_line(daemon)}")
        started = CLUSTER not in self._clusters()
        if started:
            _require("helm", "kubectl")
            self._run_script("up.sh")
        else:
            self.progress(f"kind cluster {CLUSTER!r} is running: adopting it")
        self._check_wiring()
        # The suite captures on the router's interfaces and adds addresses to the client's by
        # the inventory's names, and runs its probe scripts there with python3 and scapy.
        for host in (self.inventory.router, *self.inventory.clients):
            if host.reach.via == "docker":
                self._check_interfaces(host)
                self._check_scapy(host)
        return started

    def stop(self) -> None:
        self._run_script("down.sh")

    def transport(self, host: str) -> Transport:
        reach = self.inventory.host(host).reach
        base = self.inventory.source.parent if self.inventory.source else None
        try:
            return transport_for(reach.via, reach.settings, base=base)
        except TransportError as err:
            raise LabError(f"{host}: {err}") from None

    def kubeconfig(self) -> str:
        """The cluster's kubeconfig from ``kind get kubeconfig``, kept in ``state_dir``."""
        if self._kubeconfig is None:
            text = _check(["kind", "get", "kubeconfig", "--name", CLUSTER]).stdout
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self.state_dir / "kubeconfig"
            # Workers of one run write it at the same time: each replaces it whole.
            fd, partial = tempfile.mkstemp(dir=self.state_dir, prefix=".kubeconfig-")
            with os.fdopen(fd, "w") as file:
                file.write(text)
            os.replace(partial, path)
            self._kubeconfig = path
        return str(self._kubeconfig)

    def describe(self) -> str:
        router = self.inventory.router
        return (f"kind cluster {CLUSTER!r} (context kind-{CLUSTER}), router {router.name} at "
                f"{self.transport(router.name)}; brought up by {self.lab_dir / 'up.sh'} when "
                f"no such cluster runs")

    def _clusters(self) -> list[str]:
        return _check(["kind", "get", "clusters"]).stdout.split()

    def _run_script(self, script: str) -> None:
        """Run up.sh or down.sh, passing on each line it prints. The scripts bound every wait
        of theirs, so no timeout is set here."""
        path = self.lab_dir / script
        if not path.is_file():
            raise LabError(f"{path} not found: --lab=kind needs lab/kind/ of a pytest-ciliumbgp "
                           f"checkout; set {LAB_DIR_ENV} to that directory")
        last = ""
        try:
            with subprocess.Popen([str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) as process:
                assert process.stdout is not None
                for raw in process.stdout:
                    line = raw.rstrip()
                    if line:
                        self.progress(line)
                        last = line
        except OSError as err:
            raise LabError(f"{path}: cannot run it: {err.strerror}") from None
        if process.returncode != 0:
            raise LabError(f"{path} exited {process.returncode}: {last or 'no output'}")

    def _check_wiring(self) -> None:
        containers = {str(host.reach.settings["container"]): host
                      for host in self.inventory.hosts if host.reach.via == "docker"}
        if not containers:
            return
        found = _command(["docker", "inspect", "--type", "container", "--format",
                          _INSPECT_FORMAT, *containers])
        seen = dict(_parse_inspect(line) for line in found.stdout.splitlines() if line.strip())
        problems = [problem for container, host in containers.items()
                    for problem in _wiring_problems(container, host, seen.get(container))]
        if problems:
            raise LabError(f"kind lab is not wired as {self.inventory.source or 'the inventory'} "
                           f"says: {'; '.join(problems)} (lab/kind/up.sh finishes a half-made "
                           f"lab)")

    def _check_interfaces(self, host: Host) -> None:
        transport = self.transport(host.name)
        listing = _reach(transport, host, ["ip", "-j", "-4", "address", "show"])
        try:
            links: list[dict[str, Any]] = json.loads(listing.check().stdout)
        except TransportError as err:
            raise LabError(f"{host.name}: {err}") from None
        except json.JSONDecodeError:
            raise LabError(f"{host.name}: ip -j address show printed no JSON") from None
        held = {f"{address.get('local')}/{address.get('prefixlen')}": str(link.get("ifname"))
                for link in links for address in link.get("addr_info", [])}
        for interface in host.interfaces:
            on = held.get(str(interface.address))
            if on != interface.name:
                where = f"it is on {on}" if on else "no interface holds it"
                raise LabError(f"{host.name}: the inventory puts {interface.address} on "
                               f"{interface.name} of {transport}, but {where}; lab/kind/up.sh "
                               f"attaches the networks in the order lab/kind/lab.sh gives")

    def _check_scapy(self, host: Host) -> None:
        transport = self.transport(host.name)
        result = _reach(transport, host, [transport.python, "-c", "import scapy.sendrecv"])
        if not result.ok:
            said = (result.stderr or result.stdout).strip().splitlines()
            raise LabError(f"{host.name}: {transport.python} in {transport} cannot import "
                           f"scapy, which the probe scripts need (the lab's tools image "
                           f"installs python3-scapy): {said[-1] if said else f'exit {result.rc}'}")


def _reach(transport: Transport, host: Host, command: list[str]) -> CommandResult:
    try:
        return transport.run(command, timeout=DOCKER_TIMEOUT_S)
    except TransportError as err:
        raise LabError(f"{host.name} unreachable over {transport}: {err}") from None


def _require(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            raise LabError(f"{tool} is not installed (not on PATH): --lab=kind needs docker and "
                           f"kind, and helm and kubectl to bring the lab up "
                           f"(see lab/kind/README.md)")


def _command(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """One command of the driver itself (docker, kind) on this machine."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=DOCKER_TIMEOUT_S,
                              check=False)
    except OSError as err:
        raise LabError(f"{argv[0]}: cannot run it: {err.strerror}") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(argv[:3])}: no answer within {DOCKER_TIMEOUT_S:g} s") from None


def _check(argv: list[str]) -> subprocess.CompletedProcess[str]:
    done = _command(argv)
    if done.returncode != 0:
        raise LabError(f"{' '.join(argv[:3])} exited {done.returncode}: {_last_line(done)}")
    return done


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
    return lines[-1] if lines else "no output"


def _parse_inspect(line: str) -> tuple[str, tuple[bool, dict[str, str]]]:
    """One line of ``_INSPECT_FORMAT``: ``/name true net=address ...``."""
    name, running, *endpoints = line.split()
    addresses = dict(endpoint.partition("=")[::2] for endpoint in endpoints)
    return name.lstrip("/"), (running == "true", addresses)


def _wiring_problems(container: str, host: Host,
                     seen: tuple[bool, dict[str, str]] | None) -> list[str]:
    if seen is None:
        return [f"no container {container} ({host.name})"]
    running, addresses = seen
    if not running:
        return [f"container {container} ({host.name}) is not running"]
    problems = []
    for interface in host.interfaces:
        network = f"{DOCKER_NETWORK_PREFIX}{interface.network}"
        if addresses.get(network) != str(interface.ip):
            problems.append(f"{container} ({host.name}) should have {interface.ip} on docker "
                            f"network {network}, has {addresses.get(network) or 'none'}")
    return problems
