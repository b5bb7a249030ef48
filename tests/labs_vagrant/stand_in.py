"""Stand-in for the ``vagrant`` and ``ssh`` clients (this file, installed under both names on
PATH): it records each call and answers with the recorded outputs in tests/data/vagrant.

Everything lives in the directory named by ``CBGP_STAND_IN_DIR``: ``answers.json`` says what to
answer (rules per program, first match wins), ``calls.jsonl`` gets one line per call: program,
arguments, working directory and ``VAGRANT_CWD``. A rule answers with its ``answers`` in turn,
the last one again once they run out; an answer is ``stdout`` (text) or ``stdout_file`` (a file
of tests/data/vagrant), ``stderr``, ``rc`` and ``sleep`` (seconds before answering).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HOME_ENV = "CBGP_STAND_IN_DIR"
#: Where ``stdout_file`` answers are read from (the stand-in runs as a copy, elsewhere).
DATA_ENV = "CBGP_STAND_IN_DATA"
DATA = Path(__file__).resolve().parents[1] / "data" / "vagrant"


def matches(rule: dict[str, Any], args: list[str]) -> bool:
    if "args" in rule:  # vagrant: the arguments start with these
        prefix: list[str] = rule["args"]
        return args[: len(prefix)] == prefix
    # ssh: ``... HOST -- REMOTE``; the rule names the host and a piece of the remote command
    split = args.index("--")
    host: str = rule["host"]
    command: str = rule["command"]
    return args[split - 1] == host and command in args[split + 1]


def answer(home: Path, index: int, rule: dict[str, Any]) -> dict[str, Any]:
    counter = home / f"rule-{index}.count"
    count = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(count + 1))
    answers: list[dict[str, Any]] = rule["answers"]
    return answers[min(count, len(answers) - 1)]


def main() -> int:
    home = Path(os.environ[HOME_ENV])
    program = Path(sys.argv[0]).name
    args = sys.argv[1:]
    call = {"program": program, "args": args, "cwd": os.getcwd(),
            "vagrant_cwd": os.environ.get("VAGRANT_CWD")}
    with (home / "calls.jsonl").open("a") as log:
        log.write(json.dumps(call) + "\n")
    rules = json.loads((home / "answers.json").read_text()).get(program, [])
    for index, rule in enumerate(rules):
        if matches(rule, args):
            given = answer(home, index if program == "vagrant" else 1000 + index, rule)
            time.sleep(given.get("sleep", 0))
            if "stdout_file" in given:
                data = Path(os.environ.get(DATA_ENV, DATA))
                sys.stdout.write((data / given["stdout_file"]).read_text())
            sys.stdout.write(given.get("stdout", ""))
            sys.stderr.write(given.get("stderr", ""))
            return int(given.get("rc", 0))
    sys.stderr.write(f"stand-in {program}: no answer for {args}\n")
    return 97


if __name__ == "__main__":
    sys.exit(main())
