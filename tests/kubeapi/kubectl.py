"""Running kubectl against the test's server with the kubeconfig a user gets (tests that use it
are skipped without kubectl)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import Api

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH")


def kubectl(api: Api, *args: str, timeout: float = 20) -> str:
    """kubectl's stdout; fails the test with its stderr when it exits non-zero."""
    __tracebackhide__ = True
    assert KUBECTL is not None
    done = subprocess.run([KUBECTL, "--kubeconfig", str(api.kubeconfig), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout
