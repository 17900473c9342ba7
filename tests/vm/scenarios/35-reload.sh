#!/bin/bash
# Changed peer files are applied alone (hubd reads only the files inotify named and
# sends one message), and that shortcut always ends where a full reload would: after
# every step `hubctl diff`, which re-reads everything and compares it with the kernel,
# must find nothing to do. Steps the shortcut cannot be sure of (an error, a clash, a
# rejected file elsewhere, too many files at once) must take the full reload and still
# be right. A peer removed behind hubd's back and then edited comes back with the
# health timer's dump. hubd's own kernel changes trigger no reconcile of their own;
# someone else's do, and are repaired.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"

need_wireguard
need_cmd nft jq
need_built "$HUBD" "$HUBCTL"

D=/etc/hubd/t35
N=40
netns_new hub
hub_config "$D" wg0 "10.8.0.1/16, fd00:8::1/64" "ListenPort = 51820" "HealthInterval = 2"
# Preshared keys must lie under the config directory; in a directory of their own, made
# before hubd starts, a key written later is no event in the config directory itself.
mkdir -p "$D/psk"
mapfile -t pubs < <(random_keys $((N + 100)))
for ((i = 1; i <= N; i++)); do
	peer_file "$D" "p$i" "${pubs[$i]}" "10.8.1.$i/32" "Endpoint = 198.51.100.$i:51820"
done
hubd_start hub "$D" --debug
assert_eq "$N" "$(wg_peers hub wg0)" "peers at start"

ctl() { "$HUBCTL" --socket "$D/control.sock" "$@"; }
# converged: the kernel is what a full reload would make it (hubctl diff lists no change;
# it may list the errors of a rejected file, which make its exit status 1).
converged() {
	local out re='"changes": *\[[[:space:]]*\]'
	out=$(ctl --json diff) || [ $? = 1 ]
	[[ $out =~ $re ]]
}
# shortcuts: how many reconciles took the changed-files path, as status counts them.
# full_reloads: how many re-read every file (the --debug log tells them from the full
# reconciles that the kernel or the timer asked for, which status counts together).
paths() { ctl --json status | jq -c .counters.reconcile; }
shortcuts() { ctl --json status | jq .counters.reconcile.files.count; }
full_reloads() { grep -c "reconcile (all files) took" "$D/hubd.log" || true; }
# kernel_reconciles: those a notification triggered (the health timer's are logged apart).
kernel_reconciles() { grep -c "reconcile (kernel) took" "$D/hubd.log" || true; }
_more_kernel() { [ "$(kernel_reconciles)" -gt "$k0" ]; }
# step NAME: remember the counts before a step; then expect KIND (shortcut or full).
step() {
	log "$1"
	s0=$(shortcuts) f0=$(full_reloads)
}
took() {
	local what=$1
	wait_for converged
	if [ "$what" = shortcut ]; then
		wait_for _more_shortcuts
		assert_eq "$f0" "$(full_reloads)" "no full reload for this step"
	else
		wait_for _more_full
	fi
}
_more_shortcuts() { [ "$(shortcuts)" -gt "$s0" ]; }
_more_full() { [ "$(full_reloads)" -gt "$f0" ]; }

# The link's creation, its MTU, its coming up and its addresses (IPv6 ones notified with
# port 0) are what hubd asked for: no notification of them may cost a dump of every peer.
sleep 0.5
assert_eq 0 "$(kernel_reconciles)" "reconciles triggered by hubd's own start"

step "a new peer file"
peer_file "$D" new1 "${pubs[$((N + 1))]}" "10.8.2.1/32"
wait_for has_peer hub wg0 "${pubs[$((N + 1))]}"
took shortcut

step "an edit: one more AllowedIPs prefix, outside the interface's, gets a route"
peer_file "$D" new1 "${pubs[$((N + 1))]}" "10.8.2.1/32, 192.168.7.0/24"
wait_for aips_are hub wg0 "${pubs[$((N + 1))]}" "10.8.2.1/32 192.168.7.0/24"
wait_for has_route hub 192.168.7.0/24
took shortcut

