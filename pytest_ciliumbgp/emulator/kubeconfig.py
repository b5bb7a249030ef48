"""The kubeconfig ``cbgp-lab up`` writes for the lab's API: server URL and bearer token."""

from __future__ import annotations

import os
from pathlib import Path

import yaml


def render(server_url: str, token: str, lab_id: str) -> str:
    context = f"{lab_id}-lab"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server_url}}],
        "users": [{"name": f"{lab_id}-admin", "user": {"token": token}}],
        "contexts": [
            {"name": context, "context": {"cluster": context, "user": f"{lab_id}-admin"}}
        ],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(document, sort_keys=False)


def write(path: Path, server_url: str, token: str, lab_id: str) -> None:
    """Write atomically and readable by the owner only: the file holds the lab's token."""
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(render(server_url, token, lab_id))
    partial.replace(path)
