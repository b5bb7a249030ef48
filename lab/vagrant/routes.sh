#!/usr/bin/env bash
# Static routes of a lab host: every network it is not on goes through the router rather than
# through Vagrant's NAT interface, which holds the default route (for package downloads only).
# They go into netplan beside Vagrant's own file for the interface, so they survive a reboot.
#
# usage: routes.sh ADDRESS GATEWAY DESTINATION...
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: routes.sh ADDRESS GATEWAY DESTINATION..." >&2
    exit 2
fi
address=$1
gateway=$2
shift 2
echo "cbgp-step: routing $* via $gateway"

device=$(ip -o -4 address show | awk -v want="$address" '{ split($4, a, "/"); if (a[1] == want) print $2 }')
if [ -z "$device" ]; then
    echo "routes.sh: no interface holds $address" >&2
    exit 1
fi

netplan_file=/etc/netplan/60-cbgp-routes.yaml
{
    echo "network:"
    echo "  version: 2"
    echo "  ethernets:"
    echo "    $device:"
    echo "      routes:"
    for destination in "$@"; do
        echo "        - to: $destination"
        echo "          via: $gateway"
    done
} >"$netplan_file"
chmod 600 "$netplan_file"
netplan apply

for destination in "$@"; do
    if ! ip -4 route show "$destination" | grep -q "via $gateway "; then
        echo "routes.sh: no route to $destination via $gateway after netplan apply" >&2
        exit 1
    fi
done
