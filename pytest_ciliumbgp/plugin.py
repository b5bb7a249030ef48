"""pytest hooks of pytest-ciliumbgp: options, settings, report header, parametrisation, the
xdist hand-off, stopping the lab this run started, and the Allure evidence (the run's
environment, failure categories, the lab's state when a test fails). Fixtures live in
``fixtures.py``."""

from __future__ import annotations

import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp import lifecycle, settings
from pytest_ciliumbgp.evidence import categories, environment, failure
from pytest_ciliumbgp.labs import Lab, LabError

pytest_plugins = ["pytest_ciliumbgp.fixtures", "pytest_ciliumbgp.upgrade.plugin"]

#: What the end of the session has to tell the user about the lab.
_NOTICE = pytest.StashKey[str]()
#: Why the Allure environment or categories could not be written.
_REPORT_NOTICE = pytest.StashKey[str]()
#: Which Cilium the run tested and the API it spoke ("" when no test got the lab).
_CILIUM_NOTICE = pytest.StashKey[str]()
#: The fixture values failure evidence reads, by fixture name (on the config or the test).
_FIXTURE_VALUES = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ciliumbgp", "Cilium BGP LoadBalancer conformance")
    for option in settings.OPTIONS:
        if option is settings.KEEP_LAB:
            group.addoption(option.flag, action="store_true", default=None, dest=option.dest,
                            help=f"{option.help} (env {option.env}, ini {option.ini})")
            parser.addini(option.ini, option.help, type="bool", default=None)
        else:
            group.addoption(option.flag, action="store", default=None, dest=option.dest,
                            metavar=option.metavar
                            or option.flag.strip("-").upper().replace("-", "_"),
                            help=f"{option.help} (env {option.env}, ini {option.ini})")
            parser.addini(option.ini, option.help, type="string", default=None)


def pytest_configure(config: pytest.Config) -> None:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    run_id = (workerinput or {}).get(settings.WORKER_RUN_ID) or uuid.uuid4().hex[:8]
    config.stash[settings.SETTINGS_KEY] = settings.resolve(config, run_id)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(config), "ciliumbgp-xdist")


def pytest_report_header(config: pytest.Config) -> list[str]:
    return config.stash[settings.SETTINGS_KEY].header()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cbgp_node" in metafunc.fixturenames:
        nodes = metafunc.config.stash[settings.SETTINGS_KEY].inventory.nodes
        metafunc.parametrize("cbgp_node", nodes, ids=[node.name for node in nodes], indirect=True)


def _alluredir(config: pytest.Config) -> Path | None:
    """Where allure-pytest writes results; None when this run records none."""
    given = getattr(config.option, "allure_report_dir", None)
    return Path(given) if given else None


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, None]:
    outcome = yield
    if outcome.excinfo is not None or fixturedef.argname not in failure.FIXTURES:
        return
    value = outcome.get_result()
    # Kept for the failure evidence: a test whose setup fails later has them set up, but not
    # in its funcargs. Function-scoped values go with the test, the others with the run.
    holder = request.node if request.scope == "function" else request.config
    holder.stash.setdefault(_FIXTURE_VALUES, {})[fixturedef.argname] = value
    # The first process that gets the lab reads its environment (for the report and the
    # terminal summary), once per run.
    run_dir = request.config.stash.get(settings.RUN_DIR_KEY, None)
    if fixturedef.argname == "cbgp_lab" and isinstance(value, Lab) and run_dir is not None:
        environment.record_lab_facts(value, run_dir)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    # Setup too: suite fixtures check convergence before the test body runs.
    if report.failed and report.when in ("setup", "call") and _alluredir(item.config):
        uses = set(getattr(item, "fixturenames", ()))
        held: dict[str, Any] = {}
        for values in (item.config.stash.get(_FIXTURE_VALUES, {}),
                       item.stash.get(_FIXTURE_VALUES, {}), getattr(item, "funcargs", {})):
            held.update((name, value) for name, value in values.items() if name in uses)
        failure.attach_failure_state(held)


def _write_report_files(config: pytest.Config) -> None:
    """``environment.properties`` and ``categories.json`` for the whole run (controller only)."""
    alluredir = _alluredir(config)
    if alluredir is None:
        return
    run = config.stash[settings.SETTINGS_KEY]
    values = {**environment.run_facts(run),
              **environment.recorded_lab_facts(config.stash.get(settings.RUN_DIR_KEY, None))}
    try:
        environment.write_environment(alluredir, values)
        categories.write_categories(alluredir)
    except OSError as err:
        config.stash[_REPORT_NOTICE] = (f"cbgp: could not write the Allure environment and "
                                        f"categories to {alluredir}: {err.strerror}")


@pytest.hookimpl(trylast=True)  # after session fixtures are torn down
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return
    _write_report_files(config)
    config.stash[_CILIUM_NOTICE] = environment.cilium_summary(
        environment.recorded_lab_facts(config.stash.get(settings.RUN_DIR_KEY, None)))
    if settings.LAB_ERROR_KEY in config.stash:  # xdist already printed it as "Interrupted"
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
    run_dir = config.stash.get(settings.RUN_DIR_KEY, None)
    if run_dir is None:
        return
    run = config.stash[settings.SETTINGS_KEY]
    if run.keep_lab.value:
        if lifecycle.started_by(run_dir, run.run_id):
            kept_by = run.keep_lab.source
            config.stash[_NOTICE] = f"cbgp: lab {run.lab.value} left running ({kept_by})"
        return
    lab = config.stash.get(settings.LAB_KEY, None) or run.lab_class(run.inventory)
    try:
        lifecycle.release(lab, run_dir, run.run_id)
    except LabError as err:
        config.stash[_NOTICE] = f"cbgp: could not stop lab {run.lab.value}: {err}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for key in (_CILIUM_NOTICE, _NOTICE, _REPORT_NOTICE):
        notice = terminalreporter.config.stash.get(key, None)
        if notice:
            terminalreporter.write_line(notice, bold=True)


class XdistHooks:
    """Registered only when pytest-xdist is installed: its hooks do not exist otherwise."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[settings.WORKER_RUN_ID] = self.config.stash[settings.SETTINGS_KEY].run_id

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        output: dict[str, Any] = getattr(node, "workeroutput", {})
        if settings.WORKER_RUN_DIR in output:
            self.config.stash[settings.RUN_DIR_KEY] = Path(output[settings.WORKER_RUN_DIR])
        if settings.WORKER_LAB_ERROR in output:
            self.config.stash[settings.LAB_ERROR_KEY] = output[settings.WORKER_LAB_ERROR]
