"""The CRDs the emulated API serves carry the schemas it validates with, so a client that
reads ``openAPIV3Schema`` to learn whether this Cilium has a field gets the true answer."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas import SPECS
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.nodes import Arr, Int, Obj, Str
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas.openapi import openapi
from pytest_ciliumbgp.kube.client import connect
from pytest_ciliumbgp.kube.versions import schema_has_field
from tests.apiserver import Api

AGGREGATION = "spec.advertisements[].service.aggregationLengthIPv4"


@pytest.mark.parametrize(("path", "present"), [
    (AGGREGATION, True),
    ("spec.advertisements[].selector", True),
    ("spec.advertisements[].service.noSuchField", False),
])
def test_schema_has_field_reads_the_served_crd(api: Api, path: str, present: bool) -> None:
    cluster = connect(api.kubeconfig)
    assert schema_has_field(cluster, "ciliumbgpadvertisements", "v2", path) is present


def test_every_served_kind_has_a_structural_spec_schema(api: Api) -> None:
    cluster = connect(api.kubeconfig)
    listing = cluster.call_json("list CRDs",
                                cluster.apiextensions.list_custom_resource_definition)
    for crd in listing["items"]:
        for version in crd["spec"]["versions"]:
            spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
            where = (crd["metadata"]["name"], version["name"])
            assert spec["type"] == "object", where
            assert spec["properties"], where
    assert {kind for _, kind in SPECS} >= {"CiliumBGPAdvertisement", "CiliumLoadBalancerIPPool"}


def test_rendering_keeps_types_limits_and_list_map_keys() -> None:
    node = Obj({"name": Str(min_length=1), "items": Arr(Obj({"key": Str(), "n": Int(maximum=9)},
                                                             required=("key",)),
                                                         map_keys=("key",))},
               required=("name",))
    assert openapi(node) == {
        "type": "object", "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "items": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["key"],
                      "items": {"type": "object", "required": ["key"], "properties": {
                          "key": {"type": "string"},
                          "n": {"type": "integer", "maximum": 9}}}},
        },
    }
