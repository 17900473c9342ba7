#!/bin/bash
# hubctl against a running hubd in the seed topology (tests/vm/topology.sh): a phone
# brought up with wg-quick on exactly what "hubctl peer add" printed reaches the hub
# and a LAN host behind the home gateway; status and metrics show handshake ages that
# move; --json status parses; the socket refuses a non-root user (and admits a member
# of --group); diff exits 2 with a change pending and 0 after reload; reload prints
# the change; peer remove makes the daemon drop the peer.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"
source "$HUBD_SRCDIR/tests/vm/topology.sh"

need_wireguard
need_cmd nft curl busybox wg-quick jq perl
need_built "$HUBD" "$HUBCTL"

HUB=/etc/hubd/hub
GW=/etc/hubd/gw
W=/tmp/t40
mkdir -p "$W/www"
echo "lan page" >"$W/www/index.html"
S=$HUB/control.sock

log "the seed topology, the LAN host serving HTTP"
topo_namespaces
topo_lanhost "$W/www"

log "hub and home gateway run hubd"
topo_hub_config "$HUB"
topo_gw_config "$GW" "$HUB"
hubd_start hub "$HUB"
hubd_start gw "$GW"
wait_for ip netns exec gw ping -c 1 -W 1 10.8.0.1

log "peer add prints a config; wg-quick up on exactly that"
(umask 077 && "$HUBCTL" --config-dir "$HUB" peer add phone --qr none >"$W/phone.conf")
conf=$(<"$W/phone.conf")
assert_contains "$conf" "Address = 10.8.0.2/32" "phone address"
assert_contains "$conf" "Endpoint = $TOPO_HUB_IP:51820" "endpoint from PublicEndpoint"
assert_contains "$conf" "AllowedIPs = 10.8.0.0/24, 192.168.1.0/24" "split tunnel"
assert_contains "$conf" "PublicKey = $HUB_PUB" "hub key"
assert_not_contains "$(<"$HUB/peers.d/phone.conf")" "PrivateKey" "private key stored on the hub"
[[ $conf =~ PrivateKey\ =\ ([A-Za-z0-9+/]{43}=) ]] || fail "no PrivateKey in: $conf"
phone_priv=${BASH_REMATCH[1]}
phone_pub=$(wg pubkey <<<"$phone_priv")
assert_contains "$(<"$HUB/peers.d/phone.conf")" "PublicKey = $phone_pub" "peer file holds the phone's public key"
wait_for has_peer hub wg0 "$phone_pub"
topo_phone_up "$W/phone.conf"
wait_for ip netns exec phone ping -c 1 -W 1 10.8.0.1
assert_eq "lan page" "$(ip netns exec phone curl -sS --max-time 10 "http://$TOPO_LAN_HOST/")" "page from the LAN host"

log "peer add refuses an existing name"
set +e
out=$("$HUBCTL" --config-dir "$HUB" peer add phone --qr none 2>&1)
rc=$?
set -e
assert_eq 1 "$rc" "peer add of an existing name"
assert_contains "$out" "phone" "the message names the peer"

