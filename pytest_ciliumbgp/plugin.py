"""pytest hooks of pytest-ciliumbgp: options, settings, report header, parametrisation, the
xdist hand-off and stopping the lab this run started. Fixtures live in ``fixtures.py``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp import lifecycle, settings
from pytest_ciliumbgp.labs import LabError

pytest_plugins = ["pytest_ciliumbgp.fixtures"]

#: What the end of the session has to tell the user about the lab.
_NOTICE = pytest.StashKey[str]()


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


@pytest.hookimpl(trylast=True)  # after session fixtures are torn down
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if hasattr(config, "workerinput"):
        return
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
    notice = terminalreporter.config.stash.get(_NOTICE, None)
    if notice is not None:
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
