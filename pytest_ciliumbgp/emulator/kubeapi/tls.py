"""A self-signed serving certificate for the API server. kubectl (client-go) sends bearer tokens
only over TLS, so the lab serves HTTPS and puts this certificate in the kubeconfig as the CA."""

from __future__ import annotations

import base64
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServingCertificate:
    certificate: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, self.key)
        return context

    def authority_data(self) -> str:
        """The certificate as kubeconfig's ``certificate-authority-data`` (base64 PEM)."""
        return base64.b64encode(self.certificate.read_bytes()).decode()


def self_signed(directory: Path, host: str = "127.0.0.1") -> ServingCertificate:
    """Create (with the ``openssl`` command) a 10-year EC certificate valid for ``host`` and
    localhost, written as ``apiserver.crt`` / ``apiserver.key`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / "apiserver.crt", directory / "apiserver.key"
    names = f"IP:{host},DNS:localhost" if host[0].isdigit() else f"DNS:{host},DNS:localhost"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "3650", "-subj", "/CN=cbgp-lab-apiserver",
         "-addext", f"subjectAltName={names}", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )
    key.chmod(0o600)
    return ServingCertificate(certificate, key)


def kubeconfig(url: str, token: str, authority_data: str | None, name: str = "cbgp-lab") -> str:
    """A kubeconfig (YAML text) for ``url`` with a bearer token; TLS verified against
    ``authority_data`` when given."""
    trust = (f"certificate-authority-data: {authority_data}" if authority_data
             else "insecure-skip-tls-verify: true")
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {name}\n  cluster:\n    server: {url}\n    {trust}\n"
        f"users:\n- name: {name}\n  user:\n    token: {token}\n"
        f"contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
        f"current-context: {name}\n"
    )
