"""A transport that answers from a table, for reading a router without one."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_ciliumbgp.transport import CommandResult, Transport, TransportError


class ScriptedTransport(Transport):
    """Answers commands from a table (argv → stdout); anything else exits 1. ``down`` makes
    every command fail the way an unreachable host does. ``ran`` lists what was asked."""

    scheme = "scripted"

    def __init__(self, answers: dict[tuple[str, ...], str], *, down: bool = False) -> None:
        self.answers = answers
        self.down = down
        self.ran: list[tuple[str, ...]] = []

    def run(self, command: Sequence[str], *, input: str | None = None,
            timeout: float = 60.0) -> CommandResult:
        argv = tuple(command)
        self.ran.append(argv)
        if self.down:
            raise TransportError(f"{argv[0]}: no answer within {timeout:g} s")
        if argv in self.answers:
            return CommandResult(argv, 0, self.answers[argv], "")
        return CommandResult(argv, 1, "", f"{argv[0]}: not scripted")
