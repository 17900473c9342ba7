#!/bin/bash
# Access (issue 17): what a policy costs, in one run:
#   HUBD_BUILDDIR=/abs/build-without-sanitizers tests/vm/run "$PWD/bench/run-access.sh"
# 1. One peer's Access change at SMALL peers against LARGE peers (1,000 and 10,000), every
#    peer with a policy of two entries: from the rename of its file to hubd's "reconcile
#    (...) took" line (hubd --debug, written once the nftables transaction is done), median
#    of STEPS, and the ratio large/small (O(1) per change: about 1).
# 2. The packet rate through the hub with LARGE policies loaded against none: iperf3 (TCP
#    throughput, then UDP packets of 64 bytes) from a client namespace, through a real
#    WireGuard tunnel into the hub's wg0 (one of the LARGE peers: its policy allows the
#    server), forwarded by the hub out of a veth into a server namespace. The policy chain
#    is only entered for packets from wg0, so plain veth routing would not measure it.
#    Rounds: policies, none, policies again (the drift of a loaded host shows); the ratio
#    none / mean of the two policy rounds.
# Knobs (HUBD_BENCH_* reach the VM): HUBD_BENCH_SMALL (1000), HUBD_BENCH_PEERS (10000),
# HUBD_BENCH_STEPS (10), HUBD_BENCH_GAP_MS (1000), HUBD_BENCH_IPERF_SECONDS (5).
# hubd-vm-timeout: 2400
# It is not a test: it prints figures; only a broken run fails.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"

need_wireguard
need_cmd nft awk iperf3 jq perl
need_built "$HUBD"

SMALL=${HUBD_BENCH_SMALL:-1000}
LARGE=${HUBD_BENCH_PEERS:-10000}
STEPS=${HUBD_BENCH_STEPS:-10}
GAP=${HUBD_BENCH_GAP_MS:-1000}
SECS=${HUBD_BENCH_IPERF_SECONDS:-5}
POLL=$HUBD_SRCDIR/bench/access-poll.pl
D=$(mktemp -d /tmp/hubd-access.XXXXXX)
cleanup rm -rf "$D"
SERVER=192.168.77.2

calc() { awk "BEGIN { printf \"%.3f\", $* }"; }

log "access benchmark: $SMALL and $LARGE peers with a policy each, $STEPS changes each, $(nproc) CPUs"
# The first conntrack user of a boot pays the module's start-up: not inside a figure.
nft -f - <<<'table inet warmup { chain c { type filter hook forward priority 0; ct state established accept; }; }'
nft delete table inet warmup

# Keys: peer 1 of each hub is a real one (the iperf3 client's); the others any 32 bytes
# whose 43rd base64 character has its low 2 bits clear (as bench-hubd.sh).
keys() {
	head -c $((32 * $1 + 4096)) /dev/urandom | base64 -w 42 |
		awk -v n="$1" 'BEGIN { srand(); s = "AEIMQUYcgkosw048" }
			length($0) == 42 && c++ < n { print $0 substr(s, int(rand() * 16) + 1, 1) "=" }'
}
# peer_text I KEY [POLICY]: peer I's file: 10.100.x.y/32 and, by default, a policy of two
# entries: the iperf3 server (every protocol) and a /16 of its own with one TCP port.
addr() { echo "10.100.$(($1 / 250 + 1)).$(($1 % 250 + 1))"; }
policy() { echo "$SERVER, 10.$((200 + $1 % 50)).0.0/16 tcp/$((1000 + $1 % 5000))"; }
peer_text() {
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' "$2" "$(addr "$1")"
	[ "${3-x}" = "" ] || printf 'Access = %s\n' "${3:-$(policy "$1")}"
}

