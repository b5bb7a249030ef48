#!/usr/bin/env bash
# What every Kubernetes node needs before kubeadm: containerd with systemd cgroups; kubelet,
# kubeadm and kubectl at KUBERNETES_VERSION from pkgs.k8s.io, held there; no swap; forwarding;
# and the kubelet on the lab address NODE_IP rather than Vagrant's NAT address (10.0.2.15 on
# every VirtualBox VM alike).
#
# environment: KUBERNETES_VERSION (e.g. 1.33.4), NODE_IP
set -euo pipefail
: "${KUBERNETES_VERSION:?}" "${NODE_IP:?}"
export DEBIAN_FRONTEND=noninteractive

step() { echo "cbgp-step: $*"; }

step "preparing the node (no swap, overlay and br_netfilter, forwarding)"
swapoff -a
sed -i '/\sswap\s/ s/^[^#]/#&/' /etc/fstab
printf 'overlay\nbr_netfilter\n' >/etc/modules-load.d/cbgp-kubernetes.conf
modprobe overlay
modprobe br_netfilter
cat >/etc/sysctl.d/60-cbgp-kubernetes.conf <<'SYSCTL'
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
SYSCTL
systemctl restart systemd-sysctl.service

step "installing containerd"
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    containerd conntrack socat apt-transport-https ca-certificates curl gpg >/dev/null
mkdir -p /etc/containerd
containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' \
    >/etc/containerd/config.toml
systemctl restart containerd.service

step "installing kubelet, kubeadm and kubectl ${KUBERNETES_VERSION}"
minor=${KUBERNETES_VERSION%.*}
repository="https://pkgs.k8s.io/core:/stable:/v${minor}/deb/"
keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
install -d -m 755 /etc/apt/keyrings
curl -fsSL "${repository}Release.key" | gpg --dearmor --yes -o "$keyring"
echo "deb [signed-by=$keyring] $repository /" >/etc/apt/sources.list.d/kubernetes.list
apt-get update -qq
apt-get install -y -qq --no-install-recommends "kubelet=${KUBERNETES_VERSION}-*" \
    "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*" >/dev/null
apt-mark hold kubelet kubeadm kubectl >/dev/null
echo "KUBELET_EXTRA_ARGS=--node-ip=${NODE_IP}" >/etc/default/kubelet
systemctl enable kubelet.service >/dev/null
