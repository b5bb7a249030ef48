#!/usr/bin/env bash
# The control plane: kubeadm init without kube-proxy (Cilium replaces it), Cilium by Helm with
# the BGP control plane (cilium-values.yaml), then the BGP objects (bgp-objects.yaml) once Cilium
# serves their kinds. The node runs workloads too (its taint is removed): the suite places
# backends on every node. The API server's certificate also names 127.0.0.1, the address the
# pytest driver reaches it at through Vagrant's forwarded port.
#
# environment: KUBERNETES_VERSION, CILIUM_VERSION, HELM_VERSION, KUBEADM_TOKEN, NODE_IP
# files: /tmp/cbgp-cilium-values.yaml, /tmp/cbgp-bgp-objects.yaml (uploaded by the Vagrantfile)
set -euo pipefail
: "${KUBERNETES_VERSION:?}" "${CILIUM_VERSION:?}" "${HELM_VERSION:?}" "${KUBEADM_TOKEN:?}"
: "${NODE_IP:?}"
values=/tmp/cbgp-cilium-values.yaml
bgp_objects=/tmp/cbgp-bgp-objects.yaml
export KUBECONFIG=/etc/kubernetes/admin.conf
node=$(hostname)

step() { echo "cbgp-step: $*"; }

# retry SECONDS COMMAND...: run COMMAND every 5 s until it succeeds, for SECONDS at most.
retry() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "control-plane.sh: gave up waiting for: $*" >&2
            return 1
        fi
        sleep 5
    done
}

if [ ! -f /etc/kubernetes/admin.conf ]; then
    step "kubeadm init (Kubernetes ${KUBERNETES_VERSION}, no kube-proxy)"
    kubeadm init \
        --kubernetes-version "v${KUBERNETES_VERSION}" \
        --apiserver-advertise-address "$NODE_IP" \
        --apiserver-cert-extra-sans "127.0.0.1,localhost" \
        --token "$KUBEADM_TOKEN" --token-ttl 0 \
        --skip-phases addon/kube-proxy \
        --node-name "$node"
fi
install -d -o vagrant -g vagrant -m 700 /home/vagrant/.kube
install -o vagrant -g vagrant -m 600 /etc/kubernetes/admin.conf /home/vagrant/.kube/config
if kubectl get node "$node" -o jsonpath='{.spec.taints[*].key}' |
    grep -q 'node-role.kubernetes.io/control-plane'; then
    kubectl taint node "$node" node-role.kubernetes.io/control-plane:NoSchedule-
fi

step "installing Helm ${HELM_VERSION}"
arch=$(dpkg --print-architecture)
curl -fsSL "https://get.helm.sh/helm-v${HELM_VERSION}-linux-${arch}.tar.gz" |
    tar -xz -C /tmp "linux-${arch}/helm"
install -m 755 "/tmp/linux-${arch}/helm" /usr/local/bin/helm

step "installing Cilium ${CILIUM_VERSION} by Helm (BGP control plane, kube-proxy replacement)"
helm repo add cilium https://helm.cilium.io/ --force-update >/dev/null
helm upgrade --install cilium cilium/cilium --version "$CILIUM_VERSION" \
    --namespace kube-system --values "$values" --wait --timeout 15m
kubectl -n kube-system rollout status daemonset/cilium --timeout=10m

step "waiting for Cilium to serve the BGP kinds"
for crd in ciliumbgpclusterconfigs ciliumbgppeerconfigs ciliumbgpadvertisements; do
    retry 300 kubectl get crd "${crd}.cilium.io"
    kubectl wait --for condition=established --timeout=300s "crd/${crd}.cilium.io"
done

step "applying the BGP objects (cluster config, peer config, PodCIDR advertisement)"
kubectl apply -f "$bgp_objects"
