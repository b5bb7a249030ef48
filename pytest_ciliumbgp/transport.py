"""Run a command on a lab host: locally, inside a network namespace, over ssh, by docker exec or
by vagrant ssh.

Commands are argument lists. Transports that must hand the remote side one string (ssh, vagrant)
quote every argument with :func:`shlex.join`, so no user input is ever interpreted by a shell.

Hosts reached by ssh, docker or vagrant do not see this machine's files and have their own
python3: :mod:`pytest_ciliumbgp.probes` reads :attr:`Transport.shares_files` and
:attr:`Transport.python` to decide how a shipped probe script runs there.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

#: Arguments longer than this are cut in messages (a shipped probe's source is one argument).
SHOWN_ARGUMENT_CHARS = 120


def shown(argv: Sequence[str]) -> str:
    """``argv`` as one shell line for a message: each long argument cut to its start, and line
    breaks written as ``\\n`` so that the message stays one line."""
    line = shlex.join(
        arg if len(arg) <= SHOWN_ARGUMENT_CHARS else f"{arg[:SHOWN_ARGUMENT_CHARS]}..."
        for arg in argv
    )
    return line.replace("\n", "\\n")


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
            raise TransportError(f"{shown(self.argv)} exited {self.rc}: {last}")
        return self


class Transport:
    """Base: subclasses say how a command becomes a local argv in :meth:`wrap`."""

    scheme: ClassVar[str] = "local"
    #: Whether commands see this machine's files, so a shipped script can run in place.
    shares_files: ClassVar[bool] = False
    #: The host's Python, for shipped probe scripts when the host does not share our files.
    python: str = "python3"

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
            raise TransportError(f"{shown(argv)}: no answer within {timeout:g} s") from None
        return CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr)

    def check_output(self, command: Sequence[str], *, timeout: float = 60.0) -> str:
        return self.run(command, timeout=timeout).check().stdout

    def __str__(self) -> str:
        return f"{self.scheme}://"


class LocalTransport(Transport):
    scheme = "local"
    shares_files = True


@dataclass(frozen=True)
class NetnsTransport(Transport):
    namespace: str
    scheme: ClassVar[str] = "netns"
    shares_files: ClassVar[bool] = True

    def wrap(self, command: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *command]

    def __str__(self) -> str:
        return f"netns://{self.namespace}"


def _sudo(sudo: bool, command: Sequence[str]) -> list[str]:
    return ["sudo", "-n", *command] if sudo else list(command)


@dataclass(frozen=True)
class SshTransport(Transport):
    """OpenSSH's ``ssh`` client, never asking anything (``BatchMode``) and never waiting long.

    ``target`` is a host name, an address, ``user@host`` or a ``Host`` alias of the ssh config.
    ``options`` are ``Key=Value`` strings for ``-o`` (``ProxyJump=bastion``,
    ``StrictHostKeyChecking=yes``, ...). They come before ours because ssh keeps the first value
    it reads for each option, so a user's ``ConnectTimeout`` or ``BatchMode`` wins.
    """

    target: str
    port: int | None = None
    identity_file: str | None = None
    sudo: bool = False
    options: tuple[str, ...] = ()
    user: str | None = None
    config_file: str | None = None
    python: str = "python3"
    scheme: ClassVar[str] = "ssh"

    def wrap(self, command: Sequence[str]) -> list[str]:
        argv = ["ssh"]
        if self.config_file:
            argv += ["-F", self.config_file]
        for option in self.options:
            argv += ["-o", option]
        argv += ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
        if self.identity_file:
            # Only the key the inventory names: an agent full of keys would otherwise exhaust
            # the server's MaxAuthTries before it is offered.
            argv += ["-o", "IdentitiesOnly=yes", "-i", self.identity_file]
        if self.port is not None:
            argv += ["-p", str(self.port)]
        if self.user:
            argv += ["-l", self.user]
        return [*argv, self.target, "--", shlex.join(_sudo(self.sudo, command))]

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"ssh://{user}{self.target}{port}"


@dataclass(frozen=True)
class DockerTransport(Transport):
    container: str
    sudo: bool = False
    python: str = "python3"
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
    python: str = "python3"
    scheme: ClassVar[str] = "vagrant"

    def wrap(self, command: Sequence[str]) -> list[str]:
        return ["vagrant", "ssh", self.machine, "-c", shlex.join(_sudo(self.sudo, command))]

    def workdir(self) -> str | None:
        return self.cwd

    def __str__(self) -> str:
        return f"vagrant://{self.machine}"


def transport_for(
    via: str,
    settings: Mapping[str, Any],
    *,
    namespace: str | None = None,
    base: Path | None = None,
) -> Transport:
    """Build the transport an inventory ``reach`` entry describes.

    ``namespace`` is the lab's name for the host's network namespace; it is used when the
    entry says ``via: netns`` without naming one. ``base`` is the directory relative paths of
    this machine's files (``identity_file``, ``config_file``) are read from: the inventory's.
    """
    python = str(settings.get("python") or "python3")
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
            identity_file=_local_path(settings.get("identity_file"), base),
            sudo=bool(settings.get("sudo", False)),
            options=tuple(settings.get("options", ())),
            user=settings.get("user"),
            config_file=_local_path(settings.get("config_file"), base),
            python=python,
        )
    if via == "docker":
        return DockerTransport(
            str(settings["container"]), sudo=bool(settings.get("sudo", False)), python=python
        )
    if via == "vagrant":
        return VagrantTransport(
            str(settings["machine"]),
            cwd=settings.get("cwd"),
            sudo=bool(settings.get("sudo", True)),
            python=python,
        )
    raise TransportError(f"unknown transport {via!r}")


def _local_path(value: Any, base: Path | None) -> str | None:
    """A path on this machine as the inventory wrote it: ``~`` expanded, relative to ``base``.

    The ssh client is run without a shell, so nobody else would expand ``~``.
    """
    if not value:
        return None
    path = Path(os.path.expanduser(str(value)))
    return str(base / path if base is not None and not path.is_absolute() else path)
