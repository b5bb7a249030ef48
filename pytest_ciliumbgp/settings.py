"""The plugin's settings: each read from the command line, the environment or the ini file, in
that order of precedence, remembering which one won so the report header can say so."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp import labs
from pytest_ciliumbgp.inventory import Inventory, InventoryError, load_inventory

DEFAULT_LAB = "netns"
#: Seconds the router may take to follow a change (the embedded lab converges in < 1 s).
DEFAULT_CONVERGENCE_BUDGET = 15.0
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Option:
    """One setting and the three places it can be given."""

    dest: str
    flag: str
    ini: str
    env: str
    help: str
    #: what the value is, in ``--help`` (default: the flag's name)
    metavar: str = ""


LAB = Option("cbgp_lab", "--lab", "cbgp_lab", "CBGP_LAB",
             f"lab to run against, by name (default: {DEFAULT_LAB}; known: "
             f"{', '.join(labs.known_labs())})")
LAB_FILE = Option("cbgp_lab_file", "--lab-file", "cbgp_lab_file", "CBGP_LAB_FILE",
                  "inventory file of the lab (default: the one shipped for the lab)")
KEEP_LAB = Option("cbgp_keep_lab", "--keep-lab", "cbgp_keep_lab", "CBGP_KEEP_LAB",
                  "leave a lab this run started running at the end")
CONVERGENCE_BUDGET = Option(
    "cbgp_convergence_budget", "--cbgp-convergence-budget", "cbgp_convergence_budget",
    "CBGP_CONVERGENCE_BUDGET",
    f"seconds the router may take to follow a change before a check fails (default: "
    f"{DEFAULT_CONVERGENCE_BUDGET:g})", metavar="SECONDS")
OPTIONS = (LAB, LAB_FILE, KEEP_LAB, CONVERGENCE_BUDGET)


@dataclass(frozen=True)
class Value:
    """A resolved setting and where it came from: ``--lab``, ``env CBGP_LAB``, ``ini cbgp_lab``
    or ``default``."""

    value: Any
    source: str

    @property
    def origin(self) -> str:
        given = self.source.startswith(("--", "env ", "ini "))
        return f"from {self.source}" if given else self.source


@dataclass(frozen=True)
class Settings:
    """What this run was asked to do, resolved once in ``pytest_configure``."""

    lab: Value
    lab_class: type[labs.Lab]
    lab_file: Value
    inventory: Inventory
    keep_lab: Value
    #: seconds (a float) the router may take to follow a change
    convergence_budget: Value
    #: Identifies this run across xdist workers (and, later, on the objects it makes).
    run_id: str

    def header(self) -> list[str]:
        lines = [
            f"cbgp lab: {self.lab.value} ({self.lab.origin})",
            f"cbgp inventory: {self.lab_file.value} ({self.lab_file.origin})",
            f"cbgp keep lab: {'yes' if self.keep_lab.value else 'no'} ({self.keep_lab.origin})",
            f"cbgp convergence budget: {self.convergence_budget.value:g} s "
            f"({self.convergence_budget.origin})",
        ]
        if self.lab_class.emulated:
            parts = self.lab_class.emulated
            verb = "is" if len(parts) == 1 else "are"
            lines.append(f"cbgp: {_and(parts)} {verb} emulated in this lab")
        return lines


SETTINGS_KEY = pytest.StashKey[Settings]()
#: Where this run's lab lock and "started by" marker live; set once the lab was asked to run.
RUN_DIR_KEY = pytest.StashKey[Path]()
#: The lab object the session used, so that the end of the session stops that very object.
LAB_KEY = pytest.StashKey[labs.Lab]()
#: Keys of ``workerinput`` (controller to worker) and ``workeroutput`` (worker to controller).
WORKER_RUN_ID = "cbgp_run_id"
WORKER_RUN_DIR = "cbgp_run_dir"
WORKER_LAB_ERROR = "cbgp_lab_error"
#: Why a worker could not use the lab; the controller ends the run with it.
LAB_ERROR_KEY = pytest.StashKey[str]()


def resolve(config: pytest.Config, run_id: str) -> Settings:
    """Read every setting; raise :class:`pytest.UsageError` (one line) on a bad one."""
    lab = _pick(config, LAB, DEFAULT_LAB)
    try:
        lab_class = labs.lab_class(lab.value)
    except labs.UnknownLabError as err:
        raise pytest.UsageError(str(err)) from None
    except ImportError as err:
        raise pytest.UsageError(f"lab {lab.value!r} cannot be loaded: {err}") from None
    lab_file = _lab_file(config, lab.value)
    try:
        inventory = load_inventory(lab_file.value)
    except InventoryError as err:
        raise pytest.UsageError(str(err)) from None
    keep = _pick(config, KEEP_LAB, False)
    budget = _pick(config, CONVERGENCE_BUDGET, DEFAULT_CONVERGENCE_BUDGET)
    return Settings(lab, lab_class, lab_file, inventory, Value(_flag(keep), keep.source),
                    Value(_seconds(budget), budget.source), run_id)


def _pick(config: pytest.Config, option: Option, default: Any) -> Value:
    given = config.getoption(option.dest)
    if given is not None:
        return Value(given, option.flag)
    if option.env in os.environ:
        return Value(os.environ[option.env], f"env {option.env}")
    from_ini = config.getini(option.ini)
    # Older pytest returns "" or [] for an unset ini value even when the default is None.
    if from_ini not in (None, "", []):
        return Value(from_ini, f"ini {option.ini}")
    return Value(default, "default")


def _lab_file(config: pytest.Config, lab: str) -> Value:
    picked = _pick(config, LAB_FILE, None)
    if picked.source == "default":
        shipped = labs.default_inventory(lab)
        if shipped is None:
            raise pytest.UsageError(
                f"lab {lab!r} has no inventory of its own; pass --lab-file PATH "
                f"(or set {LAB_FILE.env} or ini {LAB_FILE.ini})"
            )
        return Value(shipped.resolve(), f"default for lab {lab}")
    # Relative paths mean: from where pytest was started, or from the ini file's directory.
    base = config.invocation_params.dir
    if picked.source.startswith("ini") and config.inipath is not None:
        base = config.inipath.parent
    return Value((base / Path(str(picked.value))).resolve(), picked.source)


def _flag(value: Value) -> bool:
    if isinstance(value.value, bool):
        return value.value
    text = str(value.value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise pytest.UsageError(
        f"{value.source}: expected one of {'/'.join(_TRUE + _FALSE[:-1])}, got {value.value!r}"
    )


def _seconds(value: Value) -> float:
    try:
        seconds = float(value.value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise pytest.UsageError(
            f"{value.source}: expected a positive number of seconds, got {value.value!r}")
    return seconds


def _and(parts: tuple[str, ...]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"

