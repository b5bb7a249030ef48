"""Measure the emulated Cilium of the embedded lab (needs root).

Brings up a lab of its own id and reports:
- ``cbgp-lab up`` time and the time until every node's session is Established;
- Service created -> its /32 in the router's kernel FIB (ETP=Cluster, N Services, p50/p95/max);
- last Local backend deleted -> its /32 gone from the router's FIB (N times, p50/p95/max);
- total RSS of the lab (FRR, gobgpd, the lab daemon with its pods) with 10 backend pods.

    python benchmarks/emulated_cilium.py [--samples N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_ciliumbgp.kube import manifests, objects
from pytest_ciliumbgp.kube.client import Cluster, connect
from pytest_ciliumbgp.kube.objects import ObjectRef

CBGP_LAB = [sys.executable, "-m", "pytest_ciliumbgp.emulator.cli"]
LAB_ID = "cbgpbench"
NAMESPACE = "default"
POOL = "bench-pool"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CBGP_LAB, *args], env=env, capture_output=True, text=True, check=True)


def wait(condition: Callable[[], bool], timeout: float = 30, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not reached within {timeout:.0f} s")
        time.sleep(step)


def in_fib(prefix: str) -> bool:
    shown = subprocess.run(["ip", "-n", f"{LAB_ID}-router", "-j", "route", "show", prefix],
                           capture_output=True, text=True, check=False).stdout
    return bool(json.loads(shown or "[]"))


def established(env: dict[str, str]) -> bool:
    sessions = json.loads(run(env, "status", "--json").stdout)["bgp_sessions"]
    return list(sessions.values()).count("Established") == 3


def lb_ip(cluster: Cluster, name: str) -> str | None:
    service = objects.get(cluster, ObjectRef("Service", name, NAMESPACE))
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return str(ingress[0]["ip"]) if ingress else None


def lab_rss_mib(env: dict[str, str]) -> dict[str, float]:
    status = json.loads(run(env, "status", "--json").stdout)
    pids = {f"{h['name']}/{p['name']}": p["pid"] for h in status["hosts"] for p in h["processes"]}
    pids.update({f"api/{p['name']}": p["pid"] for p in status["api_processes"]})
    sizes = {}
    for name, pid in pids.items():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes[name] = int(line.split()[1]) / 1024
    return sizes


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (f"{name:<40} p50 {statistics.median(ordered):5.2f} s  p95 {p95:5.2f} s"
            f"  max {ordered[-1]:5.2f} s  (n={len(ordered)})")


def service_to_fib(cluster: Cluster, samples: int) -> list[float]:
    took = []
    for index in range(samples):
        name = f"bench-cluster-{index}"
        began = time.perf_counter()
        objects.create(cluster, _service(name, "Cluster"))
        wait(lambda name=name: lb_ip(cluster, name) is not None)  # type: ignore[misc]
        address = lb_ip(cluster, name)
        wait(lambda address=address: in_fib(f"{address}/32"))  # type: ignore[misc]
        took.append(time.perf_counter() - began)
        objects.delete(cluster, ObjectRef("Service", name, NAMESPACE))
        wait(lambda address=address: not in_fib(f"{address}/32"))  # type: ignore[misc]
    return took


def withdraw_from_fib(cluster: Cluster, samples: int) -> list[float]:
    name = "bench-local"
    objects.create(cluster, _service(name, "Local"))
    wait(lambda: lb_ip(cluster, name) is not None)
    address = lb_ip(cluster, name)
    took = []
    for index in range(samples):
        pod = f"bench-local-{index}"
        objects.create(cluster, _pod(pod, name, "k8s-w1"))
        wait(lambda: in_fib(f"{address}/32"))
        began = time.perf_counter()
        objects.delete(cluster, ObjectRef("Pod", pod, NAMESPACE))
        wait(lambda: not in_fib(f"{address}/32"))
        took.append(time.perf_counter() - began)
        wait(lambda pod=pod: objects.find(  # type: ignore[misc]
            cluster, ObjectRef("Pod", pod, NAMESPACE)) is None)
    objects.delete(cluster, ObjectRef("Service", name, NAMESPACE))
    return took


def _service(name: str, policy: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": NAMESPACE,
                         "labels": {"bench": "yes", "app": name}},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                     "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 80}]}}


def _pod_spec() -> dict[str, Any]:
    return {"containers": [{"name": "whoami", "image": "traefik/whoami",
                            "ports": [{"containerPort": 80}]}]}


def _pod(name: str, app: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": app}},
            "spec": {**_pod_spec(), "nodeName": node}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="cbgp-bench-")
    env = {**os.environ, "CBGP_LAB_ID": LAB_ID, "CBGP_STATE_DIR": state}
    try:
        began = time.perf_counter()
        run(env, "up")
        up = time.perf_counter() - began
        wait(lambda: established(env), step=0.05)
        sessions = time.perf_counter() - began
        cluster = connect(run(env, "kubeconfig").stdout.strip())
        selector = {"matchLabels": {"bench": "yes"}}
        objects.create(cluster, manifests.ip_pool(POOL, ["172.16.1.0/24"], version="v2",
                                                  service_selector=selector))
        advertisement = manifests.service_advertisement(selector)
        objects.create(cluster, manifests.bgp_advertisement(
            "bench-lb", [advertisement], version="v2", labels={"advertise": "bgp"}))
        to_fib = service_to_fib(cluster, args.samples)
        withdrawn = withdraw_from_fib(cluster, args.samples)
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": "bench-web", "namespace": NAMESPACE},
                      "spec": {"replicas": 10, "selector": {"matchLabels": {"app": "bench-web"}},
                               "template": {"metadata": {"labels": {"app": "bench-web"}},
                                            "spec": _pod_spec()}}}
        objects.create(cluster, deployment)
        wait(lambda: (objects.get(cluster, ObjectRef("Deployment", "bench-web", NAMESPACE))
                      .get("status") or {}).get("readyReplicas") == 10)
        rss = lab_rss_mib(env)
    finally:
        subprocess.run([*CBGP_LAB, "down"], env=env, capture_output=True, check=False)
    print(f"{'cbgp-lab up':<40} {up:5.2f} s")
    print(f"{'up -> 3 sessions Established':<40} {sessions:5.2f} s")
    print(summary("Service created -> /32 in router FIB", to_fib))
    print(summary("last Local backend deleted -> withdrawn", withdrawn))
    print(f"{'lab RSS with 10 backend pods':<40} {sum(rss.values()):5.1f} MiB: "
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(rss.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
