"""Emulated Cilium controllers that run against the emulated Kubernetes API store."""

from .lbipam import FAULTS as LBIPAM_FAULTS
from .lbipam import LbIpam

__all__ = ["LBIPAM_FAULTS", "LbIpam"]
