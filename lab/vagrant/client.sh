#!/usr/bin/env bash
# The client behind the router: curl for the suite's HTTP probes, python3-scapy for its crafted
# flows (both run here over ssh with sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

echo "cbgp-step: installing curl and python3-scapy"
apt-get update -qq
apt-get install -y -qq --no-install-recommends curl python3-scapy >/dev/null
