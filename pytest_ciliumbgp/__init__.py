"""pytest-ciliumbgp: prove that Cilium's BGP-advertised LoadBalancer Services behave as promised."""

from __future__ import annotations

__version__ = "0.1.0"
