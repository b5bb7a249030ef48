"""The one error the Kubernetes library raises, and its timeout flavour."""

from __future__ import annotations


class KubeError(RuntimeError):
    """A Kubernetes call failed; the message says in one line which API server, what was asked
    and what happened. ``status`` is the HTTP status when the server answered (else None) and
    ``reason`` the Status reason (``NotFound``, ``AlreadyExists``, ``Invalid``…)."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"


class WaitTimeout(KubeError):
    """A wait gave up: ``description`` says what was awaited, ``last_state`` what was seen last."""

    def __init__(
        self, message: str, *, description: str, timeout: float, last_state: object
    ) -> None:
        super().__init__(message)
        self.description = description
        self.timeout = timeout
        self.last_state = last_state
