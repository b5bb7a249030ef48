"""The ``vagrant`` command as the Vagrant lab uses it: run it in one project, and read what it
prints — ``status --machine-readable``, ``ssh-config``, ``port --machine-readable`` and the
error paragraphs it ends with — into plain values.

Machine-readable lines are ``timestamp,target,type,data...``; Vagrant escapes commas in the data
as ``%!(VAGRANT_COMMA)`` and newlines as a literal backslash-n (``lib/vagrant/ui.rb``).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "install Vagrant (https://developer.hashicorp.com/vagrant/install) and a provider "
    "(VirtualBox or libvirt), or pick another --lab"
)
#: ``vagrant status`` and friends load every plugin first: seconds, more on a cold cache.
QUERY_TIMEOUT_S = 300.0
#: A first ``vagrant up`` downloads a box and provisions five machines.
UP_TIMEOUT_S = 3600.0
#: What the provisioning scripts print before each step (``step`` in lab/vagrant/*.sh).
STEP_MARK = "cbgp-step:"
_STEP_LINE = re.compile(rf"^\s*(?P<machine>[\w.-]+): {re.escape(STEP_MARK)} ?(?P<text>.*)$")
_BANNER_LINE = re.compile(r"^==> (?P<text>.*)$")

Progress = Callable[[str], None]


class VagrantError(RuntimeError):
    """``vagrant`` could not run or failed; the message is one line."""


@dataclass(frozen=True)
class Row:
    """One machine-readable line."""

    target: str
    kind: str
    data: tuple[str, ...]


@dataclass(frozen=True)
class MachineState:
    name: str
    state: str
    provider: str

    @property
    def running(self) -> bool:
        return self.state == "running"


def parse_rows(text: str) -> list[Row]:
    rows = []
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[0].isdigit():
            continue  # not a machine-readable line (plugin warnings, Ruby deprecations)
        data = tuple(_unescape(field) for field in fields[3:])
        rows.append(Row(fields[1], fields[2], data))
    return rows


def _unescape(field: str) -> str:
    return field.replace("%!(VAGRANT_COMMA)", ",").replace("\\n", "\n").replace("\\r", "\r")


def parse_status(text: str) -> dict[str, MachineState]:
    """``vagrant status --machine-readable``: machine name → state, in Vagrantfile order."""
    states: dict[str, str] = {}
    providers: dict[str, str] = {}
    for row in parse_rows(text):
        if row.target and row.data:
            if row.kind == "state":
                states[row.target] = row.data[0]
            elif row.kind == "provider-name":
                providers[row.target] = row.data[0]
    return {name: MachineState(name, state, providers.get(name, "")) for name, state in
            states.items()}


def parse_forwarded_ports(text: str) -> dict[int, int]:
    """``vagrant port MACHINE --machine-readable``: guest port → host port."""
    ports = {}
    for row in parse_rows(text):
        if row.kind == "forwarded_port" and len(row.data) >= 2:
            ports[int(row.data[0])] = int(row.data[1])
    return ports


def parse_ssh_config(text: str) -> dict[str, dict[str, list[str]]]:
    """``vagrant ssh-config``: host alias → keyword (lower case) → its values, in order.

    Values keep everything after the keyword (``ProxyCommand`` takes the rest of the line);
    one pair of surrounding double quotes is removed, as ssh does for paths with spaces.
    """
    hosts: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, value = line.partition(" ")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if keyword.lower() == "host":
            current = hosts.setdefault(value, {})
        elif current is not None:
            current.setdefault(keyword.lower(), []).append(value)
    return hosts


def machine_error(text: str) -> str | None:
    """The first sentence of the error in machine-readable output: the ``error-exit`` row
    Vagrant prints when a command raises, else the last ``ui,error`` row (a command that just
    returns 1, like ``port`` on a provider that cannot list ports)."""
    rows = parse_rows(text)
    for row in rows:
        if row.kind == "error-exit" and len(row.data) >= 2:
            return first_sentence(row.data[1])
    errors = [row.data[1] for row in rows
              if row.kind == "ui" and len(row.data) >= 2 and row.data[0] == "error"]
    return first_sentence(errors[-1]) if errors else None


def first_sentence(message: str) -> str:
    """Vagrant wraps its messages at ~75 columns: join them and keep the first sentence."""
    flat = " ".join(message.split())
    end = re.search(r"[.!?](\s|$)", flat)
    return flat[: end.start() + 1] if end else flat


def closing_error(lines: Sequence[str]) -> str | None:
    """The first sentence of the error paragraph ``vagrant`` ends its human output with.

    Machine output is indented or starts with ``==>``; Vagrant's own error starts in column 0
    after it.
    """
    paragraph: list[str] = []
    for line in reversed(lines):
        if not line.strip():
            if paragraph:
                break
            continue
        if line.startswith((" ", "\t", "==>")):
            break
        paragraph.append(line)
    if not paragraph:
        return None
    return first_sentence(" ".join(reversed(paragraph)))


def milestone(line: str) -> str | None:
    """What a line of ``vagrant up`` output says for the progress display, if it is a step of
    one of our provisioning scripts (``k8s-ctr: cbgp-step: installing Cilium``) or a banner of
    Vagrant's (``==> router: Booting VM...``)."""
    step = _STEP_LINE.match(line)
    if step:
        return f"{step['machine']}: {step['text']}"
    banner = _BANNER_LINE.match(line)
    return banner["text"] if banner else None