log "status and metrics: handshake ages that move"
st1=$("$HUBCTL" --socket "$S" status)
m1=$("$HUBCTL" --socket "$S" metrics)
j1=$("$HUBCTL" --socket "$S" --json status)
sleep 3
st2=$("$HUBCTL" --socket "$S" status)
m2=$("$HUBCTL" --socket "$S" metrics)
echo "$st2"
# The home gateway's row: "home  ENDPOINT  ALLOWED IPS  AGE ago ...".
age() { [[ $1 =~ (^|$'\n')home\ [^$'\n']*\ ([0-9]+m\ )?([0-9]+)s\ ago ]] && echo "${BASH_REMATCH[2]}${BASH_REMATCH[3]}"; }
a1=$(age "$st1") || fail "no handshake age for home in: $st1"
a2=$(age "$st2") || fail "no handshake age for home in: $st2"
[ "$a1" != "$a2" ] || fail "status: the handshake age did not move ($a1)"
mage() { [[ $1 =~ hubd_peer_handshake_age_seconds\{[^}]*peer=\"$2\"[^}]*\}\ ([0-9.]+) ]] && echo "${BASH_REMATCH[1]%.*}"; }
for p in home phone; do
	b1=$(mage "$m1" $p) || fail "no handshake age metric for $p in: $m1"
	b2=$(mage "$m2" $p) || fail "no handshake age metric for $p in: $m2"
	[ "$b2" -ge $((b1 + 2)) ] || fail "metrics: $p's handshake age did not move ($b1 -> $b2)"
done
assert_contains "$m2" 'hubd_peer_up{interface="wg0",peer="home"} 1' "home up in metrics"

log "--json status parses"
jq -e . >/dev/null <<<"$j1"
assert_eq "wg0 2" "$(jq -r '"\(.interface.name) \(.peers | length)"' <<<"$j1")" "json interface and peers"
assert_eq "up" "$(jq -r '.peers[] | select(.name == "home") | .health' <<<"$j1")" "json home health"
jq -e '.peers[] | select(.name == "phone") | .handshake_age >= 0' >/dev/null <<<"$j1"
assert_not_contains "$j1" "$phone_priv" "the phone's private key in status"

log "the socket refuses a non-root user"
set +e
out=$(ctl_as 65534 65534 "$S" status 2>&1)
rc=$?
set -e
assert_eq 1 "$rc" "non-root status"
assert_contains "$out" "ermission denied" "non-root message"
assert_not_contains "$out" "home" "non-root sees no peer"

log "restarted with --group nogroup, a member of that group is admitted"
hubd_stop
# From now on the hub checks the device only hourly: no drift repair behind diff's back.
conf=$(<"$HUB/hubd.conf")
printf '%s\n' "${conf/HealthInterval = 2/HealthInterval = 3600}" >"$HUB/hubd.conf"
assert_contains "$(<"$HUB/hubd.conf")" "HealthInterval = 3600" "hub config rewritten"
# hubd_start waits for "ready" in the log: the first daemon's must not count.
mv "$HUB/hubd.log" "$HUB/hubd.log.1"
hubd_start hub "$HUB" --group nogroup
out=$(ctl_as 65534 65534 "$S" status)
assert_contains "$out" '"name":"home"' "status as a member of the socket's group"
set +e
out=$(ctl_as 65534 100 "$S" status 2>&1)
rc=$?
set -e
assert_eq 1 "$rc" "status as a user outside the group"
# The socket's mode (0660, group nogroup) refuses it before hubd is asked.
assert_contains "$out" "connect: Permission denied" "outsider's message"

log "diff: 0 when in sync, 2 with a change pending; reload prints it and exits 0"
"$HUBCTL" --socket "$S" diff
extra=$(random_key)
peer_file "$HUB" extra "$extra" "10.8.0.50/32"
wait_for has_peer hub wg0 "$extra"
# Let the burst of events from writing the file settle (one more debounced reconcile may
# follow the first), or it would restore the peer before diff looks.
sleep 1
# Behind hubd's back: WireGuard sends no notification, so only a reload (or the hourly
# health check) notices.
ip netns exec hub wg set wg0 peer "$extra" remove
# Which way each reconcile went, as status counts it (no health timer runs meanwhile).
paths() { "$HUBCTL" --socket "$S" --json status | jq -c .counters.reconcile; }
p0=$(paths)
assert_eq files "$(jq -r .last_path <<<"$p0")" "status: a new peer file took the files path"
jq -e '.files.count > 0 and .files.last_us > 0 and .files.total_us >= .files.last_us' \
	<<<"$p0" >/dev/null || fail "files path counters: $p0"
set +e
out=$("$HUBCTL" --socket "$S" diff 2>&1)
rc=$?
set -e
assert_eq 2 "$rc" "diff with a change pending"
assert_contains "$out" "extra" "diff names the peer"
lacks_peer hub wg0 "$extra" || fail "diff changed the kernel"
assert_eq "$p0" "$(paths)" "status: a dry run (diff) is counted on no path"
out=$("$HUBCTL" --socket "$S" reload)
assert_contains "$out" "extra" "reload prints the change"
has_peer hub wg0 "$extra" || fail "reload did not restore the peer"
p1=$(paths)
assert_eq full "$(jq -r .last_path <<<"$p1")" "status: reload took the full path"
assert_eq "$(jq '.full.count + 1' <<<"$p0")" "$(jq .full.count <<<"$p1")" "status: one more full reconcile"
assert_eq "$(jq .files.count <<<"$p0")" "$(jq .files.count <<<"$p1")" "status: reload is no shortcut"
assert_eq "$(realpath "$HUB")" "$("$HUBCTL" --socket "$S" --json status | jq -r .config_dir)" \
	"status names the config dir"
"$HUBCTL" --socket "$S" diff

log "peer remove: the daemon drops the peer"
"$HUBCTL" --config-dir "$HUB" peer remove phone
wait_for -t 10 lacks_peer hub wg0 "$phone_pub"
set +e
"$HUBCTL" --config-dir "$HUB" peer remove phone
rc=$?
set -e
assert_eq 1 "$rc" "peer remove of an unknown peer"
assert_not_contains "$("$HUBCTL" --config-dir "$HUB" peer list)" "phone" "peer list after remove"
