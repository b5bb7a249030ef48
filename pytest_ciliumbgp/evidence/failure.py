"""What a failed test leaves in the report: the router's RIB, FIB and BGP summary and the Cilium
objects' status, read at the moment of failure (before the test's objects are deleted).

It uses only what the test already holds (its fixture values): it never starts a lab or opens
a connection the test did not have. Every read is separate and turns its own failure into a
line of text; once the router stops answering, the remaining router reads are skipped rather
than each waiting for its own timeout.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from pytest_ciliumbgp import report
from pytest_ciliumbgp.kube import objects
from pytest_ciliumbgp.kube.client import Cluster
from pytest_ciliumbgp.kube.manifests.meta import ownership_selector
from pytest_ciliumbgp.kube.scenario import LbService, Scenario
from pytest_ciliumbgp.labs import Lab
from pytest_ciliumbgp.router.frr import FrrRouter
from pytest_ciliumbgp.transport import TransportError

#: the fixtures whose values the evidence reads (any other value: only LbService objects)
FIXTURES = ("cbgp_lab", "cbgp_router", "cbgp_kube", "cbgp_scenario")
STEP_TITLE = "On failure: router and Cilium state"
SERVICES_TITLE = "kubernetes: this test's Services (spec and status)"
ROUTER_TIMEOUT_S = 10.0
#: a real router may carry a full table; the lab's is a few dozen routes
MAX_FIB_LINES = 2000


def attach_failure_state(funcargs: Mapping[str, Any]) -> None:
    """Attach, in one step, what the failed test's fixture values (by fixture name) can still
    read. Never raises."""
    router = _router(funcargs)
    cluster = funcargs.get("cbgp_kube")
    scenario = funcargs.get("cbgp_scenario")
    if router is None and not isinstance(cluster, Cluster):
        return
    try:
        with report.step(STEP_TITLE):
            services = _test_services(cluster, scenario) if isinstance(cluster, Cluster) else {}
            if router is not None:
                RouterEvidence(router).attach(_prefixes(services or {}, funcargs.values()))
            if isinstance(cluster, Cluster):
                _attach_cilium(cluster, services)
    except Exception as err:  # evidence must never hide the test's own failure
        report.attach_text("evidence not collected", f"{type(err).__name__}: {err}")


def _router(funcargs: Mapping[str, Any]) -> FrrRouter | None:
    router = funcargs.get("cbgp_router")
    if isinstance(router, FrrRouter):
        return router
    lab = funcargs.get("cbgp_lab")
    if isinstance(lab, Lab):
        try:
            return lab.router()  # a handle on the running lab, nothing is started
        except Exception:  # a lab without a reachable router: no router evidence
            return None
    return None


class RouterEvidence:
    """Reads the router with a short timeout; after one read finds it unreachable, the others
    say so instead of trying."""

    def __init__(self, router: FrrRouter) -> None:
        self.router = router
        self.unreachable: str | None = None

    def run(self, argv: list[str]) -> str:
        if self.unreachable is not None:
            raise TransportError(f"not tried: {self.unreachable}")
        try:
            result = self.router.transport.run(argv, timeout=ROUTER_TIMEOUT_S)
        except TransportError as err:
            self.unreachable = f"router did not answer ({err})"
            raise
        if not result.ok:
            said = (result.stdout.strip() or result.stderr.strip()).splitlines()
            raise TransportError(f"exited {result.rc}: {said[-1] if said else 'no output'}")
        return result.stdout

    def vtysh(self, command: str) -> str:
        return self.run([*self.router.vtysh, "-c", command])

    def attach(self, prefixes: list[str]) -> None:
        """The RIB entries of ``prefixes`` (the whole table without any), FIB, BGP summary."""
        rib = [f"show bgp ipv4 unicast {prefix} json" for prefix in prefixes]
        for command in rib or ["show bgp ipv4 unicast json"]:
            _attach_read(f"router: {command}", partial(self.vtysh, command), json_text=True)
        _attach_read("router: ip route (FIB)", self.fib)
        _attach_read("router: show bgp summary", lambda: self.vtysh("show bgp summary"))

    def fib(self) -> str:
        lines = self.run(["ip", "route", "show"]).splitlines()
        if len(lines) > MAX_FIB_LINES:
            lines = [*lines[:MAX_FIB_LINES], f"... {len(lines) - MAX_FIB_LINES} more routes"]
        return "\n".join(lines)


def _attach_read(name: str, read: Callable[[], str], *, json_text: bool = False) -> None:
    try:
        body = read()
    except Exception as err:  # one unreadable view must not cost the others
        report.attach_text(name, f"not readable: {err}")
        return
    if json_text:
        try:
            report.attach_json(name, json.loads(body))
            return
        except ValueError:
            pass  # shown as the router printed it
    report.attach_text(name, body)


def _test_services(cluster: Cluster, scenario: object) -> dict[str, dict[str, Any]] | None:
    """The Services this test made (by its ownership labels), as the API server has them;
    None when the test has no scenario, or they cannot be listed (and that is attached)."""
    if not isinstance(scenario, Scenario):
        return None
    chosen = ownership_selector(scenario.ownership.run_id, scenario.ownership.test_id)
    try:
        listed = objects.list_objects(cluster, "Service", label_selector=chosen)
    except Exception as err:  # the router's view is still worth reading
        report.attach_text(SERVICES_TITLE, f"not readable: {err}")
        return None
    return {str(objects.ObjectRef.of(service)): service for service in listed}


def _prefixes(services: Mapping[str, Mapping[str, Any]], values: Iterable[object]) -> list[str]:
    """The /32s of the test's LB IPs: those its Services hold and those its fixtures made."""
    addresses = {str(ingress.get("ip"))
                 for service in services.values()
                 for ingress in ((service.get("status") or {}).get("loadBalancer") or {})
                 .get("ingress") or []
                 if ingress.get("ip")}
    addresses |= {value.address for value in values
                  if isinstance(value, LbService) and value.address}
    prefixes = set()
    for address in addresses:
        try:
            prefixes.add(str(ipaddress.ip_network(address)))
        except ValueError:
            continue  # not an address: nothing to look up
    return sorted(prefixes)


