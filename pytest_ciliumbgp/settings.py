"""The plugin's settings: each read from the command line, the environment or the ini file, in
that order of precedence, remembering which one won so the report header can say so."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp import labs
from pytest_ciliumbgp.inventory import Inventory, InventoryError, load_inventory

DEFAULT_LAB = "netns"
#: Seconds the router may take to follow a change (the embedded lab converges in < 1 s).
DEFAULT_CONVERGENCE_BUDGET = 15.0
#: Connections that may break while the router's next hops change although their own next hop
#: stayed: none, since the node they reach still holds their conntrack entry.
DEFAULT_CONNECTION_BREAK_BUDGET = 0
#: Requests that may fail while Cilium agents restart or are upgraded: none, since graceful
#: restart keeps the router's paths and the datapath forwards while an agent is away.
DEFAULT_DISRUPTION_BUDGET = 0
#: A Cilium release as Helm charts and images name it: 1.18.3, v1.19.0-pre.2.
_CILIUM_VERSION = re.compile(r"v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?\Z")
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
CONNECTION_BREAK_BUDGET = Option(
    "cbgp_connection_break_budget", "--cbgp-connection-break-budget",
    "cbgp_connection_break_budget", "CBGP_CONNECTION_BREAK_BUDGET",
    f"long-lived connections that may break while the router's next hops change although "
    f"their own next hop did not (default: {DEFAULT_CONNECTION_BREAK_BUDGET})", metavar="COUNT")
DISRUPTION_BUDGET = Option(
    "cbgp_disruption_budget", "--cbgp-disruption-budget", "cbgp_disruption_budget",
    "CBGP_DISRUPTION_BUDGET",
    f"requests of a steady client that may fail while Cilium agents restart or are upgraded, "
    f"broken held connections included (default: {DEFAULT_DISRUPTION_BUDGET})",
    metavar="COUNT")
UPGRADE_TO = Option(
    "cbgp_upgrade_to", "--cbgp-upgrade-to", "cbgp_upgrade_to", "CBGP_UPGRADE_TO",
    "upgrade gate: run the suite, upgrade Cilium to VERSION (helm upgrade; the embedded lab "
    "rolls its agents) under a steady client, run the suite again", metavar="VERSION")
OPTIONS = (LAB, LAB_FILE, KEEP_LAB, CONVERGENCE_BUDGET, CONNECTION_BREAK_BUDGET,
           DISRUPTION_BUDGET, UPGRADE_TO)


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
    #: connections (an int) on an unchanged next hop that may break under next-hop churn
    connection_break_budget: Value
    #: Identifies this run across xdist workers (and, later, on the objects it makes).
    run_id: str
    #: failed requests (an int) an agent restart or upgrade may cost
    disruption_budget: Value = Value(DEFAULT_DISRUPTION_BUDGET, "default")
    #: the Cilium version the upgrade gate upgrades to (None: no gate)
    upgrade_to: Value = Value(None, "default")

    def header(self) -> list[str]:
        lines = [
            f"cbgp lab: {self.lab.value} ({self.lab.origin})",
            f"cbgp inventory: {self.lab_file.value} ({self.lab_file.origin})",
            f"cbgp keep lab: {'yes' if self.keep_lab.value else 'no'} ({self.keep_lab.origin})",
            f"cbgp convergence budget: {self.convergence_budget.value:g} s "
            f"({self.convergence_budget.origin})",
            f"cbgp connection break budget: {_connections(self.connection_break_budget.value)} "
            f"on an unchanged next hop ({self.connection_break_budget.origin})",
            f"cbgp disruption budget: {self.disruption_budget.value} failed requests "
            f"({self.disruption_budget.origin})",
        ]
        lines.insert(2, f"cbgp target: {self.target()}")
        if self.upgrade_to.value is not None:
            lines.append(f"cbgp upgrade gate: to Cilium {self.upgrade_to.value} "
                         f"({self.upgrade_to.origin})")
        if self.lab_class.emulated:
            parts = self.lab_class.emulated
            verb = "is" if len(parts) == 1 else "are"
            lines.append(f"cbgp: {_and(parts)} {verb} emulated in this lab")
        return lines


    def target(self) -> str:
        """The lab's own one-line account of what it would connect to (no command runs)."""
        try:
            return self.lab_class(self.inventory).describe()
        except (labs.LabError, ValueError) as err:
            return f"not described ({err})"


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
    breaks = _pick(config, CONNECTION_BREAK_BUDGET, DEFAULT_CONNECTION_BREAK_BUDGET)
    disruption = _pick(config, DISRUPTION_BUDGET, DEFAULT_DISRUPTION_BUDGET)
    upgrade = _pick(config, UPGRADE_TO, None)
    return Settings(lab, lab_class, lab_file, inventory, Value(_flag(keep), keep.source),
                    Value(_seconds(budget), budget.source),
                    Value(_count(breaks), breaks.source), run_id,
                    disruption_budget=Value(_failed_requests(disruption), disruption.source),
                    upgrade_to=Value(_cilium_version(upgrade), upgrade.source))


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


def _count(value: Value) -> int:
    text = str(value.value).strip()
    if not (text.isascii() and text.isdigit()):  # digits only: no sign, no fraction
        raise pytest.UsageError(
            f"{value.source}: expected a whole number of connections (0 or more), "
            f"got {value.value!r}")
    return int(text)


def _failed_requests(value: Value) -> int:
    text = str(value.value).strip()
    if not (text.isascii() and text.isdigit()):
        raise pytest.UsageError(
            f"{value.source}: expected a whole number of failed requests (0 or more), "
            f"got {value.value!r}")
    return int(text)


def _cilium_version(value: Value) -> str | None:
    if value.value is None:
        return None
    text = str(value.value).strip()
    if not _CILIUM_VERSION.match(text):
        raise pytest.UsageError(
            f"{value.source}: expected a Cilium version such as 1.18.3, got {value.value!r}")
    return text.removeprefix("v")


def _connections(count: int) -> str:
    return f"{count} connection" if count == 1 else f"{count} connections"


def _and(parts: tuple[str, ...]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"