step "hubd's own route change is not drift (no dump of every peer); someone else's is repaired"
k0=$(kernel_reconciles)
peer_file "$D" new1 "${pubs[$((N + 1))]}" "10.8.2.1/32, 192.168.7.0/24, 192.168.8.0/24"
wait_for has_route hub 192.168.8.0/24
took shortcut
# The echo of hubd's route would be debounced 50 ms; give it ten times that.
sleep 0.5
assert_eq "$k0" "$(kernel_reconciles)" "reconciles triggered by hubd's own route"
ip -n hub route del 192.168.8.0/24 proto 150
wait_for has_route hub 192.168.8.0/24
wait_for _more_kernel
# The link's notifications count when they say something hubd did not ask for.
mtu() { ip -n hub -o link show dev wg0 | grep -o 'mtu [0-9]*'; }
k0=$(kernel_reconciles) mtu0=$(mtu)
ip -n hub link set dev wg0 mtu 1300
wait_for _more_kernel
wait_for eval '[ "$(mtu)" = "$mtu0" ]'
peer_file "$D" new1 "${pubs[$((N + 1))]}" "10.8.2.1/32, 192.168.7.0/24"
wait_for lacks_route hub 192.168.8.0/24
took shortcut

step "addresses: a foreign one is drift and goes, a configured IPv6 one put back; the removal and the re-add that repair them (the IPv6 one notified with port 0) are not"
addrs() { ip -n hub -o addr show dev wg0; }
_addr_gone() { [[ $(addrs) != *"$1"* ]]; }
_addr_back() { [[ $(addrs) == *"$1"* ]]; }
k0=$(kernel_reconciles)
ip -n hub addr add 10.77.0.1/32 dev wg0
wait_for _addr_gone 10.77.0.1/32
sleep 0.5 # the echo of hubd's DELADDR would be debounced 50 ms
# One for the foreign address (none if the 2 s health timer came first), none for its removal.
_at_most() { [ "$(kernel_reconciles)" -le "$1" ] || fail "$2: $(kernel_reconciles) reconciles (kernel), $1 at most"; }
_at_most $((k0 + 1)) "a foreign address and its removal"
k0=$(kernel_reconciles)
ip -n hub addr del fd00:8::1/64 dev wg0
wait_for _addr_back fd00:8::1/64
sleep 0.5 # and so would the IPv6 NEWADDR's, and DAD's end
_at_most $((k0 + 1)) "a removed IPv6 address and its re-add"

step "a rewrite without a change: nothing is sent"
m0=$(ctl --json status | grep -o '"netlink_messages": *[0-9]*' | grep -o '[0-9]*$')
peer_file "$D" new1 "${pubs[$((N + 1))]}" "10.8.2.1/32, 192.168.7.0/24"
took shortcut
m1=$(ctl --json status | grep -o '"netlink_messages": *[0-9]*' | grep -o '[0-9]*$')
assert_eq "$m0" "$m1" "netlink messages for an unchanged file"

step "a rename: the same peer under another name stays (no remove and re-add)"
mv "$D/peers.d/p1.conf" "$D/peers.d/renamed.conf"
took shortcut
has_peer hub wg0 "${pubs[1]}" || fail "renamed peer missing"
assert_not_contains "$(grep -F "peer p1: remove" "$D/hubd.log" || true)" "remove" "renamed peer removed"

step "a new key in an existing file: the old key goes, the new one comes"
peer_file "$D" p2 "${pubs[$((N + 2))]}" "10.8.1.2/32" "Endpoint = 198.51.100.2:51820"
wait_for has_peer hub wg0 "${pubs[$((N + 2))]}"
wait_for lacks_peer hub wg0 "${pubs[2]}"
took shortcut

_psk_is() { [ "$(ip netns exec hub wg show wg0 preshared-keys | awk -v k="$1" '$1 == k { print $2 }')" = "$2" ]; }
step "a PSK and a keepalive added, then the PSK removed"
# (in psk/: a key file changing in the config directory itself is a full reload, rightly)
(umask 077 && wg genpsk >"$D/psk/p3.psk")
peer_file "$D" p3 "${pubs[3]}" "10.8.1.3/32" "Endpoint = 198.51.100.3:51820" \
	"PresharedKeyFile = psk/p3.psk" "PersistentKeepalive = 25"
wait_for _psk_is "${pubs[3]}" "$(cat "$D/psk/p3.psk")"
took shortcut
peer_file "$D" p3 "${pubs[3]}" "10.8.1.3/32" "Endpoint = 198.51.100.3:51820" "PersistentKeepalive = 25"
wait_for _psk_is "${pubs[3]}" "(none)"
took shortcut

