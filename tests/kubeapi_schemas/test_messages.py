"""Field paths, cause types and messages as kube-apiserver writes them for the rules that
matter to the suite."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ciliumbgp.emulator.kubeapi.cilium_validation import validate
from pytest_ciliumbgp.emulator.kubeapi.errors import FieldError, invalid

POOL = "CiliumLoadBalancerIPPool"
CLUSTER = "CiliumBGPClusterConfig"
PEER = "CiliumBGPPeerConfig"
ADVERT = "CiliumBGPAdvertisement"


def _obj(kind: str, spec: Any, version: str = "v2") -> dict[str, Any]:
    return {"apiVersion": f"cilium.io/{version}", "kind": kind, "metadata": {"name": "x"},
            "spec": spec}


def _cluster(*peers: dict[str, Any], **instance: Any) -> dict[str, Any]:
    return _obj(CLUSTER, {"bgpInstances": [{"name": "i", "localASN": 65001, **instance,
                                            "peers": list(peers)}]})


def test_pool_blocks_as_a_string_is_refused_naming_spec_blocks() -> None:
    errors = validate("v2", POOL, _obj(POOL, {"blocks": "172.16.1.0/24"}))
    assert errors == [FieldError(
        "spec.blocks", "FieldValueTypeInvalid",
        'Invalid value: "string": spec.blocks in body must be of type array: "string"',
    )]
    status = invalid(POOL, "x", "cilium.io", errors).status()
    assert "spec.blocks" in status["message"]


def test_pool_blocks_as_a_list_is_accepted() -> None:
    assert validate("v2", POOL, _obj(POOL, {"blocks": [{"cidr": "172.16.1.0/24"}]})) == []


def test_missing_spec_is_required() -> None:
    manifest = _obj(POOL, None)
    del manifest["spec"]
    assert validate("v2", POOL, manifest) == [
        FieldError("spec", "FieldValueRequired", "Required value")
    ]


def test_missing_instances_is_required() -> None:
    assert validate("v2", CLUSTER, _obj(CLUSTER, {}))[0] == FieldError(
        "spec.bgpInstances", "FieldValueRequired", "Required value"
    )


def test_enum_lists_the_supported_values() -> None:
    errors = validate("v2", POOL, _obj(POOL, {"allowFirstLastIPs": "maybe"}))
    assert errors == [FieldError(
        "spec.allowFirstLastIPs", "FieldValueNotSupported",
        'Unsupported value: "maybe": supported values: "Yes", "No"',
    )]


def test_out_of_range_asn_names_the_peer_by_index() -> None:
    manifest = _cluster(
        {"name": "a", "peerAddress": "10.0.0.1", "peerASN": 65000},
        {"name": "b", "peerAddress": "10.0.0.2", "peerASN": 4294967296},
    )
    assert validate("v2", CLUSTER, manifest) == [FieldError(
        "spec.bgpInstances[0].peers[1].peerASN", "FieldValueInvalid",
        "Invalid value: 4294967296: spec.bgpInstances[0].peers[1].peerASN in body should be "
        "less than or equal to 4294967295",
    )]


def test_port_below_minimum() -> None:
    assert validate("v2", PEER, _obj(PEER, {"transport": {"peerPort": 0}})) == [FieldError(
        "spec.transport.peerPort", "FieldValueInvalid",
        "Invalid value: 0: spec.transport.peerPort in body should be greater than or equal to 1",
    )]


def test_boolean_where_an_integer_belongs() -> None:
    error, _ = validate("v2", PEER, _obj(PEER, {"ebgpMultihop": True}))
    assert error.message == (
        'Invalid value: "boolean": spec.ebgpMultihop in body must be of type integer: "boolean"'
    )


def test_integral_float_is_an_integer() -> None:
    assert validate("v2", PEER, _obj(PEER, {"transport": {"peerPort": 179.0}})) == []


def test_bad_cidr_is_a_format_error() -> None:
    assert validate("v2", POOL, _obj(POOL, {"blocks": [{"cidr": "pool-a"}]})) == [FieldError(
        "spec.blocks[0].cidr", "FieldValueTypeInvalid",
        'Invalid value: "pool-a": spec.blocks[0].cidr in body must be of type cidr: "pool-a"',
    )]


def test_service_advertisement_needs_service() -> None:
    spec = {"advertisements": [{"advertisementType": "PodCIDR"},
                               {"advertisementType": "Service"}]}
    assert validate("v2", ADVERT, _obj(ADVERT, spec)) == [FieldError(
        "spec.advertisements[1]", "FieldValueInvalid",
        "Invalid value: \"object\": service field is required for the 'Service' "
        "advertisementType",
    )]


def test_service_advertisement_needs_addresses() -> None:
    spec = {"advertisements": [{"advertisementType": "Service", "service": {}}]}
    [required, skipped] = validate("v2", ADVERT, _obj(ADVERT, spec))
    assert required == FieldError(
        "spec.advertisements[0].service.addresses", "FieldValueRequired", "Required value"
    )
    assert skipped.field == "<nil>"
    assert "some validation rules were not checked" in skipped.message


@pytest.mark.parametrize("version", ["v2", "v2alpha1"])
def test_pod_cidr_takes_no_selector(version: str) -> None:
    spec = {"advertisements": [{"advertisementType": "PodCIDR", "selector": {}}]}
    assert validate(version, ADVERT, _obj(ADVERT, spec, version)) == [FieldError(
        "spec.advertisements[0]", "FieldValueInvalid",
        "Invalid value: \"object\": selector field is not allowed for the 'PodCIDR' "
        "advertisementType",
    )]


def test_pod_cidr_takes_no_service_in_v2_only() -> None:
    spec = {"advertisements": [{"advertisementType": "PodCIDR",
                                "service": {"addresses": ["ClusterIP"]}}]}
    [error] = validate("v2", ADVERT, _obj(ADVERT, spec))
    assert error.message.endswith("service field is not allowed for non-'Service' "
                                  "advertisementType")
    assert validate("v2alpha1", ADVERT, _obj(ADVERT, spec, "v2alpha1")) == []


def test_keepalive_is_checked_against_the_defaulted_hold_time() -> None:
    assert validate("v2", PEER, _obj(PEER, {"timers": {"keepAliveTimeSeconds": 91}})) == [
        FieldError("spec.timers", "FieldValueInvalid",
                   'Invalid value: "object": keepAliveTimeSeconds can not be larger than '
                   "holdTimeSeconds")
    ]


def test_duplicate_peer_names() -> None:
    manifest = _cluster({"name": "tor", "peerAddress": "10.0.0.1"},
                        {"name": "tor", "peerAddress": "10.0.0.2"})
    assert validate("v2", CLUSTER, manifest) == [FieldError(
        "spec.bgpInstances[0].peers[1]", "FieldValueDuplicate",
        'Duplicate value: map[string]interface {}{"name":"tor"}',
    )]


def test_too_many_instances() -> None:
    spec = {"bgpInstances": [{"name": f"i{n}"} for n in range(17)]}
    assert validate("v2", CLUSTER, _obj(CLUSTER, spec)) == [FieldError(
        "spec.bgpInstances", "FieldValueTooMany", "Too many: 17: must have at most 16 items"
    ), FieldError(
        "<nil>", "FieldValueInvalid",
        'Invalid value: "null": some validation rules were not checked because the object was '
        "invalid; correct the existing errors to complete validation",
    )]


def test_label_value_too_long() -> None:
    spec = {"serviceSelector": {"matchLabels": {"app": "a" * 64}}}
    assert validate("v2", POOL, _obj(POOL, spec)) == [FieldError(
        "spec.serviceSelector.matchLabels.app", "FieldValueTooLong",
        "Too long: may not be more than 63 bytes",
    )]


def test_peer_needs_an_address_or_discovery_in_v2() -> None:
    [error] = validate("v2", CLUSTER, _cluster({"name": "tor"}))
    assert error == FieldError(
        "spec.bgpInstances[0].peers[0]", "FieldValueInvalid",
        'Invalid value: "object": one of peerAddress or autoDiscovery must be set',
    )


def test_bad_peer_address_names_the_pattern() -> None:
    [error] = validate("v2", CLUSTER, _cluster({"name": "tor", "peerAddress": "300.1.1.1"}))
    assert error.field == "spec.bgpInstances[0].peers[0].peerAddress"
    assert error.message.startswith(
        'Invalid value: "300.1.1.1": spec.bgpInstances[0].peers[0].peerAddress in body should '
        "match '"
    )


def test_unknown_kind_or_version_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="CiliumNode"):
        validate("v2", "CiliumNode", {"spec": {}})
    with pytest.raises(ValueError, match="v1"):
        validate("v1", POOL, {"spec": {}})
