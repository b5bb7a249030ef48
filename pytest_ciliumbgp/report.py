"""Allure steps and attachments for the suite.

allure-pytest records them only when pytest runs with ``--alluredir``; otherwise both calls do
nothing, so tests and fixtures call them unconditionally.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import allure


def attach_text(name: str, body: str) -> None:
    """Attach ``body`` as a plain-text file named ``name`` to the current test or step."""
    allure.attach(body, name=name, attachment_type=allure.attachment_type.TEXT)


def step(title: str) -> AbstractContextManager[object]:
    """A named step of the current test, e.g. ``with step(f"Apply Service {name}"): ...``."""
    context: AbstractContextManager[object] = allure.step(title)
    return context
