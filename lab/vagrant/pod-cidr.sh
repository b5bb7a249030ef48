#!/usr/bin/env bash
# Waits until Cilium runs on this node (cilium_host gets an address from the node's PodCIDR) and
# checks that the PodCIDR is the one lab/vagrant/inventory.yaml gives the node. Cluster-pool IPAM
# hands out /24s in the order the nodes register; the Vagrantfile keeps that order by bringing
# the nodes up one after another.
#
# usage: pod-cidr.sh EXPECTED_CIDR
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: pod-cidr.sh EXPECTED_CIDR" >&2
    exit 2
fi
expected=$1
echo "cbgp-step: waiting for Cilium on this node (PodCIDR $expected expected)"

deadline=$((SECONDS + 900))
until address=$(ip -o -4 address show dev cilium_host 2>/dev/null | awk '{ print $4; exit }') &&
    [ -n "$address" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "pod-cidr.sh: Cilium did not give cilium_host an address within 15 min" >&2
        exit 1
    fi
    sleep 5
done

if ! python3 -c 'import ipaddress, sys
sys.exit(ipaddress.ip_interface(sys.argv[1]).ip not in ipaddress.ip_network(sys.argv[2]))' \
    "$address" "$expected"; then
    echo "pod-cidr.sh: cilium_host has $address, outside $expected that the inventory gives" \
        "this node: the nodes registered out of order; vagrant destroy -f, then vagrant up" \
        "--no-parallel" >&2
    exit 1
fi
