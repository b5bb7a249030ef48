"""Time the whole conformance suite on the embedded lab, bring-up and teardown included, and
check that the faithful lab passes it every time (needs root).

Each run brings a lab of its own up, runs ``pytest suites/`` on it (serially, and with
``-n 2 --dist loadgroup``), and brings it down. Reports the wall time of each mode (median,
min, max), the speed-up of ``-n 2`` over serial, and every run that was not green: a flaky
test on the faithful lab is a defect.

    python benchmarks/suite_runs.py [--runs N] [--modes serial,xdist]

``--runs 20 --modes serial --parallel 3`` is the "20 faithful runs" check of issue 5: with
``--parallel N`` that many labs run at once (each its own lab id), which checks for flakes under
load but makes the timings meaningless.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lab.suite_runs import SuiteRun, run_suite

MODES: dict[str, tuple[str, ...]] = {
    "serial": (),
    "xdist": ("-n", "2", "--dist", "loadgroup"),
}


def summary(runs: list[SuiteRun]) -> str:
    seconds = [run.seconds for run in runs]
    return (f"median {statistics.median(seconds):.1f} s, min {min(seconds):.1f} s, "
            f"max {max(seconds):.1f} s over {len(runs)} runs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (default 3)")
    parser.add_argument("--modes", default="serial,xdist",
                        help=f"comma-separated, of {', '.join(MODES)} (default both)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="labs at once (default 1; more only for the flake check)")
    args = parser.parse_args()
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    results: dict[str, list[SuiteRun]] = {mode: [] for mode in modes}
    broken = 0

    free_labs: queue.Queue[str] = queue.Queue()
    for index in range(args.parallel):
        free_labs.put(f"cbgpbench{index}")

    def one(job: tuple[int, str]) -> tuple[int, str, SuiteRun]:
        number, mode = job
        lab_id = free_labs.get()  # a lab id no running job uses
        try:
            return number, mode, run_suite(lab_id, pytest_args=MODES[mode])
        finally:
            free_labs.put(lab_id)

    jobs = [(number, mode) for number in range(1, args.runs + 1) for mode in modes]
    with ThreadPoolExecutor(args.parallel) as pool:
        for number, mode, run in pool.map(one, jobs):
            results[mode].append(run)
            counts = {o: len(run.with_outcome(o)) for o in ("passed", "skipped", "failed",
                                                            "error")}
            print(f"run {number} {mode}: {run.seconds:.1f} s, exit {run.exit_code}, "
                  + ", ".join(f"{n} {o}" for o, n in counts.items() if n), flush=True)
            if run.exit_code != 0:
                broken += 1
                print(run.tail(), flush=True)
    for mode, runs in results.items():
        print(f"{mode}: {summary(runs)}")
    if {"serial", "xdist"} <= set(results):
        serial = statistics.median(r.seconds for r in results["serial"])
        xdist = statistics.median(r.seconds for r in results["xdist"])
        print(f"-n 2 speed-up over serial: {serial / xdist:.2f}x")
    print(f"runs not green: {broken}")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
