"""Probe scripts that run on lab hosts, and how they get there.

The scripts (:mod:`.syn_flows` and :mod:`.held_connections` on the client,
:mod:`.egress_capture` on the router: one capture for SYN attribution and step-tagged
connection trails alike, so the care it takes to keep up and drain under load lives once)
import only the standard library and scapy: on a real router reached over ssh this package is
not installed, only the host's own python3 (with ``python3-scapy`` from its distribution).
:mod:`.shipping` runs them through any transport.
"""
