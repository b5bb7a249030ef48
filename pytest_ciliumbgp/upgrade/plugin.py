"""The upgrade gate as one pytest run: ``pytest --cbgp-upgrade-to=VERSION suites/``.

With the option, every check is collected twice, ``[before-upgrade-...]`` and
``[after-upgrade-...]``, and the run goes: every check before the upgrade, then the check that
takes the :func:`cbgp_upgrade` fixture (``suites/test_upgrade.py``: it upgrades Cilium while a
steady client measures, and fails beyond ``--cbgp-disruption-budget``), then every check after
it; when the upgrade did not roll out, the checks after it skip. Allure tags each result with
its phase (``before-upgrade``, ``during``, ``after-upgrade``); the terminal summary shows
before / during / after. Without the option nothing changes and the upgrade check skips.

The phases depend on the order of one process, so the gate refuses xdist (``-n``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import allure
import pytest

from pytest_ciliumbgp.disruption.steady_client import Disruption
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.labs import Lab
from pytest_ciliumbgp.settings import DISRUPTION_BUDGET, SETTINGS_KEY, UPGRADE_TO

from .rollout import Upgrade, UpgradeError, upgrade

PHASE = "cbgp_upgrade_phase"
GATE = "cbgp_upgrade"
BEFORE = "before-upgrade"
AFTER = "after-upgrade"
DURING = "during"


@dataclass
class GateRecord:
    """What the run saw in each phase, for the summary."""

    version: str
    budget: int
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    phase_of: dict[str, str] = field(default_factory=dict)
    upgrade: Upgrade | None = None
    failure: str = ""
    disruption: Disruption | None = None


RECORD_KEY = pytest.StashKey[GateRecord]()


class UpgradeGate:
    """What the upgrade check works with: the version asked for, the upgrade itself, and
    where it leaves what it measured."""

    def __init__(self, record: GateRecord, lab: Lab, cluster: Cluster, timeout: float) -> None:
        self.record = record
        self.version = record.version
        self.lab = lab
        self.cluster = cluster
        self.timeout = timeout

    def run(self) -> Upgrade:
        """Upgrade Cilium and wait for the rollout; an upgrade that does not finish is
        recorded (the after-upgrade checks then skip) and raised."""
        try:
            done = upgrade(self.cluster, self.version, kubeconfig=self.lab.kubeconfig(),
                           timeout=self.timeout)
        except UpgradeError as error:
            self.record.failure = str(error)
            raise
        self.record.upgrade = done
        return done

    def measured(self, disruption: Disruption) -> None:
        self.record.disruption = disruption


class GateReport:
    """Registered while the gate runs: counts each phase's outcomes and writes the summary."""

    def __init__(self, record: GateRecord) -> None:
        self.record = record

    @pytest.hookimpl(trylast=True)  # inside allure's own setup, so its tag lands on the test
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Tag each check with its phase; after an upgrade that did not roll out, skip the
        checks of the after phase: they would test a half-upgraded cluster."""
        phase = self.record.phase_of.get(item.nodeid, BEFORE)
        allure.dynamic.tag(phase)  # type: ignore[no-untyped-call]
        if phase == AFTER and self.record.upgrade is None:
            why = self.record.failure or "the upgrade check did not run"
            pytest.skip(f"Cilium was not upgraded to {self.record.version}: {why}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.outcome != "passed":
            phase = self.record.phase_of.get(report.nodeid, BEFORE)
            self.record.outcomes.setdefault(phase, Counter())[report.outcome] += 1

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        record = self.record
        write = terminalreporter.write_line
        terminalreporter.section(f"cbgp upgrade gate: Cilium {record.version}")
        write(f"before: {_counts(record.outcomes.get(BEFORE))}")
        if record.upgrade is not None:
            write(f"during: {record.upgrade}")
        else:
            write(f"during: not upgraded ({record.failure or 'the upgrade check did not run'})")
        if record.disruption is not None:
            verdict = "within" if record.disruption.within(record.budget) else "OVER"
            write(f"during: steady client: {record.disruption.summary()}; {verdict} the budget "
                  f"of {record.budget} failed requests ({DISRUPTION_BUDGET.flag})")
        write(f"after: {_counts(record.outcomes.get(AFTER))}")


def _gate(config: pytest.Config) -> GateRecord | None:
    return config.stash.get(RECORD_KEY, None)


@pytest.hookimpl(trylast=True)  # after the plugin resolved the settings
def pytest_configure(config: pytest.Config) -> None:
    settings = config.stash[SETTINGS_KEY]
    version = settings.upgrade_to.value
    if version is None or RECORD_KEY in config.stash:
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(f"{UPGRADE_TO.flag}: the upgrade gate runs its phases in order "
                                "in one process; drop -n/--numprocesses")
    record = GateRecord(version, settings.disruption_budget.value)
    config.stash[RECORD_KEY] = record
    config.pluginmanager.register(GateReport(record), "cbgp-upgrade-gate")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if _gate(metafunc.config) is None or GATE in metafunc.fixturenames:
        return
    # As pytest-repeat does: a parameter of no fixture, only for the ids and the phase.
    metafunc.fixturenames.append(PHASE)
    metafunc.parametrize(PHASE, [BEFORE, AFTER])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    record = _gate(config)
    if record is None:
        return
    phases: dict[str, list[pytest.Item]] = {BEFORE: [], DURING: [], AFTER: []}
    for item in items:
        phase = _phase(item)
        record.phase_of[item.nodeid] = phase
        phases[phase].append(item)
    items[:] = [*phases[BEFORE], *phases[DURING], *phases[AFTER]]


def _phase(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and PHASE in callspec.params:
        return str(callspec.params[PHASE])
    fixtures = getattr(item, "fixturenames", ())
    return DURING if GATE in fixtures else BEFORE


@pytest.fixture
def cbgp_upgrade(request: pytest.FixtureRequest) -> UpgradeGate:
    """The upgrade gate's middle step: ``cbgp_upgrade.run()`` upgrades Cilium to the version of
    ``--cbgp-upgrade-to`` (``helm upgrade`` where Helm installed it, else the agents' image;
    the embedded lab rolls its emulated agents) and waits for the rollout. Skips the check
    when no upgrade was asked for."""
    record = _gate(request.config)
    if record is None:
        pytest.skip(f"no upgrade asked for: {UPGRADE_TO.flag}=VERSION runs the upgrade gate")
    lab: Lab = request.getfixturevalue("cbgp_lab")
    cluster: Cluster = request.getfixturevalue("cbgp_kube")
    timeout = max(600.0, 20 * request.config.stash[SETTINGS_KEY].convergence_budget.value)
    return UpgradeGate(record, lab, cluster, timeout)


def _counts(counts: Counter[str] | None) -> str:
    if not counts:
        return "no checks"
    return ", ".join(f"{number} {outcome}" for outcome, number in sorted(counts.items()))