# hub_up NS N: a namespace with hubd on N peers, each with a policy; peer 1's private key
# in $D/NS.key. HUBD_PID, C (the config dir) and HLOG (its --debug log) are set.
hub_up() {
	local ns=$1 n=$2 i
	netns_new "$ns"
	C=$D/$ns/conf HLOG=$D/$ns/hubd.log
	hub_config "$C" wg0 10.100.0.1/16 "ListenPort = 51820" "HealthInterval = 3600"
	(umask 077 && wg genkey >"$D/$ns.key")
	mapfile -t K < <(keys "$n")
	K[0]=$(wg pubkey <"$D/$ns.key")
	for ((i = 0; i < n; i++)); do
		peer_text "$i" "${K[i]}" >"$C/peers.d/p$i.conf"
	done
	ip netns exec "$ns" "$HUBD" --foreground --debug --config-dir "$C" --socket "$D/$ns/ctl.sock" \
		--state-dir "$D/$ns/state" </dev/null >/dev/null 2>>"$HLOG" &
	HUBD_PID=$!
	cleanup _kill_wait "$HUBD_PID"
	local t0=$EPOCHREALTIME
	wait_for -t 1200 grep -q "\[ready\]" "$HLOG"
	log "$ns: hubd ready with $n peers and $((2 * n)) policy entries in $(calc "$EPOCHREALTIME - $t0") s"
}

# changes NS N: STEPS edits of peer 2's Access (a new port each), staged outside the
# watched directory and renamed in by access-poll.pl. Its median line is the last of
# $D/NS/poll.txt.
changes() {
	local ns=$1 n=$2 k spec=()
	mkdir -p "$D/$ns/stage"
	for ((k = 1; k <= STEPS; k++)); do
		peer_text 2 "${K[2]}" "$SERVER, 10.9.0.0/16 tcp/$((20000 + k))" >"$D/$ns/stage/$k"
		spec+=("$D/$ns/stage/$k" "$C/peers.d/p2.conf")
	done
	ip netns exec "$ns" perl "$POLL" "$HLOG" "$GAP" 120 "${spec[@]}" >"$D/$ns/poll.txt" ||
		fail "$ns: $(cat "$D/$ns/poll.txt")"
	sed 's/^/#   /' "$D/$ns/poll.txt"
	# Proof that the last change is in the kernel's set (once: listing every element of a
	# large set takes seconds under TCG). No grep -q: nft would die of SIGPIPE.
	local set
	set=$(ip netns exec "$ns" nft list set inet hubd access4)
	grep "tcp \. $((20000 + STEPS))\b" <<<"$set" >/dev/null ||
		fail "$ns: the last change's element is not in access4"
	if grep "tcp \. $((20000 + STEPS - 1))\b" <<<"$set" >/dev/null; then
		fail "$ns: the previous change's element is still in access4"
	fi
}

# --- 1. one change at SMALL and at LARGE peers -------------------------------------------
hub_up asmall "$SMALL"
changes asmall "$SMALL"
read -r _ s_applied s_took s_nft < <(tail -n 1 "$D/asmall/poll.txt")
kill "$HUBD_PID"
wait "$HUBD_PID" || true
hub_up alarge "$LARGE"
changes alarge "$LARGE"
read -r _ l_applied l_took l_nft < <(tail -n 1 "$D/alarge/poll.txt")

# --- 2. the packet rate through the hub: LARGE policies against none ---------------------
# acli (the client, peer 0 of the large hub) —veth— alarge (hub, wg0) —veth— asrv (iperf3 -s)
netns_new acli
netns_new asrv
veth_pair alarge under acli under
veth_pair alarge lan asrv lan
ip -n alarge -batch - <<-EOF
	addr add 172.31.0.1/24 dev under
	addr add 192.168.77.1/24 dev lan
EOF
ip -n asrv -batch - <<-EOF
	addr add $SERVER/24 dev lan
	route add 10.100.0.0/16 via 192.168.77.1
EOF
ip -n acli -batch - <<-EOF
	addr add 172.31.0.2/24 dev under
	link add wgc type wireguard
	addr add $(addr 0)/32 dev wgc
	link set wgc up
	route add $SERVER/32 dev wgc
EOF
ip netns exec acli wg set wgc private-key "$D/alarge.key" peer "$(wg pubkey <"$C/private.key")" \
	endpoint 172.31.0.1:51820 allowed-ips "$SERVER/32"
