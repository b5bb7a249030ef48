"""Run a command on a lab host: locally, inside a network namespace, over ssh, by docker exec or
by vagrant ssh.

Commands are argument lists. Transports that must hand the remote side one string (ssh, vagrant)
quote every argument with :func:`shlex.join`, so no user input is ever interpreted by a shell.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


class TransportError(RuntimeError):
    """The transport itself failed (program missing, timeout), not the command it ran."""


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def check(self) -> CommandResult:
        """Return self when the command succeeded, else raise with its stderr in one line."""
        if self.rc != 0:
            detail = (self.stderr or self.stdout).strip().splitlines()
            last = detail[-1] if detail else "no output"
            raise TransportError(f"{shlex.join(self.argv)} exited {self.rc}: {last}")
        return self


class Transport:
    """Base: subclasses say how a command becomes a local argv in :meth:`wrap`."""

    scheme: ClassVar[str] = "local"

    def wrap(self, command: Sequence[str]) -> list[str]:
        return list(command)

    def workdir(self) -> str | None:
        """Directory to run the local side in (vagrant needs its project directory)."""
        return None

    def run(
        self, command: Sequence[str], *, input: str | None = None, timeout: float = 60.0
    ) -> CommandResult:
        argv = self.wrap(command)
        try:
            done = subprocess.run(
                argv,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                cwd=self.workdir(),
            )
        except FileNotFoundError as err:
            if err.filename is not None and err.filename == self.workdir():
                raise TransportError(f"{err.filename}: no such directory for {argv[0]}") from None
            raise TransportError(f"{argv[0]}: program not found on this machine") from None
        except OSError as err:
            raise TransportError(f"{argv[0]}: cannot run it: {err.strerror}") from None
        except subprocess.TimeoutExpired:
            raise TransportError(f"{shlex.join(argv)}: no answer within {timeout:g} s") from None
        return CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr)

    def check_output(self, command: Sequence[str], *, timeout: float = 60.0) -> str:
        return self.run(command, timeout=timeout).check().stdout

    def __str__(self) -> str:
        return f"{self.scheme}://"


class LocalTransport(Transport):
    scheme = "local"


@dataclass(frozen=True)
class NetnsTransport(Transport):
    namespace: str
    scheme: ClassVar[str] = "netns"

    def wrap(self, command: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *command]

    def __str__(self) -> str:
        return f"netns://{self.namespace}"


def _sudo(sudo: bool, command: Sequence[str]) -> list[str]:
    return ["sudo", "-n", *command] if sudo else list(command)


@dataclass(frozen=True)
class SshTransport(Transport):
    target: str
    port: int | None = None
    identity_file: str | None = None
    sudo: bool = False
    options: tuple[str, ...] = ()
    scheme: ClassVar[str] = "ssh"

    def wrap(self, command: Sequence[str]) -> list[str]:
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        for option in self.options:
            argv += ["-o", option]
        if self.port is not None:
            argv += ["-p", str(self.port)]
        if self.identity_file:
            argv += ["-i", self.identity_file]
        return [*argv, self.target, "--", shlex.join(_sudo(self.sudo, command))]

    def __str__(self) -> str:
        return f"ssh://{self.target}"


@dataclass(frozen=True)
class DockerTransport(Transport):
    container: str
    sudo: bool = False
    scheme: ClassVar[str] = "docker"

    def wrap(self, command: Sequence[str]) -> list[str]:
        return _sudo(self.sudo, ["docker", "exec", "-i", self.container, *command])

    def __str__(self) -> str:
        return f"docker://{self.container}"


@dataclass(frozen=True)
class VagrantTransport(Transport):
    machine: str
    cwd: str | None = None
    sudo: bool = True
    scheme: ClassVar[str] = "vagrant"

    def wrap(self, command: Sequence[str]) -> list[str]:
        return ["vagrant", "ssh", self.machine, "-c", shlex.join(_sudo(self.sudo, command))]

    def workdir(self) -> str | None:
        return self.cwd

    def __str__(self) -> str:
        return f"vagrant://{self.machine}"


def transport_for(
    via: str, settings: Mapping[str, Any], *, namespace: str | None = None
) -> Transport:
    """Build the transport an inventory ``reach`` entry describes.

    ``namespace`` is the lab's name for the host's network namespace; it is used when the
    entry says ``via: netns`` without naming one.
    """
    if via == "local":
        return LocalTransport()
    if via == "netns":
        name = settings.get("namespace") or namespace
        if not name:
            raise TransportError("netns transport needs a namespace name")
        return NetnsTransport(str(name))
    if via == "ssh":
        return SshTransport(
            target=str(settings["target"]),
            port=int(settings["port"]) if settings.get("port") else None,
            identity_file=settings.get("identity_file"),
            sudo=bool(settings.get("sudo", False)),
            options=tuple(settings.get("options", ())),
        )
    if via == "docker":
        return DockerTransport(str(settings["container"]), sudo=bool(settings.get("sudo", False)))
    if via == "vagrant":
        return VagrantTransport(
            str(settings["machine"]), cwd=settings.get("cwd"), sudo=bool(settings.get("sudo", True))
        )
    raise TransportError(f"unknown transport {via!r}")
