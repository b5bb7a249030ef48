"""The run's environment as Allure shows it on the report's front page (``environment.properties``):
which lab, what of it is emulated, the Cilium, FRR and kernel versions, the router's multipath
hash policy before any test changed it, the Cilium API version served, Python and pytest.

The lab's facts are read once per run, by the first process that gets the lab (an xdist worker,
or the only process), and kept in the run directory; the controller writes the file at the end.
A lab that does not answer a question gets ``unreadable: <why>`` for it, never an error.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Mapping
from importlib.metadata import version
from pathlib import Path

from pytest_ciliumbgp import lifecycle
from pytest_ciliumbgp.kube.client import Cluster, connect
from pytest_ciliumbgp.kube.errors import KubeError
from pytest_ciliumbgp.kube.versions import detect_cilium_api
from pytest_ciliumbgp.labs import Lab
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.router.sysctl import HASH_POLICY_LOCK, read_hash_policy
from pytest_ciliumbgp.settings import Settings
from pytest_ciliumbgp.transport import Transport

ENVIRONMENT_FILE = "environment.properties"
#: where the first process to get the lab leaves what it read, in the run directory
LAB_FACTS_FILE = "cbgp-environment.json"
_LAB_FACTS_LOCK = "cbgp-environment"
CILIUM_DAEMONSET = ("kube-system", "cilium")
LAB_FACT_KEYS = ("cilium.version", "cilium.api", "frr.version", "router.kernel",
                 "router.fib_multipath_hash_policy")


def run_facts(settings: Settings) -> dict[str, str]:
    """What this process knows without asking the lab."""
    emulated = settings.lab_class.emulated
    return {
        "lab": f"{settings.lab.value} ({settings.lab.origin})",
        "lab.emulated": ", ".join(emulated) if emulated else "nothing (a real cluster)",
        "inventory": f"{settings.inventory.name} ({settings.lab_file.value})",
        "python.version": platform.python_version(),
        "pytest.version": version("pytest"),
    }


def read_lab_facts(lab: Lab, run_dir: Path) -> dict[str, str]:
    """Ask the lab once for each fact; what cannot be read says why."""
    try:
        router = lab.router()
    except Exception as err:  # no router handle: every router fact says why
        unreadable = _unreadable(err)
        facts = dict.fromkeys(("frr.version", "router.kernel",
                               "router.fib_multipath_hash_policy"), unreadable)
    else:
        facts = _router_facts(router, run_dir)
    try:
        cluster = connect(lab.kubeconfig())
    except KubeError as err:
        unreadable = _unreadable(err)
        return {"cilium.version": unreadable, "cilium.api": unreadable, **facts}
    try:
        return {"cilium.version": _answer(lambda: cilium_version(cluster)),
                "cilium.api": _answer(lambda: cilium_api_version(cluster)), **facts}
    finally:
        cluster.close()


def _router_facts(router: FrrRouter, run_dir: Path) -> dict[str, str]:
    return {
        "frr.version": _answer(lambda: frr_version(router)),
        "router.kernel": _answer(lambda: kernel_release(router.transport)),
        "router.fib_multipath_hash_policy": _answer(
            lambda: default_hash_policy(router.transport, run_dir)),
    }


def _answer(read: Callable[[], str]) -> str:
    try:
        return read()
    except Exception as err:  # evidence must never fail the run; the report says why instead
        return _unreadable(err)


def _unreadable(err: BaseException) -> str:
    return f"unreadable: {' '.join(str(err).split()) or type(err).__name__}"


def frr_version(router: FrrRouter) -> str:
    """``FRRouting 10.3`` from the first line of ``show version``."""
    lines = [line.strip() for line in router.vtysh_text("show version").splitlines()]
    first = next((line for line in lines if line), "")
    if not first:
        return "unknown (show version printed nothing)"
    return first.split(" (", 1)[0]


def kernel_release(transport: Transport) -> str:
    return transport.run(["uname", "-r"], timeout=10.0).check().stdout.strip()


def default_hash_policy(transport: Transport, run_dir: Path) -> str:
    """The router's policy while no test has it changed: read under the lock that a test
    holds from changing the policy until restoring it."""
    with lifecycle.exclusive(run_dir, HASH_POLICY_LOCK):
        policy = read_hash_policy(transport)
    return f"{int(policy)} ({policy.label})"


def cilium_version(cluster: Cluster) -> str:
    """The image tag of the cilium agent DaemonSet (``v1.18.2``), or ``unknown`` and why."""
    namespace, name = CILIUM_DAEMONSET
    try:
        daemonset = cluster.call_json(f"read DaemonSet {namespace}/{name}",
                                      cluster.apps.read_namespaced_daemon_set, name, namespace)
    except KubeError as err:
        if err.not_found:
            return f"unknown (no DaemonSet {namespace}/{name})"
        raise
    pod_spec = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
    listed = pod_spec.get("containers") or [{}]
    agent = next((c for c in listed if c.get("name") == "cilium-agent"), listed[0])
    image = str(agent.get("image") or "")
    return image_tag(image) or f"unknown (image {image or 'not set'} has no tag)"


def image_tag(image: str) -> str:
    """``quay.io/cilium/cilium:v1.18.2@sha256:…`` → ``v1.18.2``; ``""`` without a tag (a
    registry's port is not a tag)."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.partition(":")[2]


def cilium_api_version(cluster: Cluster) -> str:
    api = detect_cilium_api(cluster)
    return f"{api.api_version} (served: {', '.join(api.served_versions)})"


def record_lab_facts(lab: Lab, run_dir: Path) -> None:
    """Read the lab's facts unless a process of this run already did. Never raises: a run
    directory that cannot be written only costs the report its lab facts."""
    try:
        with lifecycle.exclusive(run_dir, _LAB_FACTS_LOCK):
            path = run_dir / LAB_FACTS_FILE
            if not path.exists():
                path.write_text(json.dumps(read_lab_facts(lab, run_dir)))
    except OSError:
        return


def recorded_lab_facts(run_dir: Path | None) -> dict[str, str]:
    """What :func:`record_lab_facts` kept, or a note for each fact when no test got the lab."""
    path = run_dir / LAB_FACTS_FILE if run_dir is not None else None
    if path is None or not path.exists():
        return dict.fromkeys(LAB_FACT_KEYS, "not read: no test used the lab")
    try:
        facts = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return dict.fromkeys(LAB_FACT_KEYS, _unreadable(err))
    return {str(key): str(value) for key, value in facts.items()}


def cilium_summary(facts: Mapping[str, str]) -> str:
    """One line for the end of the run naming the Cilium tested and its API, e.g. ``cbgp:
    Cilium v1.17.0, API cilium.io/v2alpha1 (served: v2alpha1)``; "" when no test got the lab."""
    version, api = facts.get("cilium.version", ""), facts.get("cilium.api", "")
    if not version or version.startswith("not read"):
        return ""
    return f"cbgp: Cilium {version}, API {api}"


def properties(values: Mapping[str, str]) -> str:
    """``key=value`` lines in the ``.properties`` format, escaped so any text reads back."""
    return "".join(f"{_escape(key, key=True)}={_escape(value)}\n" for key, value in values.items())


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def _escape(text: str, *, key: bool = False) -> str:
    escaped = []
    for index, char in enumerate(text):
        if char in _ESCAPES:
            escaped.append(_ESCAPES[char])
        elif (key and char in " =:#!") or (index == 0 and char == " "):
            escaped.append("\\" + char)  # a separator in a key; a value's leading blank
        elif " " <= char <= "~":
            escaped.append(char)
        else:  # the format is Latin-1: anything else as UTF-16 \\u escapes
            units = char.encode("utf-16-be")
            escaped.extend(f"\\u{units[i]:02x}{units[i + 1]:02x}"
                           for i in range(0, len(units), 2))
    return "".join(escaped)


def write_environment(alluredir: Path, values: Mapping[str, str]) -> Path:
    path = alluredir / ENVIRONMENT_FILE
    alluredir.mkdir(parents=True, exist_ok=True)
    path.write_text(properties(values), encoding="ascii")
    return path
