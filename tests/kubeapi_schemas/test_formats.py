"""The project's string checks accept exactly what the CRDs' generated regexes accept, and the
``cidr``/``ipv4`` formats behave like Go's sloppy parsers."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pytest

from pytest_ciliumbgp.emulator.kubeapi.cilium_schemas import formats
from tests.kubeapi_schemas.crd_reference import served_schema

ADDRESSES = [
    "10.0.0.1", " 10.0.0.1\t", "0.0.0.0", "255.255.255.255", "256.1.1.1", "010.1.1.1",
    "1.2.3", "1.2.3.4.5", "1.2.3.4%eth0", "::", "::1", "fe80::1%eth0", "fe80::1%", "fd00::1 ",
    "2001:db8::1:2:3:4:5", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:8:9",
    "1::2::3", "::ffff:10.0.0.1", "::ffff:010.0.0.1", "1:2:3:4:5:6:1.2.3.4", "12345::1",
    "g::1", "", " ", "::1%a b", "FE80::ABCD", "1.2.3.4 5",
]
COMMUNITIES = [
    "0", "4294967295", "4294967296", "65535:65535", "65536:0", "0:0", "00:1", "1:2:3",
    "65000:1:1", "4294967295:4294967295:4294967295", "1:01:1", "", ":", "1:", "-1",
]


def _crd_patterns() -> dict[str, str]:
    cluster = served_schema("current", "CiliumBGPClusterConfig", "v2")
    advert = served_schema("current", "CiliumBGPAdvertisement", "v2")
    assert cluster is not None
    assert advert is not None
    peer = cluster["properties"]["spec"]["properties"]["bgpInstances"]["items"]["properties"][
        "peers"]["items"]["properties"]
    attributes = advert["properties"]["spec"]["properties"]["advertisements"]["items"][
        "properties"]["attributes"]["properties"]["communities"]["properties"]
    labels = advert["properties"]["spec"]["properties"]["advertisements"]["items"]["properties"][
        "selector"]["properties"]["matchLabels"]["additionalProperties"]
    return {
        "address": peer["peerAddress"]["pattern"],
        "standard": attributes["standard"]["items"]["pattern"],
        "large": attributes["large"]["items"]["pattern"],
        "label": labels["pattern"],
    }


def _go_match(pattern: str) -> Callable[[str], bool]:
    # Go's $ (no multiline flag) only matches at the very end; Python's also before a final \n.
    compiled = re.compile(pattern.replace("$", r"\Z"))
    return lambda text: compiled.search(text) is not None


def _samples(seeds: list[str], alphabet: str, count: int) -> list[str]:
    rng = random.Random(20240607)
    found = list(seeds)
    for _ in range(count):
        text = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            spot = rng.randint(0, len(text))
            action = rng.random()
            if action < 0.4 and text:
                text[min(spot, len(text) - 1)] = rng.choice(alphabet)
            elif action < 0.7:
                text.insert(spot, rng.choice(alphabet))
            elif text:
                del text[min(spot, len(text) - 1)]
        found.append("".join(text))
    return found


CHECKS = {
    "address": (formats.is_ip_address_pattern, ADDRESSES, "0123456789abcdefABCDEF:.% \tz"),
    "standard": (formats.is_standard_community, COMMUNITIES, "0123456789:5"),
    "large": (formats.is_large_community, COMMUNITIES, "0123456789:9"),
    "label": (formats.is_label_value, ["web", "a.b-c_d", "-x", "x-", "", "A1"], "aZ09-_.:/ "),
}


@pytest.mark.usefixtures("real_crds")
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_agrees_with_crd_regex(name: str) -> None:
    ours, seeds, alphabet = CHECKS[name]
    theirs = _go_match(_crd_patterns()[name])
    disagreements = [
        text for text in _samples(seeds, alphabet, 4000) if ours(text) != theirs(text)
    ]
    assert not disagreements, f"{name}: ours and the CRD regex differ on {disagreements[:10]}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("172.16.1.0/24", True), ("172.16.1.5/24", True), ("010.0.0.0/8", True),
        ("2001:db8::/64", True), ("::ffff:10.0.0.0/104", True), ("10.0.0.0/33", False),
        ("2001:db8::/129", False), ("10.0.0.0", False), ("10.0.0.0/", False),
        ("10.0.0.0/24/1", False), ("fe80::%eth0/64", False), ("pool", False),
    ],
)
def test_cidr_format_is_go_parse_cidr_sloppy(text: str, expected: bool) -> None:
    assert formats.is_cidr_format(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", True), ("010.000.000.001", True), ("::ffff:10.0.0.1", True),
        ("fd00::1", False), ("10.0.0.256", False), ("10.0.0", False), (" 10.0.0.1", False),
    ],
)
def test_ipv4_format_is_parse_ip_sloppy_with_a_dot(text: str, expected: bool) -> None:
    assert formats.is_ipv4_format(text) is expected
