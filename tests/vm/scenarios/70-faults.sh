#!/bin/bash
# Faults: hubd killed -9 in the middle of applying 10,000 peers converges on
# restart; 1,000 file changes in a burst end in the right state after a bounded
# number of reconciles; peers.d swapped by a Kubernetes-style "..data" symlink
# rename; the config dir deleted (running state kept) and recreated; the
# rtnetlink monitor overrun (ENOBUFS) while a hubd route is deleted; the nft
# ruleset flushed while peers change. After each: the kernel's peers are
# exactly the config's (wg show dump), 0 lost peers.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"

need_wireguard
need_cmd nft
need_built "$HUBD" "$HUBCTL"

T=/etc/hubd/t70
D=$T/conf # the config dir: deleted and recreated below, so the log and socket live beside it
LOG=$T/hubd.log
SOCK=$T/control.sock
N=${HUBD_FAULT_PEERS:-10000}
M=40 # peers for the later phases: every reconcile dumps the device, keep it small
mkdir -p "$T"
cleanup rm -rf "$T"
cleanup _show_log "$LOG"

# hubd in namespace $NS on $D; waits for its Nth "ready" line.
readies=0
start() {
	ip netns exec "$NS" "$HUBD" --foreground --config-dir "$D" --socket "$SOCK" 2>>"$LOG" &
	HUBD_PID=$!
	cleanup _kill_wait "$HUBD_PID"
	readies=$((readies + 1))
	wait_for -t 120 log_count "ready:" "$readies"
}
# log_count PATTERN N: at least N lines of hubd's log match.
log_count() { [ "$(grep -c -- "$1" "$LOG")" -ge "$2" ]; }

# N valid random public keys from one pipeline: lib's random_keys slices one long
# string, quadratic for 10,000 keys.
many_keys() {
	local last=AEIMQUYcgkosw048 line
	while read -r line; do
		printf '%s%s=\n' "$line" "${last:RANDOM%16:1}"
	done < <(head -c $((32 * $1 + 64)) /dev/urandom | base64 -w 42 | head -n "$1")
}

# The kernel's peers against the files, normalised as in 30-hubd (one awk each).
norm='function sorted(s,   n, a, i, j, t, out) {
	gsub(/ /, "", s); n = split(s, a, ",")
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	for (i = 1; i <= n; i++) out = out a[i] ","
	return out
}'
expected_of() { # DIR: the peers its peers.d describes
	awk -F' = ' "$norm"'
	function emit() { if (pub != "") print pub, sorted(aips), (ep == "" ? "(none)" : ep), (ka + 0 ? ka : "off"); pub = aips = ep = ka = "" }
	FNR == 1 { emit() }
	$1 == "PublicKey" { pub = $2 } $1 == "AllowedIPs" { aips = $2 }
	$1 == "Endpoint" { ep = $2 } $1 == "PersistentKeepalive" { ka = $2 }
	END { emit() }' "$1"/peers.d/*.conf | sort
}
actual() { ip netns exec "$NS" wg show wg0 dump | awk "$norm"'NR > 1 { print $1, sorted($4), $3, $8 }' | sort; }
matches() { [ "$(actual)" = "$1" ]; }
# assert_converged [EXPECTED]: the kernel converges to EXPECTED (default: the files now).
assert_converged() {
	local want=${1:-$(expected_of "$D")} lost
	wait_for -t 120 matches "$want"
	lost=$(comm -23 <(echo "$want") <(actual) | grep -c . || true)
	assert_eq 0 "$lost" "lost peers"
	assert_eq "$want" "$(actual)" "wg show dump vs config"
	log "converged: $(echo "$want" | grep -c .) peers, $lost lost"
}
metric() {
	local v
	v=$("$HUBCTL" --socket "$SOCK" metrics | awk -v m="$1" '{ n = $1; sub(/[{].*/, "", n) } n == m { print $NF }')
	[[ $v =~ ^[0-9]+$ ]] || fail "no metric $1"
	echo "$v"
}

# freeze_with_peers NS: SIGSTOP hubd once some of its peers are in NS's wg0 (HAD).
freeze_with_peers() {
	HAD=0
	for ((try = 0; try < 100; try++)); do
		kill -STOP "$HUBD_PID"
		HAD=$(wg_peers "$1" wg0)
		[ "$HAD" = 0 ] || return 0
		kill -CONT "$HUBD_PID"
		sleep 0.1
	done
	fail "no peer applied in 100 tries"
}

# The 10,000 peers get a namespace of their own, deleted whole afterwards: the kernel
# removes WireGuard peers one RCU grace period at a time (minutes for 10,000 under TCG),
# and a namespace is cleaned up in the background.
netns_new big
netns_new hub

