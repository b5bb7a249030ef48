"""The project's own tests: pytester for the plugin's tests, and lab tests run after the others."""

from __future__ import annotations

from pathlib import Path

# Imported here, before any test runs: pytester's in-process runs put sys.modules back as they
# found it, so a matplotlib first imported inside one (by the chart code of a suite run) would
# be imported again afterwards, half new, and its classes would no longer match their instances.
import matplotlib.figure  # noqa: F401
import pytest

pytest_plugins = ["pytester", "tests.apiserver"]

_LAB_TESTS = Path(__file__).parent / "lab"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests under tests/lab need the embedded lab; they are marked by where they live and run
    # last, so a fast failure shows up before the slow ones start.
    for item in items:
        if item.path.is_relative_to(_LAB_TESTS):
            item.add_marker(pytest.mark.lab)
    items.sort(key=lambda item: item.get_closest_marker("lab") is not None)
