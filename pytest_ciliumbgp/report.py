"""Allure steps and attachments for the suite.

allure-pytest records them only when pytest runs with ``--alluredir``; otherwise both calls do
nothing, so tests and fixtures call them unconditionally.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import allure
import yaml


def attach_text(name: str, body: str) -> None:
    """Attach ``body`` as a plain-text file named ``name`` to the current test or step."""
    allure.attach(body, name=name, attachment_type=allure.attachment_type.TEXT)


def step(title: str) -> AbstractContextManager[object]:
    """A named step of the current test, e.g. ``with step(f"Apply Service {name}"): ...``."""
    context: AbstractContextManager[object] = allure.step(title)
    return context


def attach_yaml(name: str, documents: Sequence[Any]) -> None:
    """Attach ``documents`` as one multi-document YAML file (e.g. the manifests a test applied)."""
    body = yaml.safe_dump_all(list(documents), sort_keys=False)
    allure.attach(body, name=name, attachment_type=allure.attachment_type.YAML)


def attach_json(name: str, document: Any) -> None:
    """Attach ``document`` as indented JSON (e.g. ``vtysh ... json`` at the moment of a check)."""
    allure.attach(json.dumps(document, indent=2, sort_keys=True, default=str), name=name,
                  attachment_type=allure.attachment_type.JSON)
