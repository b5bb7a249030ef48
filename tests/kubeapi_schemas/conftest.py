"""Tests that need the real CRDs skip, with the reason, when ../shared is not beside the repo."""

from __future__ import annotations

import pytest

from tests.kubeapi_schemas.crd_reference import CRDS, crds_present


@pytest.fixture
def real_crds() -> None:
    if not crds_present():
        pytest.skip(f"real Cilium CRDs not found at {CRDS} (the repo's sibling shared/)")
