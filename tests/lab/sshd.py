"""An sshd of a test's own inside a lab host's network namespace, reached the way a user reaches
a router behind a jump host: an ssh ``ProxyCommand``.

Everything lives in the test's directory: host key, client key, authorized_keys, known_hosts,
sshd_config, sshd's log, and an audit log of every command a client asked for (a
``ForceCommand`` records ``$SSH_ORIGINAL_COMMAND`` and then runs it with ``/bin/sh``). sshd
listens on 127.0.0.1 of the namespace only, and the ProxyCommand relays to it from inside the
namespace, so no traffic leaves the lab. The sshd is stopped by its pid.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tenacity import retry, retry_if_result, stop_after_delay, wait_fixed

SSHD = Path("/usr/sbin/sshd")
RELAY = Path(__file__).with_name("ssh_relay.py")
#: sshd's privilege separation directory (Debian's service creates it at start; we start none)
PRIVSEP_DIR = Path("/run/sshd")
PORT = 2222
#: the python the lab host's probes run with: the system's, with Debian's python3-scapy
SYSTEM_PYTHON = "/usr/bin/python3"
LISTENING = "Server listening on 127.0.0.1 port"


def require_ssh() -> None:
    """Skip unless sshd, ssh, ssh-keygen and sudo are installed and the system python has
    scapy (the lab file says ``sudo: true``, as a real router's would)."""
    missing = [p for p in ("ssh", "ssh-keygen", "sudo") if shutil.which(p) is None]
    if not SSHD.exists():
        missing.append(str(SSHD))
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian/Ubuntu packages openssh-server, "
                    "openssh-client, sudo)")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import scapy"], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        pytest.skip(f"needs scapy for {SYSTEM_PYTHON} (Debian/Ubuntu package python3-scapy)")


@dataclass
class NamespaceSshd:
    """sshd in network namespace ``namespace`` on 127.0.0.1:``PORT``, files under ``workdir``."""

    namespace: str
    workdir: Path
    alias: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log(self) -> Path:
        return self.workdir / "sshd.log"

    @property
    def audit(self) -> Path:
        return self.workdir / "commands"

    @property
    def client_key(self) -> Path:
        return self.workdir / "client_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    def start(self) -> NamespaceSshd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        host_key = self.workdir / "host_ed25519"
        for key in (host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key.name,
                            "-f", str(key)], check=True, capture_output=True)
        (self.workdir / "authorized_keys").write_text(
            self.client_key.with_suffix(".pub").read_text())
        public = host_key.with_suffix(".pub").read_text().split()[:2]
        self.known_hosts.write_text(f"[{self.alias}]:{PORT} {' '.join(public)}\n")
        force = self.workdir / "audit.sh"
        force.write_text("#!/bin/sh\n"
                         f"printf '%s\\0' \"$SSH_ORIGINAL_COMMAND\" >> '{self.audit}'\n"
                         'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')
        force.chmod(0o755)
        config = self.workdir / "sshd_config"
        config.write_text("\n".join([
            f"Port {PORT}",
            "ListenAddress 127.0.0.1",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}",
            f"ForceCommand {force}",
            "PidFile none",
            "UsePAM no",
            "StrictModes no",  # the test's directory sits under a world-writable /tmp
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "LogLevel VERBOSE",
            "",
        ]))
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, str(SSHD), "-D", "-f", str(config),
             "-E", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_listening()
        return self

    @retry(retry=retry_if_result(lambda listening: not listening), stop=stop_after_delay(10),
           wait=wait_fixed(0.1), retry_error_callback=lambda state: False)
    def _listening(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            return False
        return self.log.exists() and LISTENING in self.log.read_text()

    def _wait_listening(self) -> None:
        if not self._listening():
            said = self.log.read_text().strip() if self.log.exists() else "no log"
            self.stop()
            raise RuntimeError(f"sshd in {self.namespace} did not start: {said}")

    def stop(self) -> None:
        """Stop the sshd this object started (by its pid); sessions it forked end with it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def reach(self) -> dict[str, Any]:
        """The inventory ``reach`` of a host behind this sshd: root over ssh, with sudo."""
        return {
            "via": "ssh",
            "target": self.alias,
            "user": "root",
            "port": PORT,
            "identity_file": self.client_key.name,  # relative: the lab file sits beside it
            "options": [
                f"ProxyCommand=ip netns exec {self.namespace} {SYSTEM_PYTHON} {RELAY} "
                "127.0.0.1 %p",
                f"UserKnownHostsFile={self.known_hosts}",
                "StrictHostKeyChecking=yes",
            ],
            "config_file": "/dev/null",  # nothing from ~/.ssh/config of whoever runs the test
            "sudo": True,
            "python": SYSTEM_PYTHON,
        }

    def commands(self) -> list[str]:
        """Every command a client ran through this sshd, as the client sent it."""
        if not self.audit.exists():
            return []
        return self.audit.read_text().split("\0")[:-1]

    def sessions(self) -> int:
        """Sessions sshd accepted."""
        return self.log.read_text().count("Accepted publickey for root")

