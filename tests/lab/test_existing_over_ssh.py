"""``--lab=existing`` over real SSH: the embedded lab's router and client are reached only
through an sshd of this test's own inside their namespaces (ProxyCommand, sudo, a known host
key, a key file named relative to the lab file), the nodes through their namespaces, and the
router-side checks of the suite run green that way. The sshd's audit log shows what went over
ssh, including the shipped probes' source; with the router's sshd stopped, the run ends with
one line saying the router is unreachable.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ciliumbgp.probes import egress_capture, syn_flows
from tests.lab.conftest import ROOT, LabCli, lab_cli
from tests.lab.sshd import SYSTEM_PYTHON, NamespaceSshd, require_ssh

pytestmark = pytest.mark.lab

LAB_ID = "cbgpt6"
REFERENCE = ROOT / "lab" / "netns" / "inventory.yaml"
SUITES = ["suites/test_bgp_sessions.py", "suites/test_advertisement.py", "suites/test_ecmp.py"]
#: the environment that could point the run elsewhere than the lab file says
FOREIGN_ENV = ("CBGP_LAB", "CBGP_LAB_FILE", "CBGP_LAB_ID", "CBGP_STATE_DIR", "KUBECONFIG")


class Lab:
    """The running embedded lab, an sshd in its router and client namespaces, and a lab file
    for ``--lab=existing`` that reaches them over ssh."""

    def __init__(self, cli: LabCli, workdir: Path) -> None:
        self.cli = cli
        self.workdir = workdir
        self.router = NamespaceSshd(f"{LAB_ID}-router", workdir, f"router.{LAB_ID}")
        self.client = NamespaceSshd(f"{LAB_ID}-client", workdir / "client", f"client.{LAB_ID}")
        self.lab_file = workdir / "lab.yaml"

    def write_lab_file(self) -> None:
        document: dict[str, Any] = yaml.safe_load(REFERENCE.read_text())
        document["name"] = "existing-over-ssh"
        document["kubeconfig"] = self.cli.run("kubeconfig").stdout.strip()
        document["router"]["reach"] = self.router.reach()
        document["router"]["vtysh"] = ["vtysh", "-N", LAB_ID]
        for node in document["nodes"]:
            node["reach"] = {"via": "netns", "namespace": f"{LAB_ID}-{node['name']}"}
        client_reach = self.client.reach()
        client_reach["identity_file"] = f"client/{client_reach['identity_file']}"
        document["clients"][0]["reach"] = client_reach
        self.lab_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def run_suite(self, *paths: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
        return subprocess.run(
            [sys.executable, "-m", "pytest", *paths, "--lab=existing",
             f"--lab-file={self.lab_file}", "-p", "no:cacheprovider", "-q", "-rfEs"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_ssh()
    for cli in lab_cli(LAB_ID, tmp_path_factory.mktemp("lab")):
        up = cli.run("up")
        assert up.returncode == 0, up.stderr
        lab = Lab(cli, tmp_path_factory.mktemp("ssh"))
        try:
            lab.router.start()
            lab.client.start()
            lab.write_lab_file()
            yield lab
        finally:
            lab.client.stop()
            lab.router.stop()


def summary_counts(output: str) -> dict[str, int]:
    """``{"passed": 9, "failed": 1, ...}`` from pytest's last line."""
    last = output.strip().splitlines()[-1]
    outcomes = r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b"
    return {word: int(count) for count, word in re.findall(outcomes, last)}


def shipped(commands: list[str], probe: Any) -> list[list[str]]:
    """The commands that ran ``probe``'s source with the system python under sudo."""
    source = Path(probe.__file__).read_text()
    argvs = [shlex.split(command) for command in commands]
    return [argv for argv in argvs
            if argv[:4] == ["sudo", "-n", SYSTEM_PYTHON, "-c"] and argv[4] == source]


def test_router_checks_of_the_suite_pass_over_ssh(lab: Lab) -> None:
    result = lab.run_suite(*SUITES)

    counts = summary_counts(result.stdout)
    assert result.returncode == 0, result.stdout[-4000:]
    assert set(counts) == {"passed"}, result.stdout[-4000:]  # nothing failed, skipped, ...
    assert counts["passed"] >= len(SUITES)
    router_commands = lab.router.commands()
    assert f"sudo -n vtysh -N {LAB_ID} -c 'show bgp summary json'" in router_commands
    assert "sudo -n sysctl -w net.ipv4.fib_multipath_hash_policy=1" in router_commands
    captures = shipped(router_commands, egress_capture)
    assert captures, "no egress capture ran on the router over ssh"
    assert all("--iface" in argv and "eth1" in argv for argv in captures)
    assert shipped(lab.client.commands(), syn_flows), "no SYN flows were sent over ssh"
    assert lab.router.sessions() >= len(router_commands)


def test_router_behind_a_stopped_sshd_is_one_line(lab: Lab) -> None:
    lab.router.stop()

    result = lab.run_suite(SUITES[0])

    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout
    said = [line for line in result.stdout.splitlines() if "unreachable" in line]
    assert len(said) == 1, result.stdout
    assert (f"Exit: cbgp: router router unreachable over ssh://root@router.{LAB_ID}:2222: "
            "ssh_relay: cannot connect to 127.0.0.1:2222: Connection refused !") in said[0]
    assert "Traceback" not in result.stdout + result.stderr
