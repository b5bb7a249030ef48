"""Time the embedded lab's up and down and measure its memory (needs root).

Runs ``cbgp-lab up`` / ``down`` N times (default 5) under a lab id of its own, and reports the
median and spread of each, the time until every node's BGP session is Established, the peak RSS
of the ``cbgp-lab up`` process and the peak RSS (VmHWM) of the lab's daemons.

    python benchmarks/lab_lifecycle.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CBGP_LAB = [sys.executable, "-m", "pytest_ciliumbgp.emulator.cli"]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CBGP_LAB, *args], env=env, capture_output=True, text=True, check=True)


def established(env: dict[str, str], expected: int) -> bool:
    status = json.loads(run(env, "status", "--json").stdout)
    states: list[str] = list(status["bgp_sessions"].values())
    return states.count("Established") == expected


def daemon_peak_rss_kib(env: dict[str, str]) -> dict[str, int]:
    status = json.loads(run(env, "status", "--json").stdout)
    peaks: dict[str, int] = {}
    for host in status["hosts"]:
        for process in host["processes"]:
            for line in Path(f"/proc/{process['pid']}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[f"{host['name']}/{process['name']}"] = int(line.split()[1])
    return peaks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="cbgp-bench-")
    env = {**os.environ, "CBGP_LAB_ID": "cbgpbench", "CBGP_STATE_DIR": state}
    nodes = 3
    ups, downs, sessions = [], [], []
    peaks: dict[str, int] = {}
    try:
        for _ in range(args.runs):
            began = time.perf_counter()
            run(env, "up")
            ups.append(time.perf_counter() - began)
            while not established(env, nodes):
                time.sleep(0.05)
            sessions.append(time.perf_counter() - began)
            peaks = daemon_peak_rss_kib(env)
            began = time.perf_counter()
            run(env, "down")
            downs.append(time.perf_counter() - began)
    finally:
        subprocess.run([*CBGP_LAB, "down"], env=env, capture_output=True, check=False)
    up_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    def line(name: str, values: list[float]) -> str:
        return (f"{name:<28} median {statistics.median(values):6.2f} s"
                f"  min {min(values):6.2f}  max {max(values):6.2f}  (n={len(values)})")

    print(line("cbgp-lab up", ups))
    print(line("up -> 3 sessions Established", sessions))
    print(line("cbgp-lab down", downs))
    print(f"{'peak RSS, largest child':<28} {up_rss / 1024:6.1f} MiB (cbgp-lab commands)")
    print(f"{'peak RSS, lab daemons':<28} {sum(peaks.values()) / 1024:6.1f} MiB in all: "
          + ", ".join(f"{k} {v / 1024:.1f}" for k, v in sorted(peaks.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
