"""Fake ``docker``, ``kind``, ``helm`` and ``kubectl`` for the kind lab's tests.

Each is an executable first on PATH that logs its arguments (and its stdin, where a rule says it
reads one) and answers by the first rule that matches: a tool, a prefix of its arguments (``*``
matches any one argument), what to print and the exit code. A rule may answer only its first
``uses`` calls, so a test can say "absent at first, present once made". A call no rule matches
fails with exit 127, so a test never passes on a command it did not expect. The answers are the
files of ``tests/data/kind`` (see its README for where each comes from).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "kind"
FRR_DATA = Path(__file__).resolve().parents[1] / "data" / "frr"

_PROGRAM = r'''
import fcntl, json, sys

rules_path, log_path, tool, *args = sys.argv[1:]


def matches(rule):
    prefix = rule["args"]
    if rule["tool"] != tool or rule["uses"] == 0 or len(args) < len(prefix):
        return False
    return all(want in ("*", got) for want, got in zip(prefix, args))


with open(rules_path + ".lock", "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    with open(rules_path) as file:
        rules = json.load(file)
    rule = next((rule for rule in rules if matches(rule)), None)
    if rule is not None and rule["uses"] is not None:
        rule["uses"] -= 1
        with open(rules_path, "w") as file:
            json.dump(rules, file)
stdin = sys.stdin.read() if rule is not None and rule["stdin"] else None
with open(log_path, "a") as log:
    log.write(json.dumps({"tool": tool, "args": args, "stdin": stdin}) + "\n")
if rule is None:
    sys.stderr.write(f"fake {tool}: no rule for {args}\n")
    sys.exit(127)
sys.stdout.write(rule["stdout"])
sys.stderr.write(rule["stderr"])
sys.exit(rule["rc"])
'''


def data(name: str) -> str:
    return (DATA / name).read_text()


@dataclass(frozen=True)
class Call:
    tool: str
    args: tuple[str, ...]
    stdin: str | None

    def starts(self, tool: str, *args: str) -> bool:
        return self.tool == tool and self.args[: len(args)] == args


class FakeTools:
    """The fakes' directory (put first on PATH by the fixture), their rules and their log."""

    def __init__(self, directory: Path) -> None:
        self.bin = directory / "bin"
        self.bin.mkdir(parents=True)
        self.rules_path = directory / "rules.json"
        self.log_path = directory / "calls.jsonl"
        self.rules: list[dict[str, Any]] = []
        self._save()
        self.program = directory / "fake_tool.py"
        self.program.write_text(_PROGRAM)

    def install(self, *tools: str) -> None:
        for tool in tools:
            path = self.bin / tool
            path.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S -E "{self.program}" '
                            f'"{self.rules_path}" "{self.log_path}" {tool} "$@"\n')
            path.chmod(0o755)

    def on(self, tool: str, *args: str, stdout: str = "", stderr: str = "", rc: int = 0,
           uses: int | None = None, stdin: bool = False) -> None:
        """Answer ``tool args...`` (a prefix) like this, after the rules given before."""
        self.rules.append({"tool": tool, "args": list(args), "stdout": stdout,
                           "stderr": stderr, "rc": rc, "uses": uses, "stdin": stdin})
        self._save()

    def calls(self, tool: str | None = None) -> list[Call]:
        if not self.log_path.exists():
            return []
        logged = [json.loads(line) for line in self.log_path.read_text().splitlines()]
        return [Call(entry["tool"], tuple(entry["args"]), entry["stdin"]) for entry in logged
                if tool is None or entry["tool"] == tool]

    def path_with(self, *directories: str) -> str:
        """A PATH of the fakes first, then ``directories``."""
        return os.pathsep.join([str(self.bin), *directories])

    def _save(self) -> None:
        self.rules_path.write_text(json.dumps(self.rules))
