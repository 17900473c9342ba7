#!/bin/bash
# The cost of one scrape of hubd's MetricsListen at N peers, against `wg show wg0 dump` of
# the same device, in one run:
#   HUBD_BUILDDIR=/abs/build-without-sanitizers tests/vm/run "$PWD/bench/run-metrics.sh"
# Knobs (HUBD_BENCH_* reach the VM; PEERS and BENCH_REPS are for a direct run): PEERS (10000),
# BENCH_REPS (5, medians).
# A scrape is timed by curl itself (-w time_total: connect to last byte, no process start);
# wg is timed around its process, less the median start of `wg --version` in the same
# namespace (under TCG a process start is ~0.3 s, more than a dump of a few peers).
# The longest time hubd's loop was held for one scrape comes from hubd's own --debug line
# (the longest turn of libmicrohttpd, the walk and snapshot, the longest slice).
# Two kinds of scrape: "walk", more than 5 s after the last walk of the device, so hubd
# walks it once (handshakes and counters of every peer) and renders the text; and "fresh",
# within 5 s of another, which renders the text from what that walk saw.
# hubd-vm-timeout: 1800
# It is not a test: it prints figures; only a broken run fails.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"

need_wireguard
need_cmd curl awk
need_built "$HUBD"

N=${PEERS:-${HUBD_BENCH_PEERS:-10000}}
REPS=${BENCH_REPS:-${HUBD_BENCH_REPS:-5}}
NS=hmetrics
D=$(mktemp -d /tmp/hubd-metrics.XXXXXX)
cleanup rm -rf "$D"
C=$D/conf # hubd's config dir; the bench's own files stay out of it (hubd watches it)
URL=http://127.0.0.1:9586/metrics

calc() { awk "BEGIN { printf \"%.4f\", $* }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
nsx() { ip netns exec "$NS" "$@"; }

log "metrics benchmark: $N peers, $REPS scrapes of each kind, $(nproc) CPUs"
netns_new "$NS"
hub_config "$C" wg0 "10.8.0.1/16" "ListenPort = 51820" "HealthInterval = 3600" \
	"MetricsListen = 127.0.0.1:9586"
# As in bench-hubd.sh: any 32 bytes make a key; the 43rd character's low 2 bits must be 0.
mapfile -t pubs < <(head -c $((32 * N + 4096)) /dev/urandom | base64 -w 42 |
	awk -v n="$N" 'BEGIN { srand(); s = "AEIMQUYcgkosw048" }
		length($0) == 42 && c++ < n { print $0 substr(s, int(rand() * 16) + 1, 1) "=" }')
[ "${#pubs[@]}" -ge "$N" ] || fail "only ${#pubs[@]} keys"
for ((i = 0; i < N; i++)); do
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.%d.%d/32\nEndpoint = 198.51.100.%d:%d\n' \
		"${pubs[$i]}" $((i / 250 + 1)) $((i % 250 + 1)) $((i % 200 + 1)) $((10000 + i)) \
		>"$C/peers.d/p$i.conf"
done
log "config written: $N peer files"

# Not through nsx: a function run with & is a subshell, and $! would be its pid, not hubd's.
# --debug: after each scrape hubd logs how long it held its loop (metrics-http.c).
ip netns exec "$NS" "$HUBD" --foreground --debug --config-dir "$C" --socket "$D/control.sock" \
	--state-dir "$D/state" </dev/null >/dev/null 2>>"$D/hubd.log" &
HUBD_PID=$!
cleanup _kill_wait "$HUBD_PID"
wait_for -t 900 grep -q "\[ready\]" "$D/hubd.log"
wait_for -t 60 grep -q "metrics: serving" "$D/hubd.log"
log "hubd ready"

# scrape FILE: one GET; prints curl's own seconds from connect to the last byte.
scrape() { nsx curl -sS --max-time 300 -o "$1" -w '%{time_total}' "$URL"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$HUBD_PID/stat"; }
t_walk=() t_fresh=() t_dump=() t_start=() c_walk=() c_fresh=()
for ((r = 1; r <= REPS; r++)); do
	sleep 6 # past the 5 s in which a walk is reused
	c0=$(ticks)
	t_walk+=("$(scrape "$D/walk.txt")")
	c1=$(ticks)
	t_fresh+=("$(scrape "$D/fresh.txt")")
	c2=$(ticks)
	c_walk+=($((c1 - c0)))
	c_fresh+=($((c2 - c1)))
	t0=$EPOCHREALTIME
	nsx wg show wg0 dump >"$D/dump.txt"
	t_dump+=("$(calc "$EPOCHREALTIME - $t0")")
	t0=$EPOCHREALTIME
	nsx wg --version >/dev/null
	t_start+=("$(calc "$EPOCHREALTIME - $t0")")
done
got=$(grep -c '^wireguard_peer_info{' "$D/walk.txt" || true)
[ "$got" = "$N" ] || fail "the scrape has $got wireguard_peer_info lines, not $N"
[ "$(($(wc -l <"$D/dump.txt") - 1))" = "$N" ] || fail "wg show dump has not $N peers"

hz=$(getconf CLK_TCK)
walk=$(median "${t_walk[@]}") fresh=$(median "${t_fresh[@]}")
start=$(median "${t_start[@]}") dump=$(median "${t_dump[@]}")
net=$(calc "$dump - $start")
echo
echo "| $N peers, medians of $REPS | hubd scrape | wg show wg0 dump | ratio |"
echo "|---|---|---|---|"
echo "| one scrape with a walk | $walk s (hubd CPU $(calc "$(median "${c_walk[@]}") / $hz") s) | $net s ($dump s with its process start) | $(calc "$walk / $net") |"
echo "| one scrape within 5 s of a walk | $fresh s (hubd CPU $(calc "$(median "${c_fresh[@]}") / $hz") s) | | $(calc "$fresh / $net") |"
echo "| bytes | $(wc -c <"$D/walk.txt") | $(wc -c <"$D/dump.txt") | |"
# hold KIND FIELD: the median of one figure of hubd's "longest hold" lines, walk scrapes
# (odd lines) or fresh ones (even).
hold() {
	grep -o 'longest hold of the loop: .*' "$D/hubd.log" |
		awk -v k="$1" -v f="$2" '(NR % 2 == (k == "walk")) {
			gsub(/[(),]/, ""); print $f }' | sort -g |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
echo "| longest hold of hubd's loop, one scrape with a walk | $(hold walk 6) ms (walk and snapshot $(hold walk 11) ms, longest slice $(hold walk 14) ms) | | |"
echo "| longest hold of hubd's loop, one scrape within 5 s | $(hold fresh 6) ms (snapshot $(hold fresh 11) ms, longest slice $(hold fresh 14) ms) | | |"
echo
grep -o 'longest hold of the loop: .*' "$D/hubd.log" | sed 's/^/hubd: /'
echo "walk: ${t_walk[*]}"
echo "fresh: ${t_fresh[*]}"
echo "wg dump: ${t_dump[*]} (process start: ${t_start[*]})"