def _attach_cilium(cluster: Cluster, services: Mapping[str, Mapping[str, Any]] | None) -> None:
    if services:
        report.attach_json(SERVICES_TITLE, {
            ref: {"spec": _service_spec(service), "status": service.get("status") or {}}
            for ref, service in services.items()})
    elif services is not None:
        report.attach_text(SERVICES_TITLE, "this test made no Service")
    _attach_listing("cilium: CiliumLoadBalancerIPPools (spec and status)", cluster,
                    "CiliumLoadBalancerIPPool",
                    lambda pool: {"spec": pool.get("spec") or {},
                                  "status": pool.get("status") or {}})
    _attach_listing("cilium: CiliumBGPNodeConfigs (status)", cluster, "CiliumBGPNodeConfig",
                    lambda config: config.get("status") or {})


def _service_spec(service: Mapping[str, Any]) -> dict[str, Any]:
    spec = service.get("spec") or {}
    wanted = ("type", "externalTrafficPolicy", "loadBalancerClass", "selector", "ports")
    return {key: spec[key] for key in wanted if key in spec}


def _attach_listing(name: str, cluster: Cluster, kind: str,
                    shown: Callable[[Mapping[str, Any]], Any]) -> None:
    try:
        listed = objects.list_objects(cluster, kind)
    except Exception as err:  # one unreadable kind must not cost the others
        report.attach_text(name, f"not readable: {err}")
        return
    report.attach_json(name, {str((item.get("metadata") or {}).get("name")): shown(item)
                              for item in listed})
