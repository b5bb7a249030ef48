"""Every corpus object is judged the same by the project's schemas and by the real CRDs:
accepted or rejected, the same error paths, the same stored object (pruned and defaulted) and
the same pruned fields."""

from __future__ import annotations

import pytest

from pytest_ciliumbgp.emulator.kubeapi import cilium_validation
from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas import SPECS_BEFORE_1_18
from tests.kubeapi_schemas.crd_reference import (
    Case,
    before_1_18_set,
    corpus,
    judge,
    served_schema,
)

CASES = corpus()


def test_corpus_covers_every_kind_and_version() -> None:
    for version in cilium_validation.VERSIONS:
        for kind in cilium_validation.KINDS:
            expectations = [c.expect for c in CASES if (c.version, c.kind) == (version, kind)]
            assert expectations.count("valid") >= 8, f"{version} {kind}: too few valid objects"
            assert expectations.count("invalid") >= 8, f"{version} {kind}: too few invalid objects"


@pytest.mark.usefixtures("real_crds")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_verdict_as_current_crd(case: Case) -> None:
    manifest = case.load()
    schema = served_schema("current", case.kind, case.version)
    assert schema is not None, f"{case.kind} {case.version} not served by the current CRD"
    reference = judge(schema, manifest)
    stored, errors = cilium_validation.admit(case.version, case.kind, manifest)

    assert reference.accepted == (case.expect != "invalid"), (
        f"corpus says {case.expect}, the CRD says errors at {sorted(reference.error_paths)}"
    )
    ours = {error.field for error in errors}
    if "<nil>" in ours:  # CEL skipped after a blocking error: ours is the schema part only
        assert ours - {"<nil>"} <= reference.error_paths
    else:
        assert ours == reference.error_paths, f"ours: {errors}"
    assert stored == reference.stored
    assert cilium_validation.unknown_fields(case.version, case.kind, manifest) == (
        reference.dropped
    )
    if case.expect != "invalid":
        assert bool(reference.dropped) == (case.expect == "pruned")


# Where an older CRD of the same version judges a corpus object the other way, and why.
OLDER_CRD_FLIPS: dict[str, tuple[str, ...]] = {
    "older v2 (1.18 cycle) has no CEL rules": (
        "v2-CiliumBGPAdvertisement-invalid-pod-cidr-with-selector",
        "v2-CiliumBGPAdvertisement-invalid-pod-cidr-with-service",
        "v2-CiliumBGPAdvertisement-invalid-service-without-service",
        "v2-CiliumBGPClusterConfig-invalid-peer-without-address",
        "v2-CiliumBGPNodeConfig-invalid-peer-without-address",
        "v2-CiliumBGPPeerConfig-invalid-keepalive-above-hold",
        "v2-CiliumBGPPeerConfig-invalid-keepalive-above-default-hold",
    ),
    "older v2 has no aggregationLength, Interface, autoDiscovery or peerInterface fields": (
        "v2-CiliumBGPAdvertisement-invalid-aggregation-too-long",
        "v2-CiliumBGPAdvertisement-valid-interface",
        "v2-CiliumBGPClusterConfig-invalid-interface-not-link-local",
        "v2-CiliumBGPClusterConfig-invalid-unnumbered-and-gateway",
        "v2-CiliumBGPNodeConfig-invalid-address-family-enum",
        "v2-CiliumBGPNodeConfig-invalid-gateway-mode-without-gateway",
        "v2-CiliumBGPNodeConfig-invalid-local-address-with-interface",
        "v2-CiliumBGPNodeConfigOverride-invalid-local-address-with-interface",
    ),
    "older v2alpha1 (1.16/1.17) has no CEL rules and does not require service.addresses": (
        "v2alpha1-CiliumBGPAdvertisement-invalid-pod-cidr-with-selector",
        "v2alpha1-CiliumBGPAdvertisement-invalid-service-without-service",
        "v2alpha1-CiliumBGPAdvertisement-invalid-service-without-addresses",
        "v2alpha1-CiliumBGPPeerConfig-invalid-keepalive-above-hold",
        "v2alpha1-CiliumBGPPeerConfig-invalid-keepalive-above-default-hold",
    ),
    "older v2alpha1 lacks aggregationLength, instance localPort and override localASN": (
        "v2alpha1-CiliumBGPAdvertisement-invalid-aggregation-too-long",
        "v2alpha1-CiliumBGPClusterConfig-invalid-local-port-zero",
        "v2alpha1-CiliumBGPNodeConfigOverride-invalid-local-asn-zero",
    ),
    "older v2alpha1 NodeConfig peerASN has minimum 1": (
        "v2alpha1-CiliumBGPNodeConfig-valid-peer-asn-zero",
    ),
    "older v2alpha1 pool is the pre-1.15 one: spec.cidrs required, no blocks": tuple(
        f"v2alpha1-CiliumLoadBalancerIPPool-{name}"
        for name in (
            "valid-cidr-block", "valid-disabled", "valid-empty-spec", "valid-free-start-stop",
            "valid-host-bits-set", "valid-ipv6", "valid-leading-zeros", "valid-selector",
            "valid-start-stop", "pruned-unknown-block-field",
        )
    ),
}
_FLIPPED = {case_id for ids in OLDER_CRD_FLIPS.values() for case_id in ids}


def test_older_crd_flips_name_corpus_cases() -> None:
    assert {case.id for case in CASES} >= _FLIPPED


@pytest.mark.usefixtures("real_crds")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_older_crd_differs_only_where_documented(case: Case) -> None:
    schema = served_schema(f"older/{case.version}", case.kind, case.version)
    assert schema is not None
    accepted_now = case.expect != "invalid"
    accepted_then = judge(schema, case.load()).accepted
    if case.id in _FLIPPED:
        assert accepted_then != accepted_now, f"{case.id} no longer differs under the older CRD"
    else:
        assert accepted_then == accepted_now, (
            f"older/{case.version} {'accepts' if accepted_then else 'rejects'} {case.id}"
        )


ALPHA_CASES = [case for case in CASES if case.version == "v2alpha1"]


@pytest.mark.usefixtures("real_crds")
@pytest.mark.parametrize("case", ALPHA_CASES, ids=[c.id for c in ALPHA_CASES])
def test_same_verdict_as_the_1_16_and_1_17_crd(case: Case) -> None:
    """What an API server playing Cilium 1.16/1.17 does with each v2alpha1 object is what
    those releases' CRDs do: accept or refuse at the same paths, store the same object."""
    manifest = case.load()
    schema = served_schema(before_1_18_set(case.kind), case.kind, case.version)
    assert schema is not None
    reference = judge(schema, manifest)
    stored, errors = cilium_validation.admit(case.version, case.kind, manifest,
                                             SPECS_BEFORE_1_18)

    assert {error.field for error in errors} == reference.error_paths, f"ours: {errors}"
    assert stored == reference.stored
    assert cilium_validation.unknown_fields(case.version, case.kind, manifest,
                                            SPECS_BEFORE_1_18) == reference.dropped