# ---------------------------------------------------------------------------------------
NS=big
log "kill -9 in the middle of applying $N peers"
hub_config "$D" wg0 10.8.0.1/16 "ListenPort = 51820" "HealthInterval = 3600"
mapfile -t pubs < <(many_keys "$N")
assert_eq "$N" "${#pubs[@]}" "keys generated"
for ((i = 0; i < N; i++)); do
	lan=
	((i % 500)) || lan=", 172.16.$((i / 500)).0/24" # a few routed LANs too
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.%d.%d/32%s\n' \
		"${pubs[i]}" $((i / 250 + 1)) $((i % 250 + 1)) "$lan" >"$D/peers.d/p$i.conf"
done
ip netns exec big "$HUBD" --foreground --config-dir "$D" --socket "$SOCK" 2>>"$LOG" &
HUBD_PID=$!
cleanup _kill_wait "$HUBD_PID"
# The link comes first, then the peers. Freeze hubd (SIGSTOP) to count them without a
# race, and kill -9 it frozen once some, not all, are in.
wait_for -t 120 ip -n big link show wg0
freeze_with_peers big
had=$HAD
kill -9 "$HUBD_PID"
wait "$HUBD_PID" 2>/dev/null || true
log "killed with $had of $N peers in the kernel"
[ "$had" -lt "$N" ] || fail "hubd applied all $N peers before the kill: nothing was interrupted"
assert_not_contains "$(cat "$LOG")" "ready:" "killed before ready"
start
assert_converged
assert_eq "$(wg pubkey <"$D/private.key")" "$(ip netns exec big wg show wg0 public-key)" "interface key"
assert_contains "$(ip -n big -o addr show dev wg0)" "10.8.0.1/16" "address"
assert_eq 20 "$(ip -n big route show proto 150 | grep -c 'dev wg0')" "routed LANs"
ip netns exec big nft list table inet hubd >/dev/null
hubd_stop
_netns_del big

# The cold start's sender stops at the kernel's first error; the reader, which may be
# waiting for room to queue a request, must stop with it, and hubd go on to repair.
log "the link deleted in the middle of a cold start"
netns_new big2
NS=big2
ip netns exec big2 "$HUBD" --foreground --config-dir "$D" --socket "$SOCK" 2>>"$LOG" &
HUBD_PID=$!
cleanup _kill_wait "$HUBD_PID"
readies=$((readies + 1))
wait_for -t 120 ip -n big2 link show wg0
freeze_with_peers big2
[ "$HAD" -lt "$N" ] || fail "all $N peers were in before the link went: nothing was interrupted"
ip -n big2 link del wg0
kill -CONT "$HUBD_PID"
wait_for -t 120 log_count "ready:" "$readies"
assert_contains "$(cat "$LOG")" "WireGuard device wg0: " "the cold start's error"
assert_converged
hubd_stop
_netns_del big2

log "$M peers in a fresh namespace, a Kubernetes-style config dir (peers.d -> ..data/peers.d)"
NS=hub
rm -rf "$D/peers.d"
mkdir -p "$D/..v1/peers.d"
ln -s ..v1 "$D/..data"
ln -s ..data/peers.d "$D/peers.d"
mapfile -t pubs < <(many_keys $((M + 40)))
gw_pub=${pubs[M + 39]}
peer_file "$D" gw "$gw_pub" "10.8.200.1/32, 192.168.1.0/24"
for ((i = 1; i <= M; i++)); do
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.%d/32\n' "${pubs[i]}" $((i + 1)) >"$D/peers.d/p$i.conf"
done
start
assert_converged

# ---------------------------------------------------------------------------------------
log "1,000 file changes in a burst"
r0=$(metric hubd_reconciles_total)
t0=$EPOCHREALTIME
for ((k = 0; k < 1000; k++)); do
	i=$((k % M + 1))
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.%d/32, 10.%d.%d.0/24\n' \
		"${pubs[i]}" $((i + 1)) $((100 + k / M)) "$i" >"$D/peers.d/p$i.conf"
done
t1=$EPOCHREALTIME
burst_ms=$(((${t1/./} - ${t0/./}) / 1000))
log "1,000 changes written in $burst_ms ms"
assert_converged
wait_for -t 60 eval '[ "$(ip -n hub route show proto 150 | grep -c "^10\.124\.")" = '"$M"' ]'
assert_eq $((M + 1)) "$(ip -n hub route show proto 150 | grep -c 'dev wg0')" "routes: the last LANs and the gateway's, no stale ones"
sleep 1 # let the last debounced reconciles run before counting
r1=$(metric hubd_reconciles_total)
# Reconciles are at least 50 ms apart (DEBOUNCE_SPACING_USEC, src/loop.h), whatever
# triggers them: at most ~1 per 50 ms; the bound allows twice that.
bound=$((burst_ms / 25 + 10))
log "reconciles during the burst: $((r1 - r0)) (bound $bound)"
[ $((r1 - r0)) -le "$bound" ] || fail "$((r1 - r0)) reconciles for 1,000 changes in $burst_ms ms (bound $bound)"
[ $((r1 - r0)) -ge 1 ] || fail "no reconcile at all"

