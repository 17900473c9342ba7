#!/bin/bash
# A cold start (no link yet, nothing running) sends the first peer files to the kernel
# while the rest are still being read. It must end exactly where the full reconcile
# would, clashes included: clashes whose winner is in the first files read and whose
# loser is in the last, a file that sorts first by file name but second by peer name
# ("a-b.conf" before "a.conf"; peer "a" wins), a broken file, the hub's own address,
# a host name to resolve, a PSK, a LAN route. Checked three ways:
#  - `hubctl check` reports the same diagnostics, in the same order, that hubd logged;
#  - `hubctl diff`, which re-reads everything and compares it with the kernel, finds
#    nothing to do;
#  - `wg showconf` is the same, byte for byte, as after a start on an existing empty
#    link, which takes the full reconcile.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"

need_wireguard
need_cmd nft
need_built "$HUBD" "$HUBCTL"

D=/etc/hubd/t32
# The reader judges at 64, 128, 256 and 512 files, then all 600: five batches. (Not
# more: deleting a link costs the kernel a synchronize_net per peer, ~17 ms under TCG.)
N=600
netns_new hub
hub_config "$D" wg0 "10.8.0.1/16, fd00:8::1/64" "ListenPort = 51820" "MTU = 1400"
mapfile -t pubs < <(random_keys $((N + 10)))
# pfile NAME KEY ALLOWEDIPS [EXTRA...]: written in place (no daemon watches yet).
pfile() {
	local name=$1 key=$2 aips=$3 l
	shift 3
	{
		printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s\n' "$key" "$aips"
		for l; do echo "$l"; done
	} >"$D/peers.d/$name.conf"
}
for ((i = 0; i < N; i++)); do
	pfile "p$(printf %04d $i)" "${pubs[$i]}" "10.8.$((1 + i / 250)).$((1 + i % 250))/32" \
		"Endpoint = 198.51.100.$((1 + i % 250)):$((20000 + i))"
done
mkdir -p "$D/psk"
(umask 077 && wg genpsk >"$D/psk/p0003.psk")
pfile p0003 "${pubs[3]}" "10.8.1.4/32" "PresharedKeyFile = $D/psk/p0003.psk" "PersistentKeepalive = 25"
pfile p0002 "${pubs[2]}" "10.8.1.3/32" "Endpoint = localhost:51999"
pfile p0030 "${pubs[30]}" "10.8.1.31/32, 192.168.50.0/24"
pfile p0590 "${pubs[590]}" "10.8.1.11/32"                     # p0010's address
pfile p0591 "${pubs[5]}" "10.8.3.92/32"                        # p0005's key
pfile p0592 "${pubs[592]}" "10.8.3.93/32, 192.168.50.128/25"  # inside p0030's LAN
pfile p0300 "${pubs[300]}" "10.8.300.1/32"                     # not an address
pfile p0400 "${pubs[400]}" "10.8.0.1/32"                       # the hub's own address
pfile a-b "${pubs[$((N + 1))]}" "10.8.200.1/32"
pfile a "${pubs[$((N + 2))]}" "10.8.200.1/32"
want=$((N + 2 - 6)) # rejected: p0300 p0400 p0590 p0591 p0592 a-b

ctl() { "$HUBCTL" --socket "$D/control.sock" "$@"; }
converged() {
	local out re='"changes": *\[[[:space:]]*\]'
	out=$(ctl --json diff) || [ $? = 1 ]
	[[ $out =~ $re ]]
}
# The diagnostics hubd logged, as "path:line: message" lines, in order.
logged_errors() { sed -n -E 's/^hubd\[[^]]*\]: ([a-z]+: )?(\/.*) \[config-error\]$/\2/p' "$D/hubd.log"; }

