"""``--lab=kind``: every command the driver runs, against fake docker, kind, helm and kubectl that
answer with recorded output. No cluster, no docker daemon."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ciliumbgp.inventory import Inventory, load_inventory
from pytest_ciliumbgp.labs import LabError, default_inventory, lab_class
from pytest_ciliumbgp.labs.kind import CLUSTER, KindLab
from pytest_ciliumbgp.transport import DockerTransport
from tests.unit.fake_kind_tools import FRR_DATA, FakeTools, data

ROOT = Path(__file__).resolve().parents[2]
PROBE_IMPORT = ("python3", "-c", "import scapy.sendrecv")


@pytest.fixture
def inventory() -> Inventory:
    shipped = default_inventory("kind")
    assert shipped is not None
    return load_inventory(shipped)


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    tools = FakeTools(tmp_path / "fakes")
    tools.install("docker", "kind", "helm", "kubectl")
    monkeypatch.setenv("PATH", tools.path_with(*os.environ["PATH"].split(os.pathsep)))
    return tools


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    """Stand-ins for up.sh and down.sh that say what they do and leave a mark."""
    directory = tmp_path / "lab-kind"
    directory.mkdir()
    for script in ("up.sh", "down.sh"):
        path = directory / script
        path.write_text(f"#!/bin/sh\necho '==> [  0s] {script} step one'\necho\n"
                        f"echo '==> [  1s] {script} done'\ntouch '{directory}/{script}.ran'\n")
        path.chmod(0o755)
    return directory


@pytest.fixture
def progress() -> list[str]:
    return []


@pytest.fixture
def lab(inventory: Inventory, lab_dir: Path, tmp_path: Path, progress: list[str]) -> KindLab:
    return KindLab(inventory, lab_dir=lab_dir, state_dir=tmp_path / "state",
                   progress=progress.append)


def wired_lab(fakes: FakeTools, *, clusters: str | None = None) -> None:
    """A docker daemon, the kind cluster (unless ``clusters`` says otherwise) and the lab's
    containers on the addresses and interfaces lab/kind/up.sh gives them."""
    if clusters is None:
        clusters = data("kind_get_clusters_cbgp.stdout")
    fakes.on("docker", "info", stdout="28.2.2\n")
    fakes.on("kind", "get", "clusters", stdout=clusters,
             stderr="" if clusters else data("kind_get_clusters_none.stderr"))
    fakes.on("docker", "inspect", "--type", "container", stdout=data("docker_inspect_wired.txt"))
    for container, listing in (("cbgp-router", "router_ip_j_4_address_show.json"),
                               ("cbgp-client", "client_ip_j_4_address_show.json")):
        fakes.on("docker", "exec", "-i", container, "ip", "-j", "-4", "address", "show",
                 stdout=data(listing))
        fakes.on("docker", "exec", "-i", container, *PROBE_IMPORT)


@pytest.fixture
def no_lab_scripts_ran(lab_dir: Path) -> Iterator[None]:
    yield
    assert not list(lab_dir.glob("*.ran")), "up.sh or down.sh ran"


def test_registry_entry_is_the_kind_lab() -> None:
    assert lab_class("kind") is KindLab


def test_shipped_inventory_is_the_one_in_lab_kind() -> None:
    shipped = default_inventory("kind")
    assert shipped is not None
    assert shipped.read_text() == (ROOT / "lab" / "kind" / "inventory.yaml").read_text()


def test_running_cluster_is_adopted_and_checked(
    lab: KindLab, fakes: FakeTools, progress: list[str], no_lab_scripts_ran: None
) -> None:
    wired_lab(fakes)
    assert lab.ensure_running() is False
    assert progress == [f"kind cluster {CLUSTER!r} is running: adopting it"]
    calls = fakes.calls()
    assert [call.args[:2] for call in calls[:3]] == [("info", "--format"), ("get", "clusters"),
                                                      ("inspect", "--type")]
    inspected = calls[2].args[calls[2].args.index("--format") + 2:]
    assert set(inspected) == {"cbgp-router", "cbgp-control-plane", "cbgp-worker",
                              "cbgp-worker2", "cbgp-client"}
    assert [call.args for call in calls[3:]] == [
        ("exec", "-i", "cbgp-router", "ip", "-j", "-4", "address", "show"),
        ("exec", "-i", "cbgp-router", *PROBE_IMPORT),
        ("exec", "-i", "cbgp-client", "ip", "-j", "-4", "address", "show"),
        ("exec", "-i", "cbgp-client", *PROBE_IMPORT),
    ]


def test_missing_cluster_is_brought_up_by_up_sh(
    lab: KindLab, fakes: FakeTools, lab_dir: Path, progress: list[str]
) -> None:
    wired_lab(fakes, clusters="")
    assert lab.ensure_running() is True
    assert (lab_dir / "up.sh.ran").exists()
    assert progress == ["==> [  0s] up.sh step one", "==> [  1s] up.sh done"]
    assert fakes.calls("docker")[1].starts("docker", "inspect"), "wiring not checked after up.sh"


def test_failing_up_sh_is_one_line_with_its_last_words(
    lab: KindLab, fakes: FakeTools, lab_dir: Path
) -> None:
    wired_lab(fakes, clusters="")
    (lab_dir / "up.sh").write_text(
        "#!/bin/sh\necho '==> [ 12s] kind cluster cbgp'\n"
        "echo 'up.sh: docker network cbgp-lan1 exists with subnet 10.0.0.0/24' >&2\nexit 1\n")
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    assert str(raised.value) == (f"{lab_dir / 'up.sh'} exited 1: up.sh: docker network "
                                 f"cbgp-lan1 exists with subnet 10.0.0.0/24")


def test_bringing_up_needs_helm_and_kubectl(
    lab: KindLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_lab_scripts_ran: None
) -> None:
    tools = FakeTools(tmp_path / "fewer")
    tools.install("docker", "kind", "kubectl")
    monkeypatch.setenv("PATH", tools.path_with())
    wired_lab(tools, clusters="")
    with pytest.raises(LabError, match=r"^helm is not installed \(not on PATH\): --lab=kind "):
        lab.ensure_running()


@pytest.mark.parametrize("missing", ["docker", "kind"])
def test_missing_tool_is_one_line(
    lab: KindLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    tools = FakeTools(tmp_path / "fewer")
    tools.install(*({"docker", "kind"} - {missing}))
    monkeypatch.setenv("PATH", tools.path_with())
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    assert str(raised.value).startswith(f"{missing} is not installed (not on PATH)")
    assert tools.calls() == []


def test_unreachable_docker_daemon_is_one_line(lab: KindLab, fakes: FakeTools) -> None:
    fakes.on("docker", "info", stdout=data("docker_info_unreachable.stdout"),
             stderr=data("docker_info_unreachable.stderr"), rc=1)
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    assert str(raised.value) == ("docker daemon not reachable: Cannot connect to the Docker "
                                 "daemon at unix:///var/run/docker.sock. Is the docker daemon "
                                 "running?")
    assert fakes.calls("kind") == []


def test_failing_kind_is_one_line(lab: KindLab, fakes: FakeTools) -> None:
    fakes.on("docker", "info", stdout="28.2.2\n")
    fakes.on("kind", "get", "clusters", rc=1, stderr="ERROR: failed to list clusters: command "
             "\"docker ps -a --filter label=io.x-k8s.kind.cluster\" failed with error: "
             "exit status 1\n")
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    assert str(raised.value).startswith("kind get clusters exited 1: ERROR: failed to list")


def test_node_on_another_address_stops_the_run(lab: KindLab, fakes: FakeTools) -> None:
    fakes.on("docker", "info", stdout="28.2.2\n")
    fakes.on("kind", "get", "clusters", stdout=data("kind_get_clusters_cbgp.stdout"))
    fakes.on("docker", "inspect", stdout=data("docker_inspect_wired.txt").replace(
        "cbgp-lan1=192.168.10.101", "cbgp-lan1=192.168.10.102"))
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    message = str(raised.value)
    assert "\n" not in message
    assert ("cbgp-worker (cbgp-worker) should have 192.168.10.101 on docker network "
            "cbgp-lan1, has 192.168.10.102") in message
    assert "cbgp-control-plane" not in message


def test_missing_and_stopped_containers_are_named(lab: KindLab, fakes: FakeTools) -> None:
    fakes.on("docker", "info", stdout="28.2.2\n")
    fakes.on("kind", "get", "clusters", stdout=data("kind_get_clusters_cbgp.stdout"))
    inspected = [line for line in data("docker_inspect_wired.txt").splitlines()
                 if not line.startswith("/cbgp-client ")]
    inspected = [line.replace("/cbgp-router true", "/cbgp-router false") for line in inspected]
    fakes.on("docker", "inspect", stdout="\n".join(inspected) + "\n", rc=1,
             stderr="Error: No such container: cbgp-client\n")
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    message = str(raised.value)
    assert "container cbgp-router (router) is not running" in message
    assert "no container cbgp-client (client)" in message
    assert message.endswith("(lab/kind/up.sh finishes a half-made lab)")


def test_router_interface_named_otherwise_stops_the_run(lab: KindLab, fakes: FakeTools) -> None:
    fakes.on("docker", "exec", "-i", "cbgp-router", "ip", "-j", "-4", "address", "show",
             stdout=data("router_ip_j_4_address_show.json").replace('"eth1"', '"eth3"'))
    wired_lab(fakes)
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    assert str(raised.value).startswith(
        "router: the inventory puts 192.168.20.200/24 on eth1 of docker://cbgp-router, but it "
        "is on eth3;")


def test_client_without_scapy_stops_the_run(lab: KindLab, fakes: FakeTools) -> None:
    fakes.on("docker", "exec", "-i", "cbgp-client", *PROBE_IMPORT,
             stderr=data("python3_import_scapy_missing.stderr"), rc=1)
    wired_lab(fakes)
    with pytest.raises(LabError) as raised:
        lab.ensure_running()
    assert str(raised.value) == (
        "client: python3 in docker://cbgp-client cannot import scapy, which the probe scripts "
        "need (the lab's tools image installs python3-scapy): ModuleNotFoundError: No module "
        "named 'scapy'")


def test_stop_runs_down_sh(lab: KindLab, lab_dir: Path, progress: list[str]) -> None:
    lab.stop()
    assert (lab_dir / "down.sh.ran").exists()
    assert not (lab_dir / "up.sh.ran").exists()
    assert progress[-1] == "==> [  1s] down.sh done"


def test_missing_lab_scripts_are_one_line(inventory: Inventory, tmp_path: Path) -> None:
    lab = KindLab(inventory, lab_dir=tmp_path / "nowhere", progress=lambda line: None)
    with pytest.raises(LabError) as raised:
        lab.stop()
    assert str(raised.value) == (f"{tmp_path / 'nowhere' / 'down.sh'} not found: --lab=kind "
                                 f"needs lab/kind/ of a pytest-ciliumbgp checkout; set "
                                 f"CBGP_KIND_DIR to that directory")


def test_lab_dir_comes_from_the_checkout_or_the_environment(
    inventory: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CBGP_KIND_DIR", raising=False)
    assert KindLab(inventory).lab_dir == ROOT / "lab" / "kind"
    monkeypatch.setenv("CBGP_KIND_DIR", str(tmp_path))
    assert KindLab(inventory).lab_dir == tmp_path


def test_kubeconfig_comes_from_kind_and_stays_private(lab: KindLab, fakes: FakeTools) -> None:
    fakes.on("kind", "get", "kubeconfig", stdout=data("kind_get_kubeconfig.yaml"))
    path = Path(lab.kubeconfig())
    assert path.read_text() == data("kind_get_kubeconfig.yaml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert lab.kubeconfig() == str(path)
    assert [call.args for call in fakes.calls()] == [("get", "kubeconfig", "--name", "cbgp")]


def test_kubeconfig_of_a_missing_cluster_is_one_line(lab: KindLab, fakes: FakeTools) -> None:
    fakes.on("kind", "get", "kubeconfig", stderr=data("kind_get_kubeconfig_no_cluster.stderr"),
             rc=1)
    with pytest.raises(LabError) as raised:
        lab.kubeconfig()
    assert str(raised.value) == ("kind get kubeconfig exited 1: ERROR: could not locate any "
                                 "control plane nodes for cluster named 'cbgp'. Use the --name "
                                 "option to select a different cluster")


def test_hosts_are_reached_by_docker_exec(lab: KindLab, inventory: Inventory) -> None:
    for host in inventory.hosts:
        transport = lab.transport(host.name)
        assert isinstance(transport, DockerTransport)
        assert transport.wrap(["true"]) == ["docker", "exec", "-i",
                                            host.reach.settings["container"], "true"]


def test_router_answers_through_docker_exec(lab: KindLab, fakes: FakeTools) -> None:
    summary = (FRR_DATA / "bgp_summary_established.json").read_text()
    fakes.on("docker", "exec", "-i", "cbgp-router", "vtysh", stdout=summary)
    peers = lab.router().bgp_peers()
    assert {address: peer.state for address, peer in peers.items()} == {
        "192.168.10.101": "Established", "192.168.10.102": "Established",
        "192.168.10.103": "Established"}
    (call,) = fakes.calls()
    assert call.args[:4] == ("exec", "-i", "cbgp-router", "vtysh")


def test_describe_runs_nothing(
    lab: KindLab, lab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert lab.describe() == (f"kind cluster 'cbgp' (context kind-cbgp), router router at "
                              f"docker://cbgp-router; brought up by {lab_dir / 'up.sh'} when "
                              f"no such cluster runs")


# pytest --lab=kind as a user runs it


def collect(lab: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", f"--lab={lab}", "--collect-only",
                           "-p", "no:cacheprovider", "suites"],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=300)


def collected(done: subprocess.CompletedProcess[str]) -> int:
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"^collected (\d+) items?$", done.stdout, re.MULTILINE)
    assert found, done.stdout
    return int(found[1])


def test_collect_only_collects_the_whole_suite_without_a_lab(
    fakes: FakeTools, inventory: Inventory
) -> None:
    kind = collect("kind")
    assert collected(kind) == collected(collect("netns"))
    for node in inventory.nodes:  # tests taking cbgp_node run once per node
        assert f"[{node.name}]>" in kind.stdout, node.name
    assert "cbgp lab: kind (from --lab)" in kind.stdout
    shipped = ROOT / "pytest_ciliumbgp" / "labs" / "data" / "kind.yaml"
    assert f"cbgp inventory: {shipped} (default for lab kind)" in kind.stdout
    assert fakes.calls() == [], "collecting runs no docker and no kind"


def test_unreachable_docker_ends_the_run_in_one_line(
    pytester: pytest.Pytester, fakes: FakeTools
) -> None:
    fakes.on("docker", "info", stdout=data("docker_info_unreachable.stdout"),
             stderr=data("docker_info_unreachable.stderr"), rc=1)
    pytester.makepyfile("def test_uses_lab(cbgp_lab):\n    pass\n")
    result = pytester.runpytest_subprocess("--lab=kind", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.lines + result.stderr.lines
    said = [line for line in output if "cbgp: " in line]
    assert len(said) == 1, output
    assert said[0].strip("! ").endswith(
        "cbgp: docker daemon not reachable: Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?"), said[0]
    assert "Traceback" not in "\n".join(output)
