"""Fault switches: parsing from the command line and the ConfigMap, arguments, and the list."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.emulator import faults as names
from pytest_ciliumbgp.emulator.faults import CATALOGUE, FaultError, Faults, describe


def test_parse_names_and_arguments_with_defaults() -> None:
    parsed = Faults.parse(["snat-under-local", "delay-announcements=3", "wrong-prefix-length"])
    assert dict(parsed) == {"snat-under-local": "", "delay-announcements": "3",
                            "wrong-prefix-length": "24"}
    assert parsed.number(names.DELAY_ANNOUNCEMENTS) == 3
    assert parsed.as_switches() == ["delay-announcements=3", "snat-under-local",
                                    "wrong-prefix-length=24"]


@pytest.mark.parametrize(("switch", "message"), [
    ("no-such-fault", "unknown fault 'no-such-fault'"),
    ("snat-under-local=1", "takes no argument"),
    ("delay-announcements=soon", "needs a number"),
    ("delay-announcements=-1", "must not be negative"),
])
def test_bad_switches_are_one_clear_error(switch: str, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        Faults.parse([switch])


def test_configmap_data_and_merge() -> None:
    at_start = Faults.parse(["snat-under-local"])
    from_map = Faults.from_configmap({"data": {"delay-announcements": "2"}})
    assert dict(at_start.merged(from_map)) == {"snat-under-local": "",
                                               "delay-announcements": "2"}
    assert Faults.from_configmap(None) == Faults()


def test_every_fault_is_described_once() -> None:
    lines = describe()
    assert len(lines) == len(CATALOGUE) >= 14
    assert all(any(line.startswith(name) for line in lines) for name in CATALOGUE)
