"""The nftables renderer: which rules each kind of frontend gets, SNAT and its faults, and (on a
lab machine) that nft accepts what it renders."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from pytest_ciliumbgp.emulator.cilium.datapath_rules import (
    CLUSTER,
    LOCAL,
    TABLE,
    Backend,
    Frontend,
    SnatFaults,
    removal,
    ruleset,
)
from pytest_ciliumbgp.emulator.netns import run_in

NODE = "192.168.10.100"
POD_HERE = Backend("172.20.0.10", 8080, local=True)
POD_THERE = Backend("172.20.1.10", 8080, local=False)


def frontend(*backends: Backend, policy: str = CLUSTER, external: bool = True,
             address: str = "172.16.1.1", protocol: str = "TCP") -> Frontend:
    return Frontend(address, protocol, 80, "default/web:http", policy, external, backends)


def chain(text: str, name: str) -> list[str]:
    """The rules of one chain (without its hook line)."""
    lines = text.splitlines()
    start = lines.index(f"\tchain {name} {{")
    end = lines.index("\t}", start)
    return [line.strip() for line in lines[start + 2:end]]


def local_backends(text: str) -> str:
    lines = text.splitlines()
    start = lines.index("\tset local_backends {")
    return "\n".join(line.strip() for line in lines[start + 1:lines.index("\t}", start)])


def test_replaces_the_table_in_one_transaction() -> None:
    text = ruleset(NODE, [])
    assert text.splitlines()[:3] == [f"add table ip {TABLE}", f"delete table ip {TABLE}",
                                     f"table ip {TABLE} {{"]
    assert removal() == f"add table ip {TABLE}\ndelete table ip {TABLE}\n"


def test_cluster_spreads_over_all_backends() -> None:
    text = ruleset(NODE, [frontend(POD_THERE, POD_HERE)])
    assert chain(text, "prerouting") == [
        "ip daddr 172.16.1.1 tcp dport 80 ct mark set 0x1 dnat ip to numgen random mod 2 map "
        "{ 0 : 172.20.0.10 . 8080, 1 : 172.20.1.10 . 8080 } comment \"default/web:http\""]
    assert chain(text, "no_backend") == []


def test_one_backend_needs_no_choice() -> None:
    text = ruleset(NODE, [frontend(POD_HERE, policy=LOCAL, protocol="UDP")])
    assert chain(text, "prerouting") == [
        "ip daddr 172.16.1.1 udp dport 80 ct mark set 0x2 dnat ip to 172.20.0.10:8080 "
        "comment \"default/web:http\""]


def test_cluster_ip_is_not_marked() -> None:
    text = ruleset(NODE, [frontend(POD_HERE, address="10.96.0.10", external=False)])
    assert chain(text, "prerouting") == [
        "ip daddr 10.96.0.10 tcp dport 80 dnat ip to 172.20.0.10:8080 "
        "comment \"default/web:http\""]


def test_no_backend_drops_new_connections() -> None:
    text = ruleset(NODE, [frontend(policy=LOCAL)])
    assert chain(text, "no_backend") == [
        "ip daddr 172.16.1.1 tcp dport 80 ct state new drop comment \"default/web:http\""]
    assert chain(text, "prerouting") == []


def test_snat_only_cluster_traffic_to_other_nodes() -> None:
    text = ruleset(NODE, [frontend(POD_THERE, POD_HERE), frontend(POD_HERE, address="172.16.1.2",
                                                                   policy=LOCAL)])
    assert local_backends(text) == "type ipv4_addr\nelements = { 172.20.0.10 }"
    assert chain(text, "postrouting") == [
        f"ct mark 0x1 ip daddr != @local_backends snat ip to {NODE}"]


def test_without_local_backends_the_set_is_empty() -> None:
    assert local_backends(ruleset(NODE, [frontend(POD_THERE)])) == "type ipv4_addr"


@pytest.mark.parametrize(("faults", "snat"), [
    (SnatFaults(local_backend_under_cluster=True), [f"ct mark 0x1 snat ip to {NODE}"]),
    (SnatFaults(under_local=True), [f"ct mark 0x1 ip daddr != @local_backends snat ip to {NODE}",
                                    f"ct mark 0x2 snat ip to {NODE}"]),
], ids=["snat-local-backend-under-cluster", "snat-under-local"])
def test_snat_faults(faults: SnatFaults, snat: list[str]) -> None:
    assert chain(ruleset(NODE, [frontend(POD_HERE)], faults), "postrouting") == snat


def test_same_input_same_text() -> None:
    frontends = [frontend(POD_HERE, POD_THERE), frontend(address="172.16.1.2"),
                 frontend(POD_THERE, address="10.96.0.10", external=False)]
    assert ruleset(NODE, frontends) == ruleset(NODE, list(reversed(frontends)))


@pytest.fixture
def scratch_namespace() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("needs root and nft")
    namespace = f"cbgpd-rules-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        yield namespace
    finally:
        subprocess.run(["ip", "netns", "delete", namespace], check=False)


@pytest.mark.lab
def test_nft_accepts_the_ruleset(scratch_namespace: str) -> None:
    frontends = [frontend(POD_HERE, POD_THERE), frontend(POD_HERE, policy=LOCAL, protocol="UDP",
                                                         address="172.16.1.2"),
                 frontend(POD_THERE, protocol="SCTP", address="10.96.0.10", external=False),
                 frontend(address="172.16.1.3")]
    for faults in (SnatFaults(), SnatFaults(local_backend_under_cluster=True, under_local=True)):
        text = ruleset(NODE, frontends, faults)
        checked = run_in(scratch_namespace, ["nft", "-c", "-f", "-"], input=text, check=False)
        assert checked.returncode == 0, f"nft refuses the ruleset: {checked.stderr}\n{text}"
    run_in(scratch_namespace, ["nft", "-f", "-"], input=ruleset(NODE, frontends))
    run_in(scratch_namespace, ["nft", "-f", "-"], input=ruleset(NODE, frontends))
    run_in(scratch_namespace, ["nft", "-f", "-"], input=removal())
    run_in(scratch_namespace, ["nft", "-f", "-"], input=removal())
    listed = run_in(scratch_namespace, ["nft", "list", "tables"]).stdout
    assert TABLE not in listed
