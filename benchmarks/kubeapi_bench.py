"""Measure the embedded lab's Kubernetes API against issue 3's numbers, through the official
client, with the server in a subprocess of its own (so its RSS is its own):

- get/patch requests per second with 1,000 objects stored (target >= 500);
- watch delivery latency, from a write returning to the watcher receiving it (p95 <= 50 ms);
- server RSS with 1,000 objects (target <= 80 MB).

    python benchmarks/kubeapi_bench.py [--objects 1000] [--requests 2000] [--writes 300]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config
import kubernetes.watch

# The client's annotations are partial; it is used dynamically here, as the suite does.
k8s: Any = kubernetes

SERVE = """
import sys, time
from pathlib import Path
from pytest_ciliumbgp.emulator.kubeapi.server import ApiServer
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.kubeapi.tls import self_signed
certificate = self_signed(Path(sys.argv[2]))
server = ApiServer(Store(), sys.argv[1], certificate=certificate)
server.start()
print(server.url, flush=True)
sys.stdin.read()
"""


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def connect(url: str, token: str, certificate: Path, directory: Path) -> Any:
    kubeconfig = directory / "kubeconfig"
    authority = __import__("base64").b64encode(certificate.read_bytes()).decode()
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": url,
                                                 "certificate-authority-data": authority}}],
        "users": [{"name": "lab", "user": {"token": token}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}],
    }))
    configuration = k8s.client.Configuration()
    k8s.config.load_kube_config(str(kubeconfig), client_configuration=configuration)
    return k8s.client.ApiClient(configuration)


def seed(core: Any, objects: int) -> None:
    for index in range(objects):
        core.create_namespaced_config_map("default", {
            "metadata": {"name": f"cm-{index}", "labels": {"bench": "yes", "n": str(index)}},
            "data": {"payload": "x" * 200}})


def get_patch_rate(core: Any, objects: int, requests: int) -> float:
    started = time.perf_counter()
    for count in range(requests):
        name = f"cm-{random.randrange(objects)}"  # noqa: S311
        if count % 2:
            core.patch_namespaced_config_map(name, "default", {"data": {"n": str(count)}})
        else:
            core.read_namespaced_config_map(name, "default")
    return requests / (time.perf_counter() - started)


def watch_latencies_ms(core: Any, writes: int) -> list[float]:
    received: dict[str, float] = {}
    start_version = core.list_namespaced_config_map("default", limit=1).metadata.resource_version
    ready = threading.Event()

    def watcher() -> None:
        stream = k8s.watch.Watch()
        ready.set()
        for event in stream.stream(core.list_namespaced_config_map, "default",
                                   resource_version=start_version, timeout_seconds=60):
            received[event["object"].metadata.resource_version] = time.perf_counter()
            if len(received) >= writes:
                stream.stop()

    thread = threading.Thread(target=watcher, daemon=True)
    thread.start()
    ready.wait()
    time.sleep(0.5)
    returned: dict[str, float] = {}
    for count in range(writes):
        written = core.patch_namespaced_config_map("cm-0", "default",
                                                   {"data": {"w": str(count)}})
        returned[written.metadata.resource_version] = time.perf_counter()
        time.sleep(0.005)
    thread.join(timeout=30)
    # The event often arrives before the write has returned: that counts as no delay.
    return [max(0.0, (received[v] - t) * 1000) for v, t in returned.items() if v in received]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=300)
    options = parser.parse_args()
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        server = subprocess.Popen([sys.executable, "-c", SERVE, token, scratch],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            api_client = connect(url, token, directory / "apiserver.crt", directory)
            core = k8s.client.CoreV1Api(api_client)
            seed(core, options.objects)
            rate = get_patch_rate(core, options.objects, options.requests)
            latencies = sorted(watch_latencies_ms(core, options.writes))
            memory = rss_kib(server.pid)
        finally:
            server.kill()
            server.wait()
    p95 = latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan")
    print(f"objects stored:            {options.objects}")
    print(f"get/patch throughput:      {rate:.0f} req/s (target >= 500)")
    print(f"watch delivery latency:    p50 {statistics.median(latencies):.2f} ms, "
          f"p95 {p95:.2f} ms, max {latencies[-1]:.2f} ms over {len(latencies)}/{options.writes} "
          "writes (target p95 <= 50 ms)")
    print(f"server RSS:                {memory['VmRSS'] / 1024:.1f} MiB "
          f"(peak {memory['VmHWM'] / 1024:.1f} MiB; target <= 80 MB)")


if __name__ == "__main__":
    main()
