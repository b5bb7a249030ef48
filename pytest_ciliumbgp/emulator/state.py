"""The lab's state directory: what the lab made (namespaces, processes), saved as it makes it,
so that ``down`` can remove all of it, even after a crash or a signal in the middle of ``up``."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_ciliumbgp.emulator.processes import LabProcess

DEFAULT_STATE_ROOT = Path("/run/cbgp-lab")


def state_root() -> Path:
    return Path(os.environ.get("CBGP_STATE_DIR") or DEFAULT_STATE_ROOT)


@dataclass
class LabState:
    lab_id: str
    inventory_path: str
    inventory_digest: str
    phase: str = "starting"
    started_at: float = 0.0
    namespaces: list[str] = field(default_factory=list)
    processes: list[LabProcess] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lab_id": self.lab_id,
            "inventory_path": self.inventory_path,
            "inventory_digest": self.inventory_digest,
            "phase": self.phase,
            "started_at": self.started_at,
            "namespaces": self.namespaces,
            "processes": [p.as_dict() for p in self.processes],
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> LabState:
        return cls(
            lab_id=str(doc["lab_id"]),
            inventory_path=str(doc["inventory_path"]),
            inventory_digest=str(doc["inventory_digest"]),
            phase=str(doc.get("phase", "starting")),
            started_at=float(doc.get("started_at", 0.0)),
            namespaces=[str(n) for n in doc.get("namespaces", [])],
            processes=[LabProcess.from_dict(p) for p in doc.get("processes", [])],
        )


class StateDir:
    """``<root>/<lab_id>/``: state.json, daemon configs and logs; a lock file beside it."""

    def __init__(self, lab_id: str, root: Path | None = None) -> None:
        self.root = root or state_root()
        self.path = self.root / lab_id
        self.file = self.path / "state.json"

    def load(self) -> LabState | None:
        try:
            return LabState.from_dict(json.loads(self.file.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # A state file cut short by a crash still means a lab may be left: treat it as stale.
            return LabState(lab_id=self.path.name, inventory_path="?", inventory_digest="?")

    def save(self, state: LabState) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        partial = self.file.with_suffix(".tmp")
        partial.write_text(json.dumps(state.as_dict(), indent=2))
        partial.replace(self.file)

    def forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.file.unlink()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise up/down of one lab between processes (CLI, pytest, xdist workers)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / f"{self.path.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
