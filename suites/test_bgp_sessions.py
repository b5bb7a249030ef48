"""The router holds an Established BGP session with every node of the inventory.

The first thing a BGP-advertised LoadBalancer needs: without the session, nothing a node's
Cilium agent advertises reaches the router.
"""

from __future__ import annotations

import pytest
from tenacity import (
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from pytest_ciliumbgp import report
from pytest_ciliumbgp.inventory import Node
from pytest_ciliumbgp.router import BgpPeer, FrrRouter, RouterError

# Sessions may still be coming up right after the lab started.
SESSION_WAIT_S = 30.0
POLL_S = 0.5


def test_router_has_established_session_with_node(cbgp_node: Node, cbgp_router: FrrRouter) -> None:
    peer = _wait_for_session(cbgp_router, cbgp_node)
    if not _is_up(peer, cbgp_node):
        report.attach_text("router: show bgp summary", cbgp_router.summary_text())
        pytest.fail(_describe(cbgp_node, peer), pytrace=False)


def _is_up(peer: BgpPeer | None, node: Node) -> bool:
    return peer is not None and peer.established and peer.remote_as == node.asn


def _wait_for_session(router: FrrRouter, node: Node) -> BgpPeer | None:
    """The router's session from ``node``'s address once up, or as last seen when time ran out."""
    retrying = Retrying(
        stop=stop_after_delay(SESSION_WAIT_S),
        wait=wait_fixed(POLL_S),
        retry=retry_if_exception_type(RouterError) | retry_if_result(lambda p: not _is_up(p, node)),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )
    peer: BgpPeer | None = retrying(lambda: router.bgp_peers().get(str(node.address)))
    return peer


def _describe(node: Node, peer: BgpPeer | None) -> str:
    expected = f"expected an Established BGP session from {node.address} with remote AS {node.asn}"
    if peer is None:
        seen = "router has no session at all from that address"
    else:
        seen = f"router has it in state {peer.state} with remote AS {peer.remote_as}"
    return f"node {node.name}: {expected} within {SESSION_WAIT_S:g} s, {seen}"
