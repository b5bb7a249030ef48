"""``--lab=vagrant``: the reference topology as Vagrant VMs (``lab/vagrant``).

The driver provisions nothing itself: ``vagrant up`` runs the Vagrantfile's scripts. It finds
the project (the inventory's ``reach.cwd``, else ``$VAGRANT_CWD``, else this checkout's
``lab/vagrant``), adopts the machines that already run, brings the others up, and records
which ones it brought up and from which state, so that :meth:`VagrantLab.stop` — possibly in
another process, the xdist controller — halts or destroys exactly those and nothing else.

Hosts are reached by plain ``ssh -F FILE`` where FILE is what ``vagrant ssh-config`` printed.
``vagrant ssh -c`` would start Vagrant's Ruby runtime for every command (one to three seconds
each) while the suite polls the router hundreds of times a run; with Vagrant's own output as
the ssh config, keys, ports, proxy commands and quoting stay exactly Vagrant's.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit, urlunsplit

import yaml

from pytest_ciliumbgp.inventory import Host, Inventory, Node
from pytest_ciliumbgp.labs.base import Lab, LabError
from pytest_ciliumbgp.labs.vagrant_cli import Progress, Vagrant, VagrantError, parse_ssh_config
from pytest_ciliumbgp.transport import SshTransport, Transport, TransportError, transport_for

#: The Vagrant project of a checkout: <repo>/lab/vagrant.
CHECKOUT_PROJECT = Path(__file__).resolve().parents[2] / "lab" / "vagrant"
#: Our files inside the project's own ``.vagrant`` directory (ignored by git like the rest).
STATE_DIR = Path(".vagrant") / "cbgp"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
#: Seconds a host may take to list its addresses before it counts as unreachable.
REACH_TIMEOUT_S = 30.0
_T = TypeVar("_T")


def _to_stderr(message: str) -> None:
    print(f"cbgp: vagrant lab: {message}", file=sys.stderr, flush=True)


class VagrantLab(Lab):
    """The reference topology as Vagrant VMs: machines that already run are adopted and left
    running; the ones this lab brings up are halted (or destroyed, when it created them) by
    :meth:`stop`."""

    name: ClassVar[str] = "vagrant"

    def __init__(self, inventory: Inventory, *, progress: Progress | None = None) -> None:
        super().__init__(inventory)
        self.progress: Progress = progress or _to_stderr

    # --- where the lab is -----------------------------------------------------------------

    def machines(self) -> dict[str, str]:
        """Inventory host name → Vagrant machine name, for the hosts reached via vagrant."""
        return {host.name: str(host.reach.settings["machine"]) for host in self.inventory.hosts
                if host.reach.via == "vagrant"}

    def project(self) -> Path:
        """The Vagrant project directory; :class:`LabError` when there is none."""
        hosts = [h for h in self.inventory.hosts if h.reach.via == "vagrant"]
        if not hosts:
            raise LabError(f"inventory {self.inventory.name!r} reaches no host via vagrant; "
                           f"for hosts reached otherwise use --lab=existing")
        named = {str(h.reach.settings["cwd"]) for h in hosts if h.reach.settings.get("cwd")}
        if len(named) > 1:
            projects = ", ".join(sorted(named))
            raise LabError(f"inventory hosts name several Vagrant projects ({projects}); one lab "
                           f"is one project")
        if named:
            base = self.inventory.source.parent if self.inventory.source else Path.cwd()
            where, why = base / os.path.expanduser(named.pop()), "reach.cwd of the inventory"
        elif os.environ.get("VAGRANT_CWD"):
            where, why = Path(os.environ["VAGRANT_CWD"]), "VAGRANT_CWD"
        else:
            where, why = CHECKOUT_PROJECT, "the lab/vagrant of this checkout"
        vagrantfile = os.environ.get("VAGRANT_VAGRANTFILE") or "Vagrantfile"
        if not (where / vagrantfile).is_file():
            raise LabError(f"no {vagrantfile} in {where} ({why}); set VAGRANT_CWD to the "
                           f"directory of lab/vagrant/Vagrantfile")
        return where.resolve()

    def state_dir(self) -> Path:
        return self.project() / STATE_DIR

    def _vagrant(self) -> Vagrant:
        return Vagrant(self.project())

    # --- the Lab interface ----------------------------------------------------------------

    def ensure_running(self) -> bool:
        vagrant = self._vagrant()
        wanted = set(self.machines().values())
        states = _call(vagrant.status)
        unknown = sorted(wanted - set(states))
        if unknown:
            defined = ", ".join(states) or "none"
            raise LabError(f"{vagrant.project}/Vagrantfile defines no machine {unknown[0]!r} "
                           f"(it defines: {defined}), yet the inventory reaches a host by it")
        # Vagrantfile order: the router and the control plane come up before the nodes that
        # need them (see lab/vagrant/Vagrantfile).
        down = {name: s.state for name, s in states.items() if name in wanted and not s.running}
        if down:
            self._bring_up(vagrant, down)
        self._connect(vagrant)
        return bool(down)

    def stop(self) -> None:
        record = self._record()
        if not record:
            return
        vagrant = self._vagrant()
        # Each machine goes back to the state it was found in: gone, suspended or off.
        for command, doing in (("destroy", "destroying"), ("suspend", "suspending"),
                               ("halt", "halting")):
            machines = [m for m, state in record.items() if _way_back(state) == command]
            if machines:
                self.progress(f"{doing} {', '.join(machines)} (brought up by this run)")
                extra = ["--force"] if command == "destroy" else []
                _call(vagrant.stream, [command, *extra, "--no-color", *machines],
                      self.state_dir() / f"vagrant-{command}.log", self.progress)
        (self.state_dir() / "started.json").unlink(missing_ok=True)

    def transport(self, host: str) -> Transport:
        reach = self.inventory.host(host).reach
        if reach.via != "vagrant":
            base = self.inventory.source.parent if self.inventory.source else None
            try:
                return transport_for(reach.via, reach.settings, base=base)
            except TransportError as err:
                raise LabError(f"{host}: {err}") from None
        # The ssh config file is written by ensure_running, before any command runs.
        return SshTransport(
            target=str(reach.settings["machine"]),
            config_file=str(self.state_dir() / "ssh_config"),
            sudo=bool(reach.settings.get("sudo", True)),
            python=str(reach.settings.get("python") or "python3"),
        )

    def kubeconfig(self) -> str:
        path = self.state_dir() / "kubeconfig"
        if not path.is_file():
            self._fetch_kubeconfig(self._vagrant())
        return str(path)

    def describe(self) -> str:
        """What the run would connect to, in one line, without running anything."""
        machines = ", ".join(dict.fromkeys(self.machines().values())) or "none"
        try:
            project = f"Vagrant project {self.project()}"
        except LabError as err:
            return f"Vagrant lab, not usable as it is: {err}"
        control = self._control_plane()
        api = f"{control.name}:{ADMIN_CONF}" if control else "no control-plane node"
        return (f"{project}: machines {machines} over ssh (vagrant ssh-config), "
                f"Kubernetes API from {api}")

    # --- bringing up and connecting -------------------------------------------------------

    def _bring_up(self, vagrant: Vagrant, down: dict[str, str]) -> None:
        state = self.state_dir()
        log = state / "vagrant-up.log"
        # Recorded before ``up`` runs: machines an interrupted ``up`` made are stopped too.
        _write_private(state / "started.json", json.dumps({"machines": down}, indent=2))
        self.progress(f"vagrant up {', '.join(down)} in {vagrant.project} (a first boot "
                      f"provisions them: 15-30 min); output in {log}")
        try:
            vagrant.stream(["up", "--no-parallel", "--no-color", *down], log, self.progress)
        except VagrantError as err:
            # Left for inspection: nothing stops them (this run did not get a lab).
            (state / "started.json").unlink(missing_ok=True)
            raise LabError(f"{err}; the machines are left as they are for inspection "
                           f"(vagrant destroy -f in {vagrant.project} removes them)") from None

    def _connect(self, vagrant: Vagrant) -> None:
        """Write the ssh config, check every host holds its inventory addresses, and fetch the
        kubeconfig: a lab that fails any of these is reported before a test runs."""
        machines = list(dict.fromkeys(self.machines().values()))
        text = _call(vagrant.ssh_config, machines)
        missing = [m for m in machines if m not in parse_ssh_config(text)]
        if missing:
            raise LabError(f"vagrant ssh-config printed no Host {missing[0]} in {vagrant.project}")
        _write_private(self.state_dir() / "ssh_config", text)
        for host in self.inventory.hosts:
            if host.reach.via == "vagrant":
                self._check_interfaces(host)
        for host in (self.inventory.router, *self.inventory.clients):
            if host.reach.via == "vagrant":
                self._check_scapy(host)
        self._fetch_kubeconfig(vagrant)

    def _check_interfaces(self, host: Host) -> None:
        """The suite captures on the router's interfaces and adds addresses to the client's by
        the inventory's names: check each one holds its inventory address."""
        transport = self.transport(host.name)
        try:
            listing = transport.check_output(["ip", "-j", "-4", "address", "show"],
                                             timeout=REACH_TIMEOUT_S)
            links = json.loads(listing)
        except TransportError as err:
            raise LabError(f"{host.name} unreachable over {transport}: {err}") from None
        except json.JSONDecodeError:
            raise LabError(f"{host.name}: ip -j address show printed no JSON") from None
        held = {f"{a.get('local')}/{a.get('prefixlen')}": str(link.get("ifname"))
                for link in links for a in link.get("addr_info", [])}
        for interface in host.interfaces:
            on = held.get(str(interface.address))
            if on == interface.name:
                continue
            where = f"it is on {on}" if on else "no interface holds it"
            raise LabError(f"{host.name}: the inventory puts {interface.address} on "
                           f"{interface.name}, but {where}; provision the machines with "
                           f"{self.project()}/Vagrantfile and its pinned box, or fix the "
                           f"inventory")

    def _check_scapy(self, host: Host) -> None:
        """The router and the clients run the plugin's probe scripts with their own python3,
        which needs scapy."""
        transport = self.transport(host.name)
        try:
            result = transport.run([transport.python, "-c", "import scapy"],
                                   timeout=REACH_TIMEOUT_S)
        except TransportError as err:
            raise LabError(f"{host.name} unreachable over {transport}: {err}") from None
        if not result.ok:
            said = (result.stderr or result.stdout).strip().splitlines()
            raise LabError(f"{host.name}: {transport.python} cannot import scapy, which the "
                           f"probe scripts need (lab/vagrant provisioning installs "
                           f"python3-scapy): {said[-1] if said else f'exit {result.rc}'}")

    def _control_plane(self) -> Node | None:
        return next((n for n in self.inventory.nodes if n.control_plane), None)

    def _fetch_kubeconfig(self, vagrant: Vagrant) -> None:
        """kubeadm's admin.conf from the control-plane node, its server rewritten to the host
        port Vagrant forwards to the API server's port, when it forwards one (the Vagrantfile
        does, to 127.0.0.1; the API server's certificate names 127.0.0.1 for that)."""
        node = self._control_plane()
        if node is None or node.reach.via != "vagrant":
            raise LabError(f"inventory {self.inventory.name!r} has no control-plane node "
                           f"reached via vagrant (control_plane: true) to read {ADMIN_CONF} from")
        transport = self.transport(node.name)
        try:
            document = yaml.safe_load(transport.check_output(["cat", ADMIN_CONF]))
        except TransportError as err:
            raise LabError(f"cannot read {ADMIN_CONF} on {node.name}: {err}") from None
        except yaml.YAMLError:
            raise LabError(f"{ADMIN_CONF} on {node.name} is not YAML") from None
        clusters = document.get("clusters") if isinstance(document, dict) else None
        if not clusters:
            raise LabError(f"{ADMIN_CONF} on {node.name} names no cluster")
        try:
            forwarded = vagrant.forwarded_ports(str(node.reach.settings["machine"]))
        except VagrantError:
            forwarded = {}  # the provider lists none: the server's own address must do
        for entry in clusters:
            _reach_forwarded(entry.get("cluster", {}), forwarded)
        _write_private(self.state_dir() / "kubeconfig", yaml.safe_dump(document))

    def _record(self) -> dict[str, str]:
        """Machine → the state it was in before this lab brought it up."""
        try:
            path = self.state_dir() / "started.json"
            machines = json.loads(path.read_text()).get("machines", {})
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, AttributeError) as err:
            raise LabError(f"cannot read which machines this lab started: {err}") from None
        return {str(name): str(state) for name, state in machines.items()}


def _way_back(state: str) -> str:
    """The command that returns a machine this lab brought up to the state it found it in."""
    if state == "not_created":
        return "destroy"
    return "suspend" if state == "saved" else "halt"


def _reach_forwarded(cluster: dict[str, Any], forwarded: dict[int, int]) -> None:
    server = urlsplit(str(cluster.get("server", "")))
    port = server.port or 443
    if port in forwarded:
        cluster["server"] = urlunsplit(server._replace(netloc=f"127.0.0.1:{forwarded[port]}"))


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only (a kubeconfig holds credentials), atomically so
    that xdist workers never read half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as sink:
        sink.write(text)
    partial.replace(path)


def _call(function: Callable[..., _T], *args: Any) -> _T:
    try:
        return function(*args)
    except VagrantError as err:
        raise LabError(str(err)) from None
