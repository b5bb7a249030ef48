"""HTTP requests from a lab host to a Service, read as traefik/whoami answers them: which pod
answered (``Hostname``) and which source address it saw (``RemoteAddr``)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from pytest_ciliumbgp.transport import Transport, TransportError

#: curl prints the answer, then this marker and the local port it connected from
_MARKER = "\n--cbgp-local-port:"


class ProbeError(RuntimeError):
    """The request got no answer; the message says what curl saw."""


@dataclass(frozen=True)
class WhoamiAnswer:
    hostname: str
    remote_ip: str
    remote_port: int
    local_port: int
    text: str

    @classmethod
    def parse(cls, text: str, local_port: int) -> WhoamiAnswer:
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, colon, value = line.partition(":")
            if colon and key in ("Hostname", "RemoteAddr") and key not in fields:
                fields[key] = value.strip()
        if "Hostname" not in fields or "RemoteAddr" not in fields:
            raise ProbeError(f"not a whoami answer: {text[:200]!r}")
        ip, _, port = fields["RemoteAddr"].rpartition(":")
        return cls(fields["Hostname"], ip.strip("[]"), int(port), local_port, text)


def http_get(transport: Transport, address: str, port: int = 80, *, path: str = "/",
             timeout: float = 3.0, local_port: int | None = None) -> WhoamiAnswer:
    """One GET from the host behind ``transport`` (curl there); ``local_port`` pins the source
    port, so that the flow (and the router's ECMP choice) is known."""
    argv = ["curl", "-sS", "--max-time", f"{timeout:g}", "-w", _MARKER + "%{local_port}"]
    if local_port is not None:
        argv += ["--local-port", str(local_port)]
    argv.append(f"http://{address}:{port}{path}")
    try:
        result = transport.run(argv, timeout=timeout + 5)
    except TransportError as err:
        raise ProbeError(f"{shlex.join(argv)}: {err}") from None
    body, _, port_text = result.stdout.rpartition(_MARKER)
    if result.rc != 0 or not body:
        problem = result.stderr.strip() or f"curl exit {result.rc}"
        raise ProbeError(f"GET http://{address}:{port}{path}: {problem}")
    return WhoamiAnswer.parse(body, int(port_text.strip() or 0))


def set_health(transport: Transport, pod_ip: str, code: int, port: int = 80) -> None:
    """``POST /health`` with ``code``: whoami answers /health with it from then on, which makes
    a readiness probe on /health fail (or pass again)."""
    argv = ["curl", "-sS", "--max-time", "3", "-X", "POST", "--data", str(code),
            f"http://{pod_ip}:{port}/health"]
    result = transport.run(argv, timeout=8)
    if result.rc != 0:
        raise ProbeError(f"POST http://{pod_ip}:{port}/health {code}: "
                         f"{result.stderr.strip() or f'curl exit {result.rc}'}")