log "cold start with $N peer files"
hubd_start hub "$D" --debug
assert_contains "$(cat "$D/hubd.log")" "reconcile (cold start) took" "the cold start was taken"
assert_eq "$want" "$(wg_peers hub wg0)" "peers after the cold start"
wait_for converged
check=$("$HUBCTL" --config-dir "$D" check 2>&1 >/dev/null) || true
assert_eq 6 "$(grep -c . <<<"$check")" "diagnostics from hubctl check"
assert_eq "$check" "$(logged_errors)" "hubd's diagnostics are hubctl check's, in order"
assert_contains "$check" "a-b.conf:3: AllowedIPs 10.8.200.1/32 is already given to peer a" \
	"peer a wins over a-b"
assert_contains "$check" "p0590.conf:3: AllowedIPs 10.8.1.11/32 is already given to peer p0010" \
	"the first file wins"
has_peer hub wg0 "${pubs[$((N + 2))]}" || fail "peer a missing"
lacks_peer hub wg0 "${pubs[$((N + 1))]}" || fail "peer a-b applied"
assert_eq "10.8.1.6/32" "$(wg_aips hub wg0 "${pubs[5]}")" "p0005 keeps its key"
# Host names are resolved off the loop: the endpoint follows the peer within moments.
# localhost is 127.0.0.1 or ::1, whichever the resolver gives first: a hosts file may name
# either or both (a bare Debian's installer writes both).
endpoint_of() { ip netns exec hub wg show wg0 endpoints | awk -v k="$1" '$1 == k { print $2 }'; }
_resolved() { case $(endpoint_of "${pubs[2]}") in 127.0.0.1:51999 | "[::1]:51999") ;; *) return 1 ;; esac; }
wait_for -t 10 _resolved
assert_eq "$(cat "$D/psk/p0003.psk")" "$(ip netns exec hub wg show wg0 preshared-keys |
	awk -v k="${pubs[3]}" '$1 == k { print $2 }')" "the PSK"
wait_for has_route hub 192.168.50.0/24
lacks_route hub 192.168.50.128/25 || fail "route of a rejected peer"
ip -n hub -o link show wg0 | grep -q ",UP.* mtu 1400 " || fail "wg0 not up with MTU 1400"
ip netns exec hub nft list table inet hubd >/dev/null || fail "no nftables table"
cold=$(ip netns exec hub wg showconf wg0)

log "the same files on an existing, empty link: the full reconcile"
hubd_stop
ip netns exec hub "$HUBD" --down --config-dir "$D" 2>/dev/null
ip -n hub link add wg0 type wireguard
hubd_start hub "$D" --debug
assert_eq 1 "$(grep -c "reconcile (all files) took" "$D/hubd.log")" "the second start took the full reconcile"
grep -E "reconcile \((cold start|all files)\) took|after exec" "$D/hubd.log" | sed 's/^/# /'
assert_eq "$cold" "$(ip netns exec hub wg showconf wg0)" "wg showconf after a cold start and after a full reconcile"
wait_for converged
hubd_stop
ip netns exec hub "$HUBD" --down --config-dir "$D" 2>/dev/null

log "a cold start with no peer files at all"
mkdir -p "$D-empty/peers.d"
cp "$D/hubd.conf" "$D-empty/"
sed -i "s|^PrivateKeyFile = .*|PrivateKeyFile = $D/private.key|" "$D-empty/hubd.conf"
cleanup rm -rf "$D-empty"
D=$D-empty
hubd_start hub "$D" --debug
assert_contains "$(cat "$D/hubd.log")" "reconcile (cold start) took" "the cold start was taken"
assert_eq 0 "$(wg_peers hub wg0)" "no peers"
assert_eq 51820 "$(ip netns exec hub wg show wg0 listen-port)" "the port is set"
assert_eq "$(wg pubkey <"/etc/hubd/t32/private.key")" "$(ip netns exec hub wg show wg0 public-key)" "the key is set"
wait_for converged
hubd_stop
ip netns exec hub "$HUBD" --down --config-dir "$D" 2>/dev/null
