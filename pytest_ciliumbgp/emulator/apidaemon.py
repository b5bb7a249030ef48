"""The lab daemon: serves the emulated Kubernetes API of one embedded lab over HTTPS on
127.0.0.1 and runs the emulated cluster behind it (Cilium's operator and agents, kubelet and
controllers) until SIGTERM. ``cbgp-lab up`` starts it; it registers the inventory's nodes as Node
objects, creates the boot objects and writes the kubeconfig (server URL, CA, bearer token) into
the lab's state directory.

    python -m pytest_ciliumbgp.emulator.apidaemon --state-dir DIR --inventory PATH --lab-id ID \
        --speakers-dir DIR [--fault NAME[=ARG]]... [--option KEY=VALUE]...

The token is read from ``DIR/token`` (never from the command line, where ``ps`` shows it), the
Cilium release to play from ``DIR/cilium-version`` (``1.17``, ``1.18.2``…; absent: the newest),
both written there by the lab. ``DIR/api.json`` says where it serves and which release it plays.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from pytest_ciliumbgp.emulator.faults import Faults
from pytest_ciliumbgp.emulator.kubeapi import tls
from pytest_ciliumbgp.emulator.kubeapi.cilium_release import CiliumRelease, cilium_release
from pytest_ciliumbgp.emulator.kubeapi.objectmeta import now
from pytest_ciliumbgp.emulator.kubeapi.server import ApiServer
from pytest_ciliumbgp.emulator.kubeapi.store import Store
from pytest_ciliumbgp.emulator.nodes import node_objects
from pytest_ciliumbgp.inventory import Inventory, load_inventory

KUBECONFIG = "kubeconfig"
TOKEN = "token"  # noqa: S105 - the file name, not the token
CILIUM_VERSION = "cilium-version"
ENDPOINT = "api.json"


def seed(store: Store, inventory: Inventory) -> None:
    """What a freshly installed cluster holds: a Node per inventory node, Ready."""
    for node in node_objects(inventory, now()):
        created = store.create("nodes", node)
        store.update_status("nodes", {**created, "status": node["status"]})


def played_release(state_dir: Path) -> CiliumRelease:
    """The release named in ``state_dir``'s cilium-version file, else the newest."""
    try:
        return cilium_release((state_dir / CILIUM_VERSION).read_text())
    except FileNotFoundError:
        return cilium_release()


def write_private(path: Path, text: str) -> None:
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    partial.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cbgp-lab-apiserver")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--lab-id", required=True)
    parser.add_argument("--speakers-dir", required=True, type=Path)
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--option", action="append", default=[])
    args = parser.parse_args(argv)
    # Imported here: ``cbgp-lab`` imports this module for its constants, not for the cluster.
    from pytest_ciliumbgp.emulator.cluster import EmulatedCluster

    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    state_dir: Path = args.state_dir
    token = (state_dir / TOKEN).read_text().strip()
    inventory = load_inventory(args.inventory)
    store = Store(cilium=played_release(state_dir))
    seed(store, inventory)
    options = dict(option.split("=", 1) for option in args.option)
    cluster = EmulatedCluster(store, inventory, args.lab_id, args.speakers_dir,
                              faults=Faults.parse(args.fault), options=options)
    cluster.boot()
    certificate = tls.self_signed(state_dir / "pki")
    server = ApiServer(store, token, certificate=certificate)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    cluster.start()
    try:
        kubeconfig = tls.kubeconfig(
            server.url, token, certificate.authority_data(), name=f"{args.lab_id}-lab"
        )
        write_private(state_dir / KUBECONFIG, kubeconfig)
        (state_dir / ENDPOINT).write_text(json.dumps({
            "url": server.url, "pid": os.getpid(), "cilium_version": store.cilium.version}))
        print(f"serving the Kubernetes API on {server.url} as Cilium {store.cilium.version}",
              flush=True)
        stopping.wait()
    finally:
        cluster.stop()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
