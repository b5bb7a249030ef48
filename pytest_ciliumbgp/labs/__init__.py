"""Lab registry: lab name -> lazily imported class, in the manner of testinfra's backends."""

from __future__ import annotations

import importlib
from pathlib import Path

from pytest_ciliumbgp.labs.base import Lab, LabError

LABS: dict[str, str] = {
    "netns": "pytest_ciliumbgp.labs.netns:NetnsLab",
    "existing": "pytest_ciliumbgp.labs.existing:ExistingLab",
    "kind": "pytest_ciliumbgp.labs.kind:KindLab",
    "vagrant": "pytest_ciliumbgp.labs.vagrant:VagrantLab",
}

_PACKAGED_INVENTORIES = Path(__file__).parent / "data"


class UnknownLabError(LabError):
    pass


def known_labs() -> list[str]:
    return sorted(LABS)


def lab_class(name: str) -> type[Lab]:
    """Import and return the class registered for ``name``."""
    try:
        module_name, class_name = LABS[name].split(":")
    except KeyError:
        raise UnknownLabError(
            f"unknown lab {name!r}; known labs: {', '.join(known_labs())}"
        ) from None
    cls: type[Lab] = getattr(importlib.import_module(module_name), class_name)
    return cls


def default_inventory(name: str) -> Path | None:
    """The inventory shipped for lab ``name``, if the project ships one."""
    path = _PACKAGED_INVENTORIES / f"{name}.yaml"
    return path if path.exists() else None


__all__ = [
    "LABS",
    "Lab",
    "LabError",
    "UnknownLabError",
    "default_inventory",
    "known_labs",
    "lab_class",
]
