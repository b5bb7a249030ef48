"""The run's environment for the Allure report: each fact read from the lab the way an operator
would, a lab that does not answer turning into ``unreadable: <why>``, read once per run, and
written in the ``.properties`` format whatever the text holds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ciliumbgp import lifecycle
from pytest_ciliumbgp.evidence import environment
from pytest_ciliumbgp.inventory import Inventory, load_inventory
from pytest_ciliumbgp.kube.client import Cluster, connect
from pytest_ciliumbgp.labs import Lab
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.router.sysctl import HASH_POLICY_LOCK
from pytest_ciliumbgp.transport import Transport
from tests.apiserver import Api
from tests.unit.scripted import ScriptedTransport

REPO = Path(__file__).resolve().parents[2]
FRR_SHOW_VERSION = (
    "FRRouting 8.4.4 (cbgpha-router) on Linux(6.18.44).\n"
    "Copyright 1996-2005 Kunihiro Ishiguro, et al.\n"
    "configured with:\n    '--build=x86_64-linux-gnu'\n"
)


ROUTER_ANSWERS = {
    ("vtysh", "-c", "show version"): FRR_SHOW_VERSION,
    ("uname", "-r"): "6.18.44-lab\n",
    ("sysctl", "-n", "net.ipv4.fib_multipath_hash_policy"): "1\n",
}


class ScriptedLab(Lab):
    name = "scripted"

    def __init__(self, inventory: Inventory, transport: Transport,
                 kubeconfig: str | None) -> None:
        super().__init__(inventory)
        self.scripted = transport
        self.config_file = kubeconfig

    def ensure_running(self) -> bool:
        return False

    def stop(self) -> None:
        raise AssertionError("evidence must never stop a lab")

    def transport(self, host: str) -> Transport:
        return self.scripted

    def kubeconfig(self) -> str | None:
        return self.config_file

    def router(self) -> FrrRouter:
        return FrrRouter(self.scripted)


@pytest.fixture
def inventory() -> Inventory:
    return load_inventory(REPO / "lab" / "netns" / "inventory.yaml")


@pytest.fixture
def cluster(api: Api) -> Iterator[Cluster]:
    with connect(str(api.kubeconfig), request_timeout=5) as connected:
        yield connected


def cilium_daemonset(image: str) -> dict[str, Any]:
    labels = {"k8s-app": "cilium"}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "cilium", "namespace": "kube-system"},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [
                                  {"name": "mount-cgroup", "image": "busybox:1.36"},
                                  {"name": "cilium-agent", "image": image}]}}},
    }


def create_daemonset(cluster: Cluster, image: str) -> None:
    cluster.call_json("create DaemonSet", cluster.apps.create_namespaced_daemon_set,
                      "kube-system", cilium_daemonset(image))


@pytest.mark.parametrize(("image", "tag"), [
    ("quay.io/cilium/cilium:v1.18.2", "v1.18.2"),
    ("quay.io/cilium/cilium:v1.17.4@sha256:0123abcd", "v1.17.4"),
    ("registry.local:5000/cilium/cilium:v1.16.0", "v1.16.0"),
    ("registry.local:5000/cilium/cilium", ""),
    ("cilium@sha256:0123abcd", ""),
])
def test_image_tag(image: str, tag: str) -> None:
    assert environment.image_tag(image) == tag


def test_cilium_version_is_the_agent_image_tag(cluster: Cluster) -> None:
    create_daemonset(cluster, "quay.io/cilium/cilium:v1.17.4@sha256:0123abcd")

    assert environment.cilium_version(cluster) == "v1.17.4"


def test_cilium_version_without_a_daemonset_is_unknown(cluster: Cluster) -> None:
    assert environment.cilium_version(cluster) == "unknown (no DaemonSet kube-system/cilium)"


def test_cilium_version_of_an_untagged_image_says_so(cluster: Cluster) -> None:
    create_daemonset(cluster, "registry.local:5000/cilium/cilium")

    assert environment.cilium_version(cluster) == (
        "unknown (image registry.local:5000/cilium/cilium has no tag)")


def test_cilium_api_version_is_found_by_discovery(cluster: Cluster) -> None:
    # The emulated API server plays Cilium 1.18 by default: v2, with v2alpha1 still served.
    assert environment.cilium_api_version(cluster) == "cilium.io/v2 (served: v2, v2alpha1)"


def test_every_fact_of_an_answering_lab(
    inventory: Inventory, api: Api, cluster: Cluster, tmp_path: Path
) -> None:
    create_daemonset(cluster, "quay.io/cilium/cilium:v1.18.2")
    lab = ScriptedLab(inventory, ScriptedTransport(ROUTER_ANSWERS), str(api.kubeconfig))

    facts = environment.read_lab_facts(lab, tmp_path)

    assert facts == {
        "cilium.version": "v1.18.2",
        "cilium.api": "cilium.io/v2 (served: v2, v2alpha1)",
        "frr.version": "FRRouting 8.4.4",
        "router.kernel": "6.18.44-lab",
        "router.fib_multipath_hash_policy": "1 (L4)",
    }


def test_a_lab_that_does_not_answer_gets_unreadable_facts(
    inventory: Inventory, tmp_path: Path
) -> None:
    lab = ScriptedLab(inventory, ScriptedTransport({}, down=True),
                      str(tmp_path / "no-such-kubeconfig"))

    facts = environment.read_lab_facts(lab, tmp_path)

    assert set(facts) == set(environment.LAB_FACT_KEYS)
    assert facts["frr.version"].startswith("unreadable: show version on scripted://: ")
    assert facts["frr.version"].endswith("vtysh: no answer within 30 s")
    assert facts["router.kernel"] == "unreadable: uname: no answer within 10 s"
    assert facts["router.fib_multipath_hash_policy"].startswith("unreadable: sysctl -n ")
    assert facts["cilium.version"].startswith("unreadable: ")
    assert "no-such-kubeconfig" in facts["cilium.version"]
    assert facts["cilium.api"] == facts["cilium.version"]


def test_the_hash_policy_is_read_under_the_lock_that_changes_it(tmp_path: Path) -> None:
    """While a test holds the run's hash-policy lock (it has changed the policy), the default
    is not read: the reader waits until the policy is restored and the lock released."""
    transport = ScriptedTransport(ROUTER_ANSWERS)
    read: list[str] = []
    with lifecycle.exclusive(tmp_path, HASH_POLICY_LOCK):
        reader = threading.Thread(
            target=lambda: read.append(environment.default_hash_policy(transport, tmp_path)))
        reader.start()
        reader.join(timeout=0.5)
        assert reader.is_alive()
        assert transport.ran == []
    reader.join(timeout=10)

    assert read == ["1 (L4)"]


def test_lab_facts_are_read_once_per_run(inventory: Inventory, tmp_path: Path) -> None:
    first = ScriptedTransport(ROUTER_ANSWERS)
    environment.record_lab_facts(ScriptedLab(inventory, first, None), tmp_path)
    later = ScriptedTransport({**ROUTER_ANSWERS, ("uname", "-r"): "7.0.0-other\n"})

    environment.record_lab_facts(ScriptedLab(inventory, later, None), tmp_path)

    assert later.ran == []
    assert environment.recorded_lab_facts(tmp_path)["router.kernel"] == "6.18.44-lab"


def test_without_a_recorded_lab_every_fact_says_why(tmp_path: Path) -> None:
    expected = dict.fromkeys(environment.LAB_FACT_KEYS, "not read: no test used the lab")
    assert environment.recorded_lab_facts(None) == expected
    assert environment.recorded_lab_facts(tmp_path) == expected


def test_properties_escape_what_the_format_would_misread() -> None:
    text = environment.properties({
        "lab": "netns (from --lab)",
        "key with = and :": "a\\b",
        "multi": "line one\nline two",
        "lead": " spaced",
        "unicode": "café ✓ 🐝",
    })

    assert text == (
        "lab=netns (from --lab)\n"
        "key\\ with\\ \\=\\ and\\ \\:=a\\\\b\n"
        "multi=line one\\nline two\n"
        "lead=\\ spaced\n"
        "unicode=caf\\u00e9 \\u2713 \\ud83d\\udc1d\n"
    )


def test_environment_file_is_ascii_in_the_results_directory(tmp_path: Path) -> None:
    path = environment.write_environment(tmp_path / "allure-results", {"frr.version": "10.3 é"})

    assert path == tmp_path / "allure-results" / "environment.properties"
    assert path.read_bytes() == b"frr.version=10.3 \\u00e9\n"