background ip netns exec asrv iperf3 -s >/dev/null
wait_for ip netns exec acli ping -c 1 -W 1 "$SERVER"

# rate: "MBIT PPS": TCP throughput received, then UDP 64-byte datagrams received a second.
rate() {
	local tcp udp
	tcp=$(ip netns exec acli iperf3 -c "$SERVER" -t "$SECS" -J | jq '.end.sum_received.bits_per_second / 1e6')
	udp=$(ip netns exec acli iperf3 -c "$SERVER" -u -b 0 -l 64 -t "$SECS" -J |
		jq '(.end.sum.packets - .end.sum.lost_packets) / .end.sum.seconds')
	printf '%.1f %.0f\n' "$tcp" "$udp"
}
# policies_to WHAT: every peer file rewritten with (on) or without (off) its policy, at once.
policies_to() {
	local i t0=$EPOCHREALTIME
	mkdir -p "$D/swap"
	for ((i = 0; i < LARGE; i++)); do
		if [ "$1" = on ]; then peer_text "$i" "${K[i]}"; else peer_text "$i" "${K[i]}" ""; fi \
			>"$D/swap/p$i.conf"
	done
	mv "$D"/swap/*.conf "$C/peers.d/"
	if [ "$1" = on ]; then wait_for -t 900 _set_full; else wait_for -t 900 _set_empty; fi
	log "policies $1 for $LARGE peers: $(calc "$EPOCHREALTIME - $t0") s (files written, set checked)"
}
# How many addresses limited4 covers, whether the set lists them one by one, as ranges
# or as prefixes.
_set_count() {
	ip netns exec alarge nft list set inet hubd limited4 | perl -ne '
		sub n { my @o = split /\./, shift; ((($o[0] * 256 + $o[1]) * 256 + $o[2]) * 256 + $o[3]) }
		while (/(\d+\.\d+\.\d+\.\d+)(?:-(\d+\.\d+\.\d+\.\d+)|\/(\d+))?/g) {
			$c += defined $2 ? n($2) - n($1) + 1 : defined $3 ? 2 ** (32 - $3) : 1;
		}
		END { print $c // 0, "\n" }'
}
_set_full() { [ "$(_set_count)" -ge "$LARGE" ]; }
_set_empty() { [ "$(_set_count)" = 0 ]; }

rate >/dev/null # warm-up: the handshake, conntrack, the caches
read -r p1_tcp p1_udp <<<"$(rate)"
log "rate with $LARGE policies: $p1_tcp Mbit/s TCP, $p1_udp UDP datagrams/s"
policies_to off
read -r n_tcp n_udp <<<"$(rate)"
log "rate with no policy: $n_tcp Mbit/s TCP, $n_udp UDP datagrams/s"
policies_to on
read -r p2_tcp p2_udp <<<"$(rate)"
log "rate with $LARGE policies again: $p2_tcp Mbit/s TCP, $p2_udp UDP datagrams/s"

echo
echo "| figure | $SMALL peers | $LARGE peers | ratio $LARGE/$SMALL |"
echo "|---|---|---|---|"
echo "| one Access change, rename to reconcile done (median of $STEPS) | $s_applied ms | $l_applied ms | $(calc "$l_applied / $s_applied") |"
echo "| the same, hubd's reconcile alone | $s_took ms | $l_took ms | $(calc "$l_took / $s_took") |"
echo "| of which nftables | $s_nft ms | $l_nft ms | $(calc "$l_nft / ($s_nft > 0 ? $s_nft : 0.001)") |"
echo
echo "| through the hub (iperf3, ${SECS} s each) | $LARGE policies | none | policies again | ratio policies/none |"
echo "|---|---|---|---|---|"
echo "| TCP, Mbit/s received | $p1_tcp | $n_tcp | $p2_tcp | $(calc "($p1_tcp + $p2_tcp) / 2 / $n_tcp") |"
echo "| UDP 64-byte datagrams/s received | $p1_udp | $n_udp | $p2_udp | $(calc "($p1_udp + $p2_udp) / 2 / $n_udp") |"