@dataclass(frozen=True)
class Vagrant:
    """``vagrant`` run in one project directory (``VAGRANT_CWD`` set to it as well, so an
    outer ``VAGRANT_CWD`` cannot point it elsewhere)."""

    project: Path

    def _env(self) -> dict[str, str]:
        return {**os.environ, "VAGRANT_CWD": str(self.project)}

    def run(self, args: Sequence[str], *, timeout: float = QUERY_TIMEOUT_S) -> str:
        """Run ``vagrant ARGS``; return stdout or raise :class:`VagrantError` in one line."""
        argv = ["vagrant", *args]
        try:
            done = subprocess.run(argv, cwd=self.project, env=self._env(), capture_output=True,
                                  encoding="utf-8", errors="replace", timeout=timeout,
                                  check=False)
        except FileNotFoundError:
            raise VagrantError(f"vagrant: program not found on this machine; {INSTALL_HINT}"
                               ) from None
        except OSError as err:
            raise VagrantError(f"vagrant: cannot run it: {err.strerror}") from None
        except subprocess.TimeoutExpired:
            raise VagrantError(f"{shlex.join(argv)}: no answer within {timeout:g} s") from None
        if done.returncode != 0:
            why = (machine_error(done.stdout) or closing_error(done.stderr.splitlines())
                   or closing_error(done.stdout.splitlines()) or "no output")
            raise VagrantError(f"{shlex.join(argv)} exited {done.returncode} in {self.project}: "
                               f"{why}")
        return done.stdout

    def status(self) -> dict[str, MachineState]:
        return parse_status(self.run(["status", "--machine-readable"]))

    def ssh_config(self, machines: Sequence[str]) -> str:
        return self.run(["ssh-config", *machines])

    def forwarded_ports(self, machine: str) -> dict[int, int]:
        return parse_forwarded_ports(self.run(["port", machine, "--machine-readable"]))

    def stream(self, args: Sequence[str], log: Path, progress: Progress,
               *, timeout: float = UP_TIMEOUT_S) -> None:
        """Run a long ``vagrant`` command (``up``, ``halt``, ``destroy``): every line goes to
        ``log``, the milestones to ``progress``; failure raises with the step it failed in."""
        argv = ["vagrant", *args]
        lines: list[str] = []
        last_step = ""
        log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with log.open("w") as sink:
                for line in self._lines(argv, timeout, lines):
                    sink.write(line + "\n")
                    sink.flush()
                    said = milestone(line)
                    if said is not None:
                        progress(said)
                        if _STEP_LINE.match(line):
                            last_step = said
        except _Failed as failed:
            why = closing_error(lines) or (lines[-1].strip() if lines else "no output")
            during = f" during {last_step!r}" if last_step else ""
            raise VagrantError(f"{shlex.join(argv)} failed ({failed}){during}: {why}; "
                               f"full output in {log}") from None

    def _lines(self, argv: list[str], timeout: float, seen: list[str]) -> Iterator[str]:
        try:
            process = subprocess.Popen(argv, cwd=self.project, env=self._env(),
                                       encoding="utf-8", errors="replace",
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except FileNotFoundError:
            raise VagrantError(f"vagrant: program not found on this machine; {INSTALL_HINT}"
                               ) from None
        except OSError as err:
            raise VagrantError(f"vagrant: cannot run it: {err.strerror}") from None
        assert process.stdout is not None
        # Reading blocks until vagrant ends or closes its output: a timer ends a hung one.
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            process.kill()

        watchdog = threading.Timer(timeout, expire)
        watchdog.start()
        try:
            with process:
                for raw in process.stdout:
                    line = raw.rstrip("\n")
                    seen.append(line)
                    yield line
        finally:
            watchdog.cancel()
        if expired.is_set():
            raise _Failed(f"no end within {timeout:g} s")
        if process.returncode != 0:
            raise _Failed(f"exit {process.returncode}")


class _Failed(Exception):
    pass
