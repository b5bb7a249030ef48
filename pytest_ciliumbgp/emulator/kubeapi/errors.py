"""API errors, answered as ``kind: Status`` objects the way kube-apiserver answers them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One cause of an Invalid answer: ``field`` is the path (``spec.blocks[0].cidr``),
    ``type`` the reason (``FieldValueRequired``, ``FieldValueInvalid``,
    ``FieldValueNotSupported``, ``FieldValueTypeInvalid``, ``FieldValueForbidden``…)."""

    field: str
    type: str
    message: str


@dataclass
class ApiError(Exception):
    """An error answer: HTTP ``code``, Status ``reason`` and a message; Invalid carries causes."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    causes: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        details = dict(self.details)
        if self.causes:
            details["causes"] = [
                {"reason": c.type, "message": c.message, "field": c.field} for c in self.causes
            ]
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if details:
            body["details"] = details
        return body


def invalid(kind: str, name: str, group: str, causes: list[FieldError]) -> ApiError:
    """422 Invalid, with the message kube-apiserver writes: ``Kind "name" is invalid: …``."""
    listed = ", ".join(f"{c.field}: {c.message}" for c in causes)
    return ApiError(
        422, "Invalid", f'{kind} "{name}" is invalid: {listed}',
        details={"name": name, "group": group, "kind": kind}, causes=causes,
    )
