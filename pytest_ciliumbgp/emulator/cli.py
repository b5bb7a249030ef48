"""``cbgp-lab``: bring the embedded lab up and down, look at it, run commands on its hosts."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from pytest_ciliumbgp.emulator.faults import CONFIGMAP_NAME, describe
from pytest_ciliumbgp.emulator.kubeapi.cilium_release import DEFAULT_VERSION, SUPPORTED
from pytest_ciliumbgp.emulator.lab import EmbeddedLab, LabConflict, LabUnavailable
from pytest_ciliumbgp.inventory import Inventory, InventoryError, load_inventory
from pytest_ciliumbgp.labs import default_inventory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cbgp-lab",
        description="The embedded lab of pytest-ciliumbgp: FRR and GoBGP in network namespaces.",
    )
    parser.add_argument(
        "--inventory",
        metavar="PATH",
        help="lab inventory (default: env CBGP_LAB_FILE, else the shipped netns inventory)",
    )
    parser.add_argument(
        "--lab-id",
        metavar="ID",
        help="names the lab's namespaces and state (default: env CBGP_LAB_ID, else 'cbgp')",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = commands.add_parser("up", help="start the lab (a running lab is reported, not duplicated)")
    up.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[=ARG]",
        help="make the emulated Cilium misbehave from the start (repeatable; see `faults`)",
    )
    up.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an emulated cilium-agent option in kube-system/cilium-config, e.g. "
        "enable-no-service-endpoints-routable=false (repeatable)",
    )
    up.add_argument(
        "--cilium-version",
        metavar="VERSION",
        help=f"the Cilium release to emulate: {', '.join(SUPPORTED)} or one of their patch "
        "releases; 1.16 and 1.17 serve the BGP and LB-IPAM kinds only as cilium.io/v2alpha1 "
        f"(default: env CBGP_CILIUM_VERSION, else {DEFAULT_VERSION})",
    )
    commands.add_parser(
        "faults",
        help="list the fault switches; set them at up or in ConfigMap kube-system/"
        f"{CONFIGMAP_NAME}",
    )
    commands.add_parser("down", help="remove every namespace and process of the lab")
    commands.add_parser(
        "kubeconfig",
        help="print the lab's kubeconfig path: export KUBECONFIG=$(cbgp-lab kubeconfig)",
    )
    status = commands.add_parser("status", help="hosts, namespaces, processes and BGP sessions")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    execute = commands.add_parser(
        "exec", help="run a command on a lab host: cbgp-lab exec router -- vtysh -c 'show ip bgp'"
    )
    execute.add_argument("host")
    execute.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "faults":
        print("\n".join(describe()))
        return 0
    try:
        lab = EmbeddedLab(_inventory(args.inventory), args.lab_id, progress=_say)
        if args.command == "up":
            return _up(lab, args.fault, _options(args.option), args.cilium_version)
        if args.command == "down":
            return _down(lab)
        if args.command == "status":
            return _status(lab, as_json=args.json)
        if args.command == "kubeconfig":
            return _kubeconfig(lab)
        return _exec(lab, args.host, args.argv)
    except (InventoryError, LabUnavailable, LabConflict, ValueError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) else str(err)
        print(f"cbgp-lab: {message}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"cbgp-lab: {err}", file=sys.stderr)
        return 1


def _inventory(path: str | None) -> Inventory:
    chosen = path or os.environ.get("CBGP_LAB_FILE") or default_inventory("netns")
    if chosen is None:
        raise InventoryError("no inventory: pass --inventory PATH")
    return load_inventory(chosen)


def _say(message: str) -> None:
    print(f"cbgp-lab: {message}", file=sys.stderr, flush=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"--option {pair!r}: expected KEY=VALUE")
        options[key.strip()] = value.strip()
    return options


def _up(lab: EmbeddedLab, faults: list[str], options: dict[str, str],
        cilium_version: str | None) -> int:
    # SIGTERM and SIGHUP take the same road as Ctrl-C: up removes what it made, then exits.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    began = time.monotonic()
    try:
        started = lab.up(faults, options, cilium_version)
    except KeyboardInterrupt:
        _say("interrupted; the partly built lab was removed")
        return 130
    if started:
        _say(
            f"lab {lab.lab_id} up in {time.monotonic() - began:.1f} s; try: "
            "cbgp-lab exec router -- vtysh -c 'show bgp summary'"
        )
    return 0


def _down(lab: EmbeddedLab) -> int:
    began = time.monotonic()
    if lab.down():
        _say(f"lab {lab.lab_id} removed in {time.monotonic() - began:.1f} s")
    else:
        _say(f"lab {lab.lab_id} is not running; nothing to remove")
    return 0


def _status(lab: EmbeddedLab, *, as_json: bool) -> int:
    report = lab.status()
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        playing = f", Cilium {report['cilium_version']}" if report["cilium_version"] else ""
        print(f"lab {report['lab_id']}: {report['state']}{playing} "
              f"(state in {report['state_dir']})")
        for host in report["hosts"]:
            processes = ", ".join(
                f"{p['name']}[{p['pid']}]{'' if p['alive'] else ' DEAD'}" for p in host["processes"]
            )
            present = "" if host["namespace_present"] else " (namespace missing)"
            print(
                f"  {host['name']:<10} {host['role']:<7} {host['namespace']}{present}"
                f"  {' '.join(host['addresses'])}  {processes}"
            )
        for process in report["api_processes"]:
            alive = "" if process["alive"] else " DEAD"
            print(f"  {'api':<10} {'k8s':<7} {report['kubeconfig']}  "
                  f"{process['name']}[{process['pid']}]{alive}")
        for peer, state in report["bgp_sessions"].items():
            print(f"  bgp {peer}: {state}")
    return 0 if report["state"] in ("running", "degraded") else 3


def _kubeconfig(lab: EmbeddedLab) -> int:
    if not lab.is_running():
        raise ValueError(f"lab {lab.lab_id} is not running; start it with cbgp-lab up")
    print(lab.kubeconfig_path)
    return 0


def _exec(lab: EmbeddedLab, host: str, argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        raise ValueError("exec needs a command: cbgp-lab exec HOST -- COMMAND ...")
    if not lab.is_running():
        raise ValueError(f"lab {lab.lab_id} is not running; start it with cbgp-lab up")
    namespace = lab.namespace(host)
    full = ["ip", "netns", "exec", namespace, *lab.host_command(host, command)]
    os.execvp(full[0], full)  # noqa: S606 - argv list, no shell


if __name__ == "__main__":
    sys.exit(main())
