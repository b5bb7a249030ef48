"""fieldValidation: kubectl asks for Strict, and a real server then refuses unknown fields with
400 BadRequest; without it they are pruned silently."""

from __future__ import annotations

import json

from .conftest import Api
from .rawhttp import call

CLUSTER_CONFIG = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumBGPClusterConfig",
    "metadata": {"name": "cilium-bgp"},
    "spec": {
        "bgpInstances": [{
            "name": "instance-65001",
            "localASN": 65001,
            "peers": [{
                "name": "router",
                "peerAddress": "192.168.10.200",
                "peerASN": 65000,
                # v2 takes only `name` here; v2alpha1 also took group and kind.
                "peerConfigRef": {"name": "cilium-peer", "group": "cilium.io"},
            }],
        }],
    },
}
PATH = "/apis/cilium.io/v2/ciliumbgpclusterconfigs"


def test_strict_field_validation_refuses_a_v2_peer_config_ref_with_group(api: Api) -> None:
    code, status = call(api, "POST", f"{PATH}?fieldValidation=Strict", json.dumps(CLUSTER_CONFIG))

    assert code == 400
    assert status["reason"] == "BadRequest"
    assert (
        'unknown field "spec.bgpInstances[0].peers[0].peerConfigRef.group"' in status["message"]
    )
    assert api.store.find("ciliumbgpclusterconfigs", "cilium-bgp") is None


def test_without_strict_validation_the_unknown_field_is_pruned(api: Api) -> None:
    code, created = call(api, "POST", PATH, json.dumps(CLUSTER_CONFIG))

    assert code == 201
    ref = created["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"]
    assert ref == {"name": "cilium-peer"}


def test_strict_field_validation_accepts_a_clean_object_and_checks_updates(api: Api) -> None:
    clean = json.loads(json.dumps(CLUSTER_CONFIG))
    del clean["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"]["group"]
    code, created = call(api, "POST", f"{PATH}?fieldValidation=Strict", json.dumps(clean))
    assert code == 201

    created["spec"]["bgpInstances"][0]["peers"][0]["peerConfigRef"]["kind"] = "X"
    code, status = call(
        api, "PUT", f"{PATH}/cilium-bgp?fieldValidation=Strict", json.dumps(created)
    )

    assert code == 400
    assert 'unknown field "spec.bgpInstances[0].peers[0].peerConfigRef.kind"' in status["message"]
