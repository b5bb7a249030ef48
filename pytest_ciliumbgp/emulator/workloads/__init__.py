"""The embedded lab's workloads: pods in network namespaces, their scheduler and controllers."""
