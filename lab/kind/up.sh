#!/usr/bin/env bash
# Bring the kind lab up: the reference topology of DESIGN.md as a kind cluster without a default
# CNI and without kube-proxy, Cilium installed by Helm with its BGP control plane, FRR in a
# container as the external router and a client container behind it.
#
#   lab/kind/up.sh                           # the Cilium release lab.sh names
#   CILIUM_VERSION=1.18.3 lab/kind/up.sh     # another one
#   KIND_NODE_IMAGE=kindest/node:v1.34.0 lab/kind/up.sh
#
# Every step leaves alone what is already there, so running it again finishes a lab that an
# interrupted run left half made. lab/kind/down.sh removes everything it makes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/kind/lab.sh
. "${here}/lab.sh"

kubectl_lab() {
    kubectl --context "${CONTEXT}" "$@"
}

# retry SECONDS COMMAND...: run COMMAND every 5 s until it succeeds; fail once SECONDS have passed.
retry() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "${SECONDS}" -lt "${deadline}" ] || return 1
        sleep 5
    done
}

has_address() {  # has_address CONTAINER INTERFACE ADDRESS
    docker exec "$1" ip -4 -o addr show dev "$2" 2>/dev/null | grep -qF "inet $3/"
}

make_networks() {
    local network subnet bridge existing
    while read -r network subnet bridge; do
        [ -n "${network}" ] || continue
        if existing=$(docker network inspect --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' \
            "${network}" 2>/dev/null); then
            [ "${existing% }" = "${subnet}" ] \
                || die "docker network ${network} exists with subnet ${existing% } instead of ${subnet}"
            continue
        fi
        # No masquerading: lab traffic stays on the lab networks and must keep its addresses.
        docker network create --driver bridge --subnet "${subnet}" --gateway "${bridge}" \
            --opt com.docker.network.bridge.enable_ip_masquerade=false \
            --label io.cbgp.lab=kind "${network}" >/dev/null
    done <<<"${NETWORKS}"
}

create_cluster() {
    if kind get clusters 2>/dev/null | grep -qxF "${CLUSTER}"; then
        step "kind cluster ${CLUSTER} already exists"
        return
    fi
    local args=(create cluster --name "${CLUSTER}" --config "${here}/kind-config.yaml")
    if [ -n "${KIND_NODE_IMAGE:-}" ]; then
        args+=(--image "${KIND_NODE_IMAGE}")
    fi
    kind "${args[@]}"
}

# The kubelet reports the pinned address as the node's InternalIP: Cilium then uses the pinned
# interface to reach other nodes and SNATs to that address, as on the reference lab.
pin_node_ip() {
    local node=$1 address=$2 current extra
    current=$(docker exec "${node}" cat /etc/default/kubelet 2>/dev/null || true)
    if grep -qF -- "--node-ip=${address}" <<<"${current}"; then
        return
    fi
    # Keep kind's own extra arguments; this --node-ip comes after kubeadm's and wins.
    extra=$(sed -n 's/^KUBELET_EXTRA_ARGS=//p' <<<"${current}" | sed 's/ *--node-ip=[^ ]*//g')
    {
        grep -v '^KUBELET_EXTRA_ARGS=' <<<"${current}" || true
        printf 'KUBELET_EXTRA_ARGS=%s--node-ip=%s\n' "${extra:+${extra} }" "${address}"
    } | docker exec -i "${node}" tee /etc/default/kubelet >/dev/null
    docker exec "${node}" systemctl restart kubelet
}

node_reports() {  # node_reports NODE ADDRESS
    [ "$(kubectl_lab get node "$1" \
        -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')" = "$2" ]
}

wire_nodes() {
    local node network address gateway own prefix
    while read -r node network address gateway; do
        [ -n "${node}" ] || continue
        if ! has_address "${node}" "${NODE_INTERFACE}" "${address}"; then
            docker network connect --ip "${address}" "${network}" "${node}"
            has_address "${node}" "${NODE_INTERFACE}" "${address}" \
                || die "docker attached ${network} to ${node} as another interface than ${NODE_INTERFACE}"
        fi
        own=$(subnet_of "${network}")
        for prefix in ${ROUTED_PREFIXES}; do
            [ "${prefix}" != "${own}" ] || continue
            docker exec "${node}" ip route replace "${prefix}" via "${gateway}" dev "${NODE_INTERFACE}"
        done
        pin_node_ip "${node}" "${address}"
    done <<<"${NODE_WIRING}"
    while read -r node network address gateway; do
        [ -n "${node}" ] || continue
        retry 120 node_reports "${node}" "${address}" \
            || die "node ${node} does not report InternalIP ${address} after its kubelet restart"
    done <<<"${NODE_WIRING}"
}

start_router() {
    local interface network address
    if ! docker container inspect "${ROUTER}" >/dev/null 2>&1; then
        while read -r interface network address; do
            [ -n "${interface}" ] || continue
            if [ "${interface}" = eth0 ]; then
                # Privileged: FRR installs routes and the suite sets the multipath hash policy.
                docker run --detach --name "${ROUTER}" --hostname router --privileged \
                    --network "${network}" --ip "${address}" \
                    --sysctl net.ipv4.ip_forward=1 \
                    --sysctl net.ipv4.conf.all.send_redirects=0 \
                    --volume "${here}/frr/frr.conf:/etc/frr/frr.conf:ro" \
                    --volume "${here}/frr/daemons:/etc/frr/daemons:ro" \
                    --volume "${here}/frr/vtysh.conf:/etc/frr/vtysh.conf:ro" \
                    --label io.cbgp.lab=kind \
                    "${TOOLS_IMAGE}" \
                    sh -c '/usr/lib/frr/frrinit.sh start && exec sleep infinity' >/dev/null
            else
                docker network connect --ip "${address}" "${network}" "${ROUTER}"
            fi
        done <<<"${ROUTER_WIRING}"
    fi
    while read -r interface network address; do
        [ -n "${interface}" ] || continue
        has_address "${ROUTER}" "${interface}" "${address}" \
            || die "router container ${ROUTER} has no ${address} on ${interface}"
    done <<<"${ROUTER_WIRING}"
}

start_client() {
    local network address gateway
    read -r network address gateway <<<"${CLIENT_WIRING}"
    if ! docker container inspect "${CLIENT}" >/dev/null 2>&1; then
        # NET_ADMIN for its routes and extra addresses, NET_RAW for the scapy flow probe.
        docker run --detach --name "${CLIENT}" --hostname client \
            --cap-add NET_ADMIN --cap-add NET_RAW \
            --network "${network}" --ip "${address}" \
            --label io.cbgp.lab=kind \
            "${TOOLS_IMAGE}" sleep infinity >/dev/null
    fi
    has_address "${CLIENT}" eth0 "${address}" || die "client container ${CLIENT} has no ${address} on eth0"
    # Everything the client reaches (LB IPs first of all) is behind the router.
    docker exec "${CLIENT}" ip route replace default via "${gateway}"
}

install_cilium() {
    helm repo add cilium "${CILIUM_CHART_REPO}" --force-update >/dev/null
    helm upgrade --install cilium cilium/cilium --version "${CILIUM_VERSION}" \
        --kube-context "${CONTEXT}" --namespace kube-system \
        --values "${here}/cilium-values.yaml" --wait --timeout 10m
    kubectl_lab wait --for=condition=Ready nodes --all --timeout=5m >/dev/null
}

# The suite runs backends on every node of the inventory, the control plane included.
untaint_control_plane() {
    local node
    node=$(kubectl_lab get nodes --selector node-role.kubernetes.io/control-plane \
        -o jsonpath='{.items[*].metadata.name}')
    if kubectl_lab get node "${node}" -o jsonpath='{.spec.taints[*].key}' \
        | grep -qw node-role.kubernetes.io/control-plane; then
        kubectl_lab taint nodes "${node}" node-role.kubernetes.io/control-plane:NoSchedule- >/dev/null
    fi
}

apply_bgp() {
    # The operator registers the BGP CRDs once it runs; wait for them before applying.
    local crd
    for crd in ciliumbgpclusterconfigs ciliumbgppeerconfigs ciliumbgpadvertisements; do
        retry 180 kubectl_lab get crd "${crd}.cilium.io" \
            || die "CRD ${crd}.cilium.io did not appear; is the Cilium operator running?"
    done
    # Cilium < 1.18 serves these kinds as v2alpha1 only: ask the cluster, not the version string.
    local served
    served=$(kubectl_lab get crd ciliumbgpclusterconfigs.cilium.io \
        -o jsonpath='{.spec.versions[?(@.served==true)].name}')
    if grep -qw v2 <<<"${served}"; then
        kubectl_lab apply -f "${here}/bgp.yaml" >/dev/null
    else
        sed 's#^apiVersion: cilium.io/v2$#apiVersion: cilium.io/v2alpha1#' "${here}/bgp.yaml" \
            | kubectl_lab apply -f - >/dev/null
    fi
}

established_peers() {
    docker exec "${ROUTER}" vtysh -c 'show bgp summary json' | python3 -c '
import json, sys
peers = json.load(sys.stdin).get("ipv4Unicast", {}).get("peers", {})
print(sum(peer.get("state") == "Established" for peer in peers.values()))'
}

all_peers_established() {
    [ "$(established_peers)" -ge "${EXPECTED_PEERS}" ]
}

main() {
    step "preflight: docker, kind, helm, kubectl, python3"
    require_tools docker kind helm kubectl python3
    require_docker_daemon
    step "docker networks (lab/kind/lab.sh NETWORKS)"
    make_networks
    step "router and client image ${TOOLS_IMAGE}"
    docker build --quiet --tag "${TOOLS_IMAGE}" "${here}/image" >/dev/null
    step "kind cluster ${CLUSTER} (no CNI, no kube-proxy)"
    create_cluster
    step "nodes on their pinned addresses, routes through the router, kubelet node IPs"
    wire_nodes
    step "FRR router ${ROUTER}"
    start_router
    step "client ${CLIENT} behind the router"
    start_client
    step "Cilium ${CILIUM_VERSION} by Helm (BGP control plane, kube-proxy replacement)"
    install_cilium
    untaint_control_plane
    step "BGP cluster config, peer config and PodCIDR advertisement"
    apply_bgp
    step "waiting for ${EXPECTED_PEERS} BGP sessions on ${ROUTER}"
    retry 180 all_peers_established \
        || die "only $(established_peers || echo 0) of ${EXPECTED_PEERS} BGP sessions came up on ${ROUTER}"
    step "kind lab up: cluster ${CLUSTER} (context ${CONTEXT}), Cilium ${CILIUM_VERSION}"
}

main "$@"