step "an editor's backup and a dotfile in peers.d are no reason to reload"
cp "$D/peers.d/p9.conf" "$D/peers.d/p9.conf~"
echo junk >"$D/peers.d/.p9.conf.swp"
sleep 1
assert_eq "$s0 $f0" "$(shortcuts) $(full_reloads)" "reconciles after a backup and a dotfile"
rm "$D/peers.d/p9.conf~" "$D/peers.d/.p9.conf.swp"

step "a removed file"
rm "$D/peers.d/p4.conf"
wait_for lacks_peer hub wg0 "${pubs[4]}"
took shortcut

step "a new file taking a running peer's address is refused, by the full reload"
peer_file "$D" thief "${pubs[$((N + 3))]}" "10.8.1.5/32"
wait_for grep -q "thief.conf:3: AllowedIPs 10.8.1.5/32 is already given to peer p5" "$D/hubd.log"
took full
lacks_peer hub wg0 "${pubs[$((N + 3))]}" || fail "thief applied"
assert_eq "10.8.1.5/32" "$(wg_aips hub wg0 "${pubs[5]}")" "p5 keeps its address"

step "with a file rejected, a change elsewhere reads everything: freeing the address lets it in"
peer_file "$D" p5 "${pubs[5]}" "10.8.1.55/32" "Endpoint = 198.51.100.5:51820"
wait_for has_peer hub wg0 "${pubs[$((N + 3))]}"
took full
assert_eq "10.8.1.5/32" "$(wg_aips hub wg0 "${pubs[$((N + 3))]}")" "thief now holds it"

step "a broken edit keeps the last good version; its fix reads everything, as it was rejected"
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.1.6/33\n' "${pubs[6]}" >"$D/peers.d/p6.conf"
wait_for grep -q "p6.conf:3:" "$D/hubd.log"
took full
assert_eq "10.8.1.6/32" "$(wg_aips hub wg0 "${pubs[6]}")" "p6 kept"
peer_file "$D" p6 "${pubs[6]}" "10.8.1.66/32" "Endpoint = 198.51.100.6:51820"
wait_for aips_are hub wg0 "${pubs[6]}" "10.8.1.66/32"
took full # p6 was rejected: everything is read once more
step "the next edit, with nothing rejected, is a shortcut"
peer_file "$D" p6 "${pubs[6]}" "10.8.1.67/32" "Endpoint = 198.51.100.6:51820"
wait_for aips_are hub wg0 "${pubs[6]}" "10.8.1.67/32"
took shortcut

step "while hubd.conf is unusable, nothing new applies, peer files included"
cp "$D/hubd.conf" "$D/hubd.conf.good"
echo "MTU = 12" >>"$D/hubd.conf"
wait_for grep -q "hubd.conf:7:" "$D/hubd.log"
peer_file "$D" p8 "${pubs[8]}" "10.8.1.88/32" "Endpoint = 198.51.100.8:51820"
sleep 1
assert_eq "10.8.1.8/32" "$(wg_aips hub wg0 "${pubs[8]}")" "p8 while hubd.conf is broken"
mv "$D/hubd.conf.good" "$D/hubd.conf"
wait_for aips_are hub wg0 "${pubs[8]}" "10.8.1.88/32"
wait_for converged

step "two new files clashing with each other: the full reload refuses the later name"
peer_file "$D" twin-a "${pubs[$((N + 4))]}" "10.8.3.0/24"
peer_file "$D" twin-b "${pubs[$((N + 5))]}" "10.8.3.3/32"
wait_for grep -q "twin-b.conf:3: AllowedIPs 10.8.3.3/32 overlaps" "$D/hubd.log"
took full
rm "$D/peers.d/twin-b.conf"
took full

step "70 files written as fast as bash can (over 64 in a batch are read in full)"
for ((i = 0; i < 70; i++)); do
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.4.%d/32\n' "${pubs[$((N + 20 + i))]}" "$i" \
		>"$D/peers.d/bulk$i.conf"
done
wait_for peers_are hub wg0 $((N + 2 + 70))
wait_for converged

step "a peer removed behind hubd's back and then edited comes back with the health timer"
ip netns exec hub wg set wg0 peer "${pubs[7]}" remove
peer_file "$D" p7 "${pubs[7]}" "10.8.1.7/32, 10.8.1.77/32" "Endpoint = 198.51.100.7:51820"
wait_for -t 20 aips_are hub wg0 "${pubs[7]}" "10.8.1.7/32 10.8.1.77/32"
wait_for converged

log "hubctl diff agrees with the kernel at the end; the log shows $(shortcuts) shortcuts, $(full_reloads) full reloads"
hubd_stop
