"""A lab that plays an older Cilium boots as that release would have it: the image tag names it,
cilium-config holds only the options it has, the BGP objects are written in the version it
serves, and its operator writes node configs in that version (and no cluster config status,
which 1.16/1.17 lack)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ciliumbgp.emulator.apidaemon import seed
from pytest_ciliumbgp.emulator.boot import agent_options
from pytest_ciliumbgp.emulator.cilium.bgp_operator import BgpOperator
from pytest_ciliumbgp.emulator.cluster import EmulatedCluster
from pytest_ciliumbgp.emulator.kubeapi.cilium_release import cilium_release
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.lab import EmbeddedLab
from pytest_ciliumbgp.inventory import Inventory, load_inventory
from pytest_ciliumbgp.labs import default_inventory

NO_ENDPOINTS_ROUTABLE = "enable-no-service-endpoints-routable"
BGP_KINDS = ("ciliumbgpclusterconfigs", "ciliumbgppeerconfigs", "ciliumbgpadvertisements")


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    path = default_inventory("netns")
    assert path is not None
    return load_inventory(path)


def booted(inventory: Inventory, version: str, tmp_path: Path) -> Store:
    store = Store(cilium=cilium_release(version))
    seed(store, inventory)
    EmulatedCluster(store, inventory, "cbgptest", tmp_path).boot()
    return store


@pytest.mark.parametrize(("version", "image", "api_version", "routable_option"), [
    ("1.17", "quay.io/cilium/cilium:v1.17.0", "cilium.io/v2alpha1", False),
    ("1.16.5", "quay.io/cilium/cilium:v1.16.5", "cilium.io/v2alpha1", False),
    ("1.18", "quay.io/cilium/cilium:v1.18.2", "cilium.io/v2", True),
])
def test_boot_objects_are_those_of_the_release(inventory: Inventory, tmp_path: Path,
                                               version: str, image: str, api_version: str,
                                               routable_option: bool) -> None:
    store = booted(inventory, version, tmp_path)

    daemonset = store.get("daemonsets", "cilium", "kube-system")
    assert daemonset["spec"]["template"]["spec"]["containers"][0]["image"] == image
    options = store.get("configmaps", "cilium-config", "kube-system")["data"]
    assert (NO_ENDPOINTS_ROUTABLE in options) is routable_option
    assert options["enable-bgp-control-plane"] == "true"
    for plural in BGP_KINDS:
        assert [obj["apiVersion"] for obj in store.list(plural)] == [api_version], plural


def test_an_option_the_release_lacks_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="no such agent option") as caught:
        agent_options(cilium_release("1.17"), {NO_ENDPOINTS_ROUTABLE: "false"})
    assert str(caught.value) == (f"option {NO_ENDPOINTS_ROUTABLE}: Cilium 1.17.0 has no such "
                                 "agent option (it came with 1.18)")
    assert agent_options(cilium_release("1.18"), {NO_ENDPOINTS_ROUTABLE: "false"})[
        NO_ENDPOINTS_ROUTABLE] == "false"


def test_lab_refuses_what_the_release_cannot_do_before_making_anything(
    inventory: Inventory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab = EmbeddedLab(inventory, "cbgptest", state_root=tmp_path)
    with pytest.raises(ValueError, match=r"the embedded lab plays 1\.16, 1\.17, 1\.18"):
        lab.up(cilium_version="1.15")
    with pytest.raises(ValueError, match=rf"option {NO_ENDPOINTS_ROUTABLE}: Cilium 1\.17\.0"):
        lab.up(options={NO_ENDPOINTS_ROUTABLE: "false"}, cilium_version="1.17")
    monkeypatch.setenv("CBGP_CILIUM_VERSION", "1.16")
    with pytest.raises(ValueError, match=rf"option {NO_ENDPOINTS_ROUTABLE}: Cilium 1\.16\.0"):
        lab.up(options={NO_ENDPOINTS_ROUTABLE: "false"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("version", "api_version", "conditions"), [
    ("1.17", "cilium.io/v2alpha1", False),
    ("1.18", "cilium.io/v2", True),
])
def test_operator_writes_node_configs_in_the_served_version(
    inventory: Inventory, tmp_path: Path, version: str, api_version: str, conditions: bool,
) -> None:
    store = booted(inventory, version, tmp_path)

    BgpOperator(store).reconcile()

    node_configs = store.list("ciliumbgpnodeconfigs")
    assert sorted(c["metadata"]["name"] for c in node_configs) == sorted(
        node.name for node in inventory.nodes)
    for config in node_configs:
        assert config["apiVersion"] == api_version
        assert [ref["apiVersion"] for ref in config["metadata"]["ownerReferences"]] == [
            api_version]
        peer = config["spec"]["bgpInstances"][0]["peers"][0]
        assert peer["peerConfigRef"]["name"] == "cilium-peer"
    cluster_config = store.get("ciliumbgpclusterconfigs", "cilium-bgp")
    assert ("status" in cluster_config) is conditions
