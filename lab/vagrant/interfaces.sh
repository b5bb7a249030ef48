#!/usr/bin/env bash
# Checks that each named interface holds its address, as lab/vagrant/inventory.yaml says. The
# suite captures on the router's interfaces and adds addresses to the client's by these names,
# so a box that names its NICs otherwise (enp0s8, ...) fails here rather than in a test.
#
# usage: interfaces.sh NAME=ADDRESS/PREFIX...
set -euo pipefail

status=0
for pair in "$@"; do
    name=${pair%%=*}
    address=${pair#*=}
    if ! ip -o -4 address show dev "$name" 2>/dev/null | grep -qF "inet $address "; then
        held=$(ip -o -4 address show | awk '{ printf "%s %s; ", $2, $4 }')
        echo "interfaces.sh: $name should hold $address; this host has: $held" >&2
        status=1
    fi
done
exit "$status"
