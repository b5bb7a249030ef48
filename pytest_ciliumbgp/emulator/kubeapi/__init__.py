"""A Kubernetes-compatible API server for the embedded lab: enough of kube-apiserver that the
official client and kubectl work against it unchanged, and strict enough that a manifest a real
cluster rejects is rejected here too."""
