#!/usr/bin/env bash
# A worker joins with the lab's fixed bootstrap token, so nothing has to be read back from the
# control plane first. The CA is not pinned: the control plane is a VM of this lab, on a
# network only the lab's VMs are on.
#
# environment: CONTROL_PLANE_ENDPOINT (address:port), KUBEADM_TOKEN
set -euo pipefail
: "${CONTROL_PLANE_ENDPOINT:?}" "${KUBEADM_TOKEN:?}"

step() { echo "cbgp-step: $*"; }

if [ -f /etc/kubernetes/kubelet.conf ]; then
    exit 0 # joined already (re-provisioning)
fi

step "waiting for the API server at ${CONTROL_PLANE_ENDPOINT}"
deadline=$((SECONDS + 600))
until curl -ksf "https://${CONTROL_PLANE_ENDPOINT}/livez" >/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "worker.sh: no API server at ${CONTROL_PLANE_ENDPOINT} within 10 min" >&2
        exit 1
    fi
    sleep 5
done

step "joining the cluster"
kubeadm join "$CONTROL_PLANE_ENDPOINT" --token "$KUBEADM_TOKEN" \
    --discovery-token-unsafe-skip-ca-verification --node-name "$(hostname)"
