#!/usr/bin/env bash
# Remove what lab/kind/up.sh made: the kind cluster, the router and client containers and the lab's
# docker networks. Only those names are touched; anything already gone is skipped, so it can run
# after a half-made lab or twice. The tools image stays (it is only a build cache).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab/kind/lab.sh
. "${here}/lab.sh"

main() {
    require_tools docker kind
    require_docker_daemon
    step "kind cluster ${CLUSTER}"
    if kind get clusters 2>/dev/null | grep -qxF "${CLUSTER}"; then
        kind delete cluster --name "${CLUSTER}"
    fi
    local container network _
    step "containers ${ROUTER} ${CLIENT}"
    for container in "${ROUTER}" "${CLIENT}"; do
        if docker container inspect "${container}" >/dev/null 2>&1; then
            docker rm --force "${container}" >/dev/null
        fi
    done
    step "docker networks"
    while read -r network _; do
        [ -n "${network}" ] || continue
        if docker network inspect "${network}" >/dev/null 2>&1; then
            docker network rm "${network}" >/dev/null
        fi
    done <<<"${NETWORKS}"
    step "kind lab down"
}

main "$@"