# ---------------------------------------------------------------------------------------
log "peers.d swapped atomically: ..data renamed over (Kubernetes ConfigMap)"
mkdir -p "$D/..v2/peers.d"
cp "$D"/peers.d/*.conf "$D/..v2/peers.d/"
rm "$D/..v2/peers.d/p$M.conf" # removed
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.250/32, 10.99.0.0/24\n' "${pubs[M + 1]}" >"$D/..v2/peers.d/q1.conf"
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.2/32\nPersistentKeepalive = 25\n' "${pubs[1]}" >"$D/..v2/peers.d/p1.conf"
ln -s ..v2 "$D/..data_tmp"
mv -T "$D/..data_tmp" "$D/..data"
assert_converged
wait_for has_route hub 10.99.0.0/24
rm -rf "$D/..v1"
log "the new peers.d is watched"
peer_file "$D" q2 "${pubs[M + 2]}" "10.8.0.251/32"
wait_for -t 10 has_peer hub wg0 "${pubs[M + 2]}"
assert_converged

# ---------------------------------------------------------------------------------------
log "the config dir deleted: the running state stays"
mkdir -p "$T/saved/peers.d"
cp "$D/hubd.conf" "$D/private.key" "$T/saved/"
cp "$D"/peers.d/*.conf "$T/saved/peers.d/"
before=$(expected_of "$D")
rm -rf "$D"
sleep 1 # the watch's reconcile
"$HUBCTL" --socket "$SOCK" reload >/dev/null 2>&1 || true # and a synchronous one
assert_eq "$before" "$(actual)" "state kept without a config dir"
kill -0 "$HUBD_PID"
log "the config dir recreated (a plain peers.d now), with one peer more"
peer_file "$T/saved" r1 "${pubs[M + 3]}" "10.8.0.252/32"
mkdir "$D"
cp -a "$T/saved/." "$D/"
assert_converged
wait_for -t 10 has_peer hub wg0 "${pubs[M + 3]}"
log "edits in the recreated dir are seen"
rm "$D/peers.d/q2.conf"
wait_for -t 10 lacks_peer hub wg0 "${pubs[M + 2]}"
assert_converged

# ---------------------------------------------------------------------------------------
log "the rtnetlink monitor overruns (ENOBUFS) while a hubd route is deleted"
# Link notifications fill hubd's 8 MiB receive buffer fastest: every alias change of an
# up link is an RTM_NEWLINK of ~2.8 KB (skb truesize); 4,500 of them overrun it.
ip -n hub link add dummy0 type dummy
ip -n hub link set dummy0 up
{
	for ((k = 0; k < 4500; k++)); do echo "link set dummy0 alias flood$k"; done
	echo "route del 192.168.1.0/24 dev wg0 proto 150"
	for ((k = 0; k < 100; k++)); do echo "link set dummy0 alias after$k"; done
} >"$T/flood.batch"
o0=$(grep -c "overran" "$LOG" || true)
kill -STOP "$HUBD_PID"
cleanup kill -CONT "$HUBD_PID"
ip -n hub -batch "$T/flood.batch"
lacks_route hub 192.168.1.0/24 || fail "the flood did not delete the route"
kill -CONT "$HUBD_PID"
t0=$(ms)
wait_for -t 20 has_route hub 192.168.1.0/24
log "route restored $(($(ms) - t0)) ms after SIGCONT (HealthInterval is 3600 s: not the timer)"
wait_for -t 10 log_count "overran" $((o0 + 1))
assert_converged

# ---------------------------------------------------------------------------------------
log "nft ruleset flushed while peers change"
table=$(ip netns exec hub nft list table inet hubd)
assert_contains "$table" "chain forward" "nft table"
for ((k = 1; k <= 12; k++)); do
	# one peer added, one changed, then the flush (builtins but the flush: TCG)
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.3.%d/32\n' "${pubs[M + 10 + k]}" "$k" >"$D/peers.d/f$k.conf"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.2/32, 10.8.4.%d/32\n' "${pubs[1]}" "$k" >"$D/peers.d/p1.conf"
	ip netns exec hub nft flush ruleset
done
assert_converged
wait_for -t 20 ip netns exec hub nft list table inet hubd
assert_eq "$table" "$(ip netns exec hub nft list table inet hubd)" "nft table restored"

log "hubd is still the one that started, and stops cleanly"
kill -0 "$HUBD_PID"
hubd_stop
ip netns exec hub "$HUBD" --down --config-dir "$D"
assert_not_contains "$(ip -n hub link show)" "wg0" "link gone"
