"""The lab registry: every entry imports to a concrete Lab, unknown names are refused with the
list of known ones, and nothing is imported before a lab is asked for."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_ciliumbgp.inventory import load_inventory
from pytest_ciliumbgp.labs import (
    LABS,
    Lab,
    LabError,
    UnknownLabError,
    default_inventory,
    known_labs,
    lab_class,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(LABS))
def test_every_registered_lab_imports(name: str) -> None:
    cls = lab_class(name)
    assert issubclass(cls, Lab)
    assert not inspect.isabstract(cls), f"{LABS[name]} leaves abstract methods unimplemented"
    assert cls.name == name, f"{LABS[name]} calls itself {cls.name!r}, the registry {name!r}"


def test_unknown_lab_lists_the_known_ones() -> None:
    with pytest.raises(UnknownLabError) as caught:
        lab_class("bogus")
    assert str(caught.value) == "unknown lab 'bogus'; known labs: existing, kind, netns, vagrant"
    assert isinstance(caught.value, LabError)


def test_known_labs_are_sorted_registry_names() -> None:
    assert known_labs() == sorted(LABS)
    assert {"netns", "existing", "kind", "vagrant"} <= set(LABS)


def test_registry_imports_no_lab_until_asked() -> None:
    probe = (
        "import sys, pytest_ciliumbgp.labs as labs\n"
        "print(sorted(m for m in sys.modules if m.startswith('pytest_ciliumbgp.labs.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "['pytest_ciliumbgp.labs.base']"


def test_netns_ships_the_reference_inventory() -> None:
    shipped = default_inventory("netns")
    assert shipped is not None
    assert shipped.read_text() == (ROOT / "lab" / "netns" / "inventory.yaml").read_text()
    assert [n.name for n in load_inventory(shipped).nodes] == ["k8s-ctr", "k8s-w1", "k8s-w0"]
    assert default_inventory("bogus") is None
