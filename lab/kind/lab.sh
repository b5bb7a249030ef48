# shellcheck shell=bash disable=SC2034  # the values are read by up.sh and down.sh
# The kind lab's names, versions and addresses, in one place for up.sh and down.sh.
#
# The addresses are pinned, not left to docker: kind's own network hands node addresses out in
# whatever order its parallel node creation happens to take, so up.sh gives every node a second
# interface on a docker network of ours with a fixed address, makes that the kubelet's node IP and
# peers BGP over it. The lab then has the reference topology of DESIGN.md, the inventory
# (lab/kind/inventory.yaml) can say every address before the lab exists, and expectations never
# come from reading the lab back. tests/unit/test_lab_files_kind.py checks that this file and the
# inventory agree.

# kind names its node containers (and so the Kubernetes nodes) <cluster>-control-plane,
# <cluster>-worker, <cluster>-worker2.
CLUSTER=cbgp
CONTEXT="kind-${CLUSTER}"
# The Cilium release to install; the upgrade gate's matrix sets CILIUM_VERSION.
CILIUM_VERSION="${CILIUM_VERSION:-1.18.2}"
CILIUM_CHART_REPO=https://helm.cilium.io
# Router and client containers run this image, built from lab/kind/image.
TOOLS_IMAGE=cbgp-lab-tools:1
ROUTER=cbgp-router
CLIENT=cbgp-client

# docker network, subnet, the host bridge's own address. The bridge sits at the top of each subnet:
# the suite adds extra client addresses from the bottom of the client network.
NETWORKS="
cbgp-lan1 192.168.10.0/24 192.168.10.254
cbgp-lan2 192.168.20.0/24 192.168.20.254
cbgp-client-lan 10.10.1.0/24 10.10.1.254
"

# Router interfaces in the order they are attached (docker names them eth0, eth1, eth2 in turn).
ROUTER_WIRING="
eth0 cbgp-lan1 192.168.10.200
eth1 cbgp-lan2 192.168.20.200
eth2 cbgp-client-lan 10.10.1.200
"

# node container, docker network, pinned address, its gateway (the router on that network).
# The pinned interface is the node's eth1 (eth0 is kind's network).
NODE_WIRING="
cbgp-control-plane cbgp-lan1 192.168.10.100 192.168.10.200
cbgp-worker cbgp-lan1 192.168.10.101 192.168.10.200
cbgp-worker2 cbgp-lan2 192.168.20.100 192.168.20.200
"
NODE_INTERFACE=eth1

# client container, docker network, address, gateway: its only interface is eth0.
CLIENT_WIRING="cbgp-client-lan 10.10.1.100 10.10.1.200"

# What each node reaches through the router: the PodCIDRs of the other nodes (learnt by FRR from
# the PodCIDR advertisement, since autoDirectNodeRoutes is off), the client network and the
# other lab network. A node's own network is connected and is skipped.
POD_CIDR=172.20.0.0/16
ROUTED_PREFIXES="${POD_CIDR} 10.10.1.0/24 192.168.10.0/24 192.168.20.0/24"

# How many BGP sessions the router must have up before the lab counts as up: one per node.
EXPECTED_PEERS=3

step() {
    printf '==> [%3ds] %s\n' "${SECONDS}" "$*"
}

die() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

require_tools() {
    local tool
    for tool in "$@"; do
        command -v "${tool}" >/dev/null 2>&1 || die "${tool} is not installed (not on PATH)"
    done
}

require_docker_daemon() {
    local problem
    if ! problem=$(docker info --format '{{.ServerVersion}}' 2>&1 >/dev/null); then
        die "docker daemon not reachable: ${problem:-docker info failed}"
    fi
}

subnet_of() {
    local network subnet
    while read -r network subnet _; do
        [ -n "${network}" ] || continue
        if [ "${network}" = "$1" ]; then
            printf '%s\n' "${subnet}"
            return 0
        fi
    done <<<"${NETWORKS}"
    die "no docker network ${1} in lab.sh"
}
