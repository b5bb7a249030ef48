#!/usr/bin/env bash
# The lab's router: forwards between lan1, lan2 and the client LAN, names its client-side NIC
# loop1 like the reference router's, and runs FRR's bgpd with frr.conf (AS 65000, every node a
# neighbor, ECMP across them). python3-scapy and tcpdump are for the suite's probes, which run
# here over ssh with sudo.
#
# usage: router.sh LOOP1_ADDRESS/PREFIX   (frr.conf uploaded to /tmp/cbgp-frr.conf first)
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: router.sh LOOP1_ADDRESS/PREFIX" >&2
    exit 2
fi
loop1_address=$1
frr_conf=/tmp/cbgp-frr.conf
export DEBIAN_FRONTEND=noninteractive

step() { echo "cbgp-step: $*"; }

# The NIC the Vagrantfile left unconfigured (auto_config: false) is the client-side one: name it
# loop1, keyed by its MAC in netplan so that the name and the address survive a reboot.
name_loop1() {
    local address=$1 path device mac
    local candidates=()
    if [ ! -e /sys/class/net/loop1 ]; then
        for path in /sys/class/net/*; do
            device=${path##*/}
            [ -e "$path/device" ] || continue # physical NICs only
            [ -z "$(ip -o -4 address show dev "$device")" ] || continue
            candidates+=("$device")
        done
        if [ "${#candidates[@]}" -ne 1 ]; then
            echo "router.sh: expected one unconfigured NIC for the client LAN, found: ${candidates[*]:-none}" >&2
            exit 1
        fi
        ip link set dev "${candidates[0]}" down
        ip link set dev "${candidates[0]}" name loop1
    fi
    mac=$(cat /sys/class/net/loop1/address)
    cat >/etc/netplan/60-cbgp-loop1.yaml <<NETPLAN
network:
  version: 2
  ethernets:
    loop1:
      match:
        macaddress: "$mac"
      set-name: loop1
      addresses: [$address]
NETPLAN
    chmod 600 /etc/netplan/60-cbgp-loop1.yaml
    netplan apply
    ip link set dev loop1 up
}

step "forwarding between the LANs"
# systemd-sysctl (unlike sysctl --system) expands the glob; udev applies it to NICs added later.
cat >/etc/sysctl.d/60-cbgp-router.conf <<'SYSCTL'
net.ipv4.ip_forward = 1
# Node-to-node traffic keeps going through the router (the reference topology routes PodCIDRs
# there): no ICMP redirects that would send the nodes to each other directly.
net.ipv4.conf.*.send_redirects = 0
# The kernel's default (L3 hash); the suite switches it per test and restores it.
net.ipv4.fib_multipath_hash_policy = 0
SYSCTL
systemctl restart systemd-sysctl.service

step "naming the client-side NIC loop1 ($loop1_address)"
name_loop1 "$loop1_address"

step "installing FRR, python3-scapy and tcpdump"
apt-get update -qq
apt-get install -y -qq --no-install-recommends frr python3-scapy tcpdump >/dev/null

step "starting bgpd (AS 65000, the nodes as neighbors)"
sed -i 's/^bgpd=no$/bgpd=yes/' /etc/frr/daemons
vtysh --dryrun -f "$frr_conf"
install -m 640 -o frr -g frr "$frr_conf" /etc/frr/frr.conf
systemctl enable frr.service >/dev/null
systemctl restart frr.service
for _ in $(seq 60); do
    if vtysh -c 'show bgp summary json' >/dev/null 2>&1; then
        exit 0
    fi
    sleep 1
done
echo "router.sh: bgpd does not answer vtysh within 60 s (journalctl -u frr says why)" >&2
exit 1
