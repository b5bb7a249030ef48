"""The inventory's ``reach`` settings for ssh a real user needs, checked as the file is loaded,
and the transport each one builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ciliumbgp.inventory import InventoryError, parse_inventory
from pytest_ciliumbgp.transport import SshTransport, transport_for

REFERENCE = Path(__file__).resolve().parents[2] / "lab" / "netns" / "inventory.yaml"


def router_reach(reach: dict[str, Any]) -> dict[str, Any]:
    """The reference inventory with the router reached as ``reach`` says, parsed."""
    document = yaml.safe_load(REFERENCE.read_text())
    document["router"]["reach"] = reach
    return dict(parse_inventory(document).router.reach.settings)


def test_every_ssh_setting_is_accepted_and_builds_the_transport() -> None:
    reach = {
        "via": "ssh", "target": "192.0.2.10", "user": "admin", "port": 2200,
        "identity_file": "/keys/id", "config_file": "/etc/cbgp/ssh_config",
        "options": ["ProxyJump=admin@bastion", "ProxyCommand nc %h %p",
                    "StrictHostKeyChecking = accept-new"],
        "sudo": True, "python": "/usr/bin/python3",
    }
    settings = router_reach(reach)
    assert transport_for("ssh", settings) == SshTransport(
        "192.0.2.10", port=2200, identity_file="/keys/id", sudo=True,
        options=("ProxyJump=admin@bastion", "ProxyCommand nc %h %p",
                 "StrictHostKeyChecking = accept-new"),
        user="admin", config_file="/etc/cbgp/ssh_config", python="/usr/bin/python3")


@pytest.mark.parametrize(("reach", "expected"), [
    pytest.param({"via": "ssh", "target": "core@h", "user": "admin"},
                 "router.reach.user: target 'core@h' already names the user", id="user-twice"),
    pytest.param({"via": "ssh", "target": "h", "options": ["-oProxyCommand=sh"]},
                 "router.reach.options[0]: expected an ssh option like ProxyJump=bastion, "
                 "got '-oProxyCommand=sh'", id="option-like-a-flag"),
    pytest.param({"via": "ssh", "target": "h", "options": ["ProxyJump"]},
                 "router.reach.options[0]: expected an ssh option like ProxyJump=bastion, "
                 "got 'ProxyJump'", id="option-without-value"),
    pytest.param({"via": "ssh", "target": "h", "user": "-l"},
                 "router.reach.user: expected a name that does not start with '-', got '-l'",
                 id="user-like-a-flag"),
    pytest.param({"via": "ssh", "target": "h", "python": ""},
                 "router.reach.python: expected a non-empty string, got ''", id="python-empty"),
    pytest.param({"via": "netns", "python": "python3"},
                 "router.reach.python: not a setting of transport 'netns'", id="python-on-netns"),
])
def test_bad_ssh_settings_are_one_line(reach: dict[str, Any], expected: str) -> None:
    with pytest.raises(InventoryError) as raised:
        router_reach(reach)
    assert str(raised.value) == expected


@pytest.mark.parametrize("via", ["docker", "vagrant"])
def test_other_remote_transports_name_their_python(via: str) -> None:
    name = {"docker": "container", "vagrant": "machine"}[via]
    settings = router_reach({"via": via, name: "frr", "python": "python3.11"})
    assert transport_for(via, settings).python == "python3.11"
