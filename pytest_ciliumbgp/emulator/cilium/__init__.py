"""Emulated Cilium controllers that run against the emulated Kubernetes API store."""
