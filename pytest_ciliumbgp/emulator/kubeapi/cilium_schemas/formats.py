"""String checks the Cilium CRDs ask of kube-apiserver, written as code rather than regexes.

Two kinds: OpenAPI ``format`` values (``cidr``, ``ipv4``), which kube-apiserver checks with Go's
address parsers in their "sloppy" variant (leading zeros tolerated, as before Go 1.17), and the
CRDs' ``pattern`` values, generated regexes that spell out an IP address, a BGP community or a
label value. Each check here accepts exactly what the corresponding rule accepts; the
cross-check tests compare them with the CRD regexes on many samples.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

# Go's RE2 \s: space, \t, \n, \f, \r (not \v, unlike Python's).
_RE2_SPACE = " \t\n\f\r"
_DECIMAL = re.compile(r"[0-9]+\Z")
_CANONICAL_U32 = re.compile(r"(0|[1-9][0-9]{0,9})\Z")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")


@dataclass(frozen=True)
class StringCheck:
    """A named predicate; ``name`` stands in for the rule in error messages."""

    name: str
    accepts: Callable[[str], bool]


def _sloppy_ipv4(text: str) -> bool:
    octets = text.split(".")
    return len(octets) == 4 and all(
        _DECIMAL.match(octet) is not None and int(octet) <= 255 for octet in octets
    )


def _go_ipv6(text: str) -> bool:
    """Go's ``net.ParseIP`` for a text with a colon: no zone, sloppy embedded IPv4."""
    if "%" in text or not text.isascii():
        return False
    head, _, tail = text.rpartition(":")
    if "." in tail:
        if not _sloppy_ipv4(tail):
            return False
        text = head + ":" + ".".join(str(int(octet)) for octet in tail.split("."))
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _go_parse_ip(text: str) -> bool:
    return _go_ipv6(text) if ":" in text else _sloppy_ipv4(text)


def is_ipv4_format(text: str) -> bool:
    """OpenAPI ``format: ipv4`` in kube-openapi: any address Go parses, written with a dot."""
    return "." in text and _go_parse_ip(text)


def is_cidr_format(text: str) -> bool:
    """OpenAPI ``format: cidr``: ``net.ParseCIDRSloppy`` (host bits may be set)."""
    address, slash, length = text.partition("/")
    if not slash or _DECIMAL.match(length) is None or not _go_parse_ip(address):
        return False
    return int(length) <= (128 if ":" in address else 32)


def _strict_ipv4(text: str) -> bool:
    octets = text.split(".")
    return len(octets) == 4 and all(
        _DECIMAL.match(octet) is not None
        and int(octet) <= 255
        and (octet == "0" or not octet.startswith("0"))
        for octet in octets
    )


def is_ip_address_pattern(text: str) -> bool:
    """The CRDs' generated address pattern: an IPv4 address without leading zeros, or an IPv6
    address with an optional ``%zone``; surrounding whitespace tolerated."""
    core = text.strip(_RE2_SPACE)
    if _strict_ipv4(core):
        return True
    address, percent, zone = core.partition("%")
    if percent and (not zone or "\n" in zone):
        return False
    if ":" not in address or not address.isascii():
        return False
    _head, _, tail = address.rpartition(":")
    if "." in tail and not _strict_ipv4(tail):
        return False
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return True


def _u32(text: str) -> bool:
    return _CANONICAL_U32.match(text) is not None and int(text) <= 0xFFFFFFFF


def _u16(text: str) -> bool:
    return _u32(text) and int(text) <= 0xFFFF


def is_standard_community(text: str) -> bool:
    """A 32-bit decimal, or ``asn:value`` with two 16-bit decimals (no leading zeros)."""
    parts = text.split(":")
    if len(parts) == 1:
        return _u32(text)
    return len(parts) == 2 and all(_u16(part) for part in parts)


def is_large_community(text: str) -> bool:
    """``global:local1:local2``, three 32-bit decimals (no leading zeros)."""
    parts = text.split(":")
    return len(parts) == 3 and all(_u32(part) for part in parts)


def is_label_value(text: str) -> bool:
    """A Kubernetes label value (the 63-character limit is a separate ``maxLength``)."""
    return _LABEL_VALUE.match(text) is not None


CIDR = StringCheck("cidr", is_cidr_format)
IPV4 = StringCheck("ipv4", is_ipv4_format)
IP_ADDRESS = StringCheck("<IPv4 or IPv6 address, optional %zone>", is_ip_address_pattern)
STANDARD_COMMUNITY = StringCheck("<u32 or u16:u16>", is_standard_community)
LARGE_COMMUNITY = StringCheck("<u32:u32:u32>", is_large_community)
LABEL_VALUE = StringCheck(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", is_label_value)
