#!/bin/bash
# Smoke test of the harness itself: real in-kernel WireGuard between two network
# namespaces joined by a veth pair, a ping through the tunnel, and an nftables table
# with a masquerade rule (which makes the kernel autoload nf_tables, nft_chain_nat and
# nft_masq). It needs no hubd binary; if this fails, every other scenario would.
source "$HUBD_SRCDIR/tests/vm/lib.sh"

need_wireguard
need_cmd nft ping

[ -d "$HUBD_BUILDDIR" ] || fail "HUBD_BUILDDIR is not passed through: '$HUBD_BUILDDIR'"

log "two namespaces joined by a veth pair"
netns_new smoke-a
netns_new smoke-b
veth_pair smoke-a veth-a smoke-b veth-b
ip -n smoke-a addr add 192.0.2.1/24 dev veth-a
ip -n smoke-b addr add 192.0.2.2/24 dev veth-b

log "a wireguard link in each, peers set with wg"
key_a=$(wg genkey)
key_b=$(wg genkey)
pub_a=$(wg pubkey <<<"$key_a")
pub_b=$(wg pubkey <<<"$key_b")
ip -n smoke-a link add wg0 type wireguard
ip -n smoke-b link add wg0 type wireguard
# Keys go through <(...): this also proves /dev/fd works where the scenarios run.
ns_exec smoke-a wg set wg0 private-key <(echo "$key_a") listen-port 51820 \
	peer "$pub_b" endpoint 192.0.2.2:51820 allowed-ips 10.9.0.2/32
ns_exec smoke-b wg set wg0 private-key <(echo "$key_b") listen-port 51820 \
	peer "$pub_a" endpoint 192.0.2.1:51820 allowed-ips 10.9.0.1/32
ip -n smoke-a addr add 10.9.0.1/24 dev wg0
ip -n smoke-b addr add 10.9.0.2/24 dev wg0
ip -n smoke-a link set wg0 up
ip -n smoke-b link set wg0 up

assert_eq "$pub_b" "$(ns_exec smoke-a wg show wg0 peers)" "peer of a"
assert_eq "$pub_a" "$(ns_exec smoke-b wg show wg0 peers)" "peer of b"
assert_eq "$pub_a" "$(ns_exec smoke-a wg show wg0 public-key)" "key of a"

log "ping through the tunnel"
wait_for ns_exec smoke-a ping -c 1 -W 1 10.9.0.2
ns_exec smoke-b ping -c 2 -i 0.2 -W 2 10.9.0.1
handshake=$(ns_exec smoke-a wg show wg0 latest-handshakes | awk '{ print $2 }')
[ "${handshake:-0}" -gt 0 ] || fail "no handshake recorded: '$handshake'"
rx=$(ns_exec smoke-a wg show wg0 transfer | awk '{ print $2 }')
[ "${rx:-0}" -gt 0 ] || fail "no bytes received over the tunnel"

log "an nftables table with a masquerade rule"
ns_exec smoke-a nft add table inet smoke
ns_exec smoke-a nft add chain inet smoke post '{ type nat hook postrouting priority srcnat; }'
ns_exec smoke-a nft add rule inet smoke post oifname veth-a masquerade
assert_contains "$(ns_exec smoke-a nft list tables)" "table inet smoke"
assert_contains "$(ns_exec smoke-a nft list table inet smoke)" "masquerade"
# Traffic still flows with the nat chain in place (nft_chain_nat and conntrack loaded).
ns_exec smoke-a ping -c 1 -W 2 10.9.0.2 >/dev/null
ns_exec smoke-a nft delete table inet smoke
assert_not_contains "$(ns_exec smoke-a nft list tables)" "table inet smoke"

log "a wireguard link in the root namespace, removed again"
ip link add smoke-wg type wireguard
cleanup ip link del smoke-wg
ip link del smoke-wg
