"""Pruning of unknown fields and nulls, and the defaults the CRDs apply."""

from __future__ import annotations

import copy
from typing import Any

from pytest_ciliumbgp.emulator.kubeapi.cilium_validation import (
    admit,
    apply_defaults,
    prune,
    strict_decoding_message,
    unknown_fields,
    validate,
)

CLUSTER = "CiliumBGPClusterConfig"
PEER = "CiliumBGPPeerConfig"
POOL = "CiliumLoadBalancerIPPool"


def _cluster(version: str, ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"cilium.io/{version}", "kind": CLUSTER, "metadata": {"name": "x"},
        "spec": {"bgpInstances": [{"name": "i", "localASN": 65001, "peers": [
            {"name": "tor", "peerAddress": "10.0.0.1", "peerConfigRef": ref}]}]},
    }


def test_v2_peer_config_ref_group_is_pruned_not_refused() -> None:
    manifest = _cluster("v2", {"name": "p", "group": "cilium.io", "kind": "CiliumBGPPeerConfig"})
    assert validate("v2", CLUSTER, manifest) == []
    assert unknown_fields("v2", CLUSTER, manifest) == [
        "spec.bgpInstances[0].peers[0].peerConfigRef.group",
        "spec.bgpInstances[0].peers[0].peerConfigRef.kind",
    ]
    pruned = prune("v2", CLUSTER, manifest)
    assert pruned["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"] == {"name": "p"}


def test_v2alpha1_peer_config_ref_gets_group_and_kind() -> None:
    stored, errors = admit("v2alpha1", CLUSTER, _cluster("v2alpha1", {"name": "p"}))
    assert errors == []
    assert stored["spec"]["bgpInstances"][0]["peers"][0] == {
        "name": "tor", "peerAddress": "10.0.0.1", "peerASN": 0,
        "peerConfigRef": {"name": "p", "group": "cilium.io", "kind": "CiliumBGPPeerConfig"},
    }


def test_strict_decoding_message() -> None:
    assert strict_decoding_message(CLUSTER, "v2", ["spec.a", "spec.b"]) == (
        'CiliumBGPClusterConfig in version "v2" cannot be handled as a CiliumBGPClusterConfig: '
        'strict decoding error: unknown field "spec.a", unknown field "spec.b"'
    )


def test_peer_config_defaults_fill_present_sections_only() -> None:
    manifest = {"spec": {"transport": {}, "timers": {"holdTimeSeconds": 9},
                         "gracefulRestart": {"enabled": True}}}
    assert apply_defaults("v2", PEER, manifest)["spec"] == {
        "ebgpMultihop": 1,
        "transport": {"peerPort": 179},
        "timers": {"connectRetryTimeSeconds": 120, "holdTimeSeconds": 9,
                   "keepAliveTimeSeconds": 30},
        "gracefulRestart": {"enabled": True, "restartTimeSeconds": 120},
    }
    assert apply_defaults("v2", PEER, {"spec": {}})["spec"] == {"ebgpMultihop": 1}


def test_pool_defaults_disabled_but_not_allow_first_last() -> None:
    assert apply_defaults("v2", POOL, {"spec": {"blocks": []}})["spec"] == {
        "blocks": [], "disabled": False,
    }


def test_nulls_are_dropped_or_defaulted() -> None:
    manifest = {"spec": {"timers": {"holdTimeSeconds": None}, "authSecretRef": None}}
    stored, errors = admit("v2", PEER, manifest)
    assert errors == []
    assert stored["spec"] == {"ebgpMultihop": 1, "timers": {
        "holdTimeSeconds": 90, "connectRetryTimeSeconds": 120, "keepAliveTimeSeconds": 30}}


def test_null_spec_is_missing() -> None:
    [error] = validate("v2", POOL, {"spec": None})
    assert (error.field, error.type) == ("spec", "FieldValueRequired")


def test_unknown_top_level_fields_are_pruned_metadata_and_status_kept() -> None:
    manifest = {"apiVersion": "cilium.io/v2", "kind": POOL, "extra": 1,
                "metadata": {"name": "x", "labels": {"a": "b"}}, "spec": {},
                "status": {"conditions": []}}
    assert unknown_fields("v2", POOL, manifest) == ["extra"]
    assert prune("v2", POOL, manifest) == {
        "apiVersion": "cilium.io/v2", "kind": POOL, "metadata": {"name": "x", "labels": {"a": "b"}},
        "spec": {}, "status": {"conditions": []},
    }


def test_inputs_are_not_modified() -> None:
    manifest = {"spec": {"transport": {}, "bogus": 1}}
    before = copy.deepcopy(manifest)
    admit("v2", PEER, manifest)
    apply_defaults("v2", PEER, manifest)
    prune("v2", PEER, manifest)
    assert manifest == before
