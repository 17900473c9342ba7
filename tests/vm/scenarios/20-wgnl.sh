#!/bin/bash
# libwgnl against the real kernel, with wg(8) as the reference: random configs
# set with our library must read back identically through `wg showconf`, and
# configs set with `wg setconf` must dump identically through our get.
source "$HUBD_SRCDIR/tests/vm/lib.sh"

need_wireguard
TOOL=$HUBD_BUILDDIR/tests/tools/wgnl-tool
need_built "$TOOL"

tmp=$(mktemp -d)
cleanup rm -rf "$tmp"
netns_new wgnl
ip -n wgnl link add wgnl0 type wireguard
ip -n wgnl link add wgnl1 type wireguard
tool() { ns_exec wgnl "$TOOL" "$@"; }
wgn() { ns_exec wgnl wg "$@"; }
# A fresh link: a config without FwMark or ListenPort leaves the old value.
fresh() {
	ip -n wgnl link del "$1"
	ip -n wgnl link add "$1" type wireguard
}

log "list finds exactly our two links"
assert_eq "wgnl0 wgnl1" "$(tool list | sort | tr '\n' ' ' | sed 's/ $//')"

# ours_then_wg NPEERS NAIPS SEED: set with our library, read with wg.
ours_then_wg() {
	fresh wgnl0
	tool gen "$1" "$2" "$3" >"$tmp/want.conf"
	tool set wgnl0 "$tmp/want.conf"
	wgn showconf wgnl0 >"$tmp/got.conf"
	cmp -s "$tmp/want.conf" "$tmp/got.conf" ||
		fail "$1 peers x $2 IPs: wg showconf differs: $(diff "$tmp/want.conf" "$tmp/got.conf" | head -5)"
}

# wg_then_ours NPEERS NAIPS SEED: set with wg setconf, read with our library.
wg_then_ours() {
	fresh wgnl1
	tool gen "$1" "$2" "$3" >"$tmp/in.conf"
	wgn setconf wgnl1 "$tmp/in.conf"
	wgn show wgnl1 dump >"$tmp/want.dump"
	tool dump wgnl1 >"$tmp/got.dump"
	assert_eq "$(($1 + 1))" "$(wc -l <"$tmp/got.dump")" "dump lines"
	cmp -s "$tmp/want.dump" "$tmp/got.dump" ||
		fail "$1 peers x $2 IPs: our dump differs: $(diff "$tmp/want.dump" "$tmp/got.dump" | head -5)"
}

for spec in "1 3 11" "300 4 12" "5000 2 13"; do
	log "random config: $spec (peers, IPs each, seed) both ways"
	ours_then_wg $spec
	wg_then_ours $spec
done

log "one peer with 100000 allowed IPs, both ways"
ours_then_wg 1 100000 21
wg_then_ours 1 100000 22

log "setting the same config again changes nothing (replace semantics)"
fresh wgnl0
tool gen 300 4 12 >"$tmp/want.conf"
tool set wgnl0 "$tmp/want.conf"
tool set wgnl0 "$tmp/want.conf"
wgn showconf wgnl0 >"$tmp/got.conf"
cmp -s "$tmp/want.conf" "$tmp/got.conf" || fail "second set of the same config differs"

log "removal of 4000 of 5000 peers in one set"
tool gen 5000 2 13 >"$tmp/big.conf"
tool set wgnl0 "$tmp/big.conf"
awk '/^PublicKey/ { n++; if (n <= 4000) printf "[Peer]\nPublicKey = %s\nRemove = true\n", $3 }' \
	"$tmp/big.conf" >"$tmp/remove.conf"
tool addconf wgnl0 "$tmp/remove.conf"
awk '/^PublicKey/ { n++; if (n > 4000) print $3 }' "$tmp/big.conf" >"$tmp/want.peers"
wgn show wgnl0 peers >"$tmp/got.peers"
cmp -s "$tmp/want.peers" "$tmp/got.peers" || fail "peers left after removal differ"

log "UPDATE_ONLY updates an existing peer and never adds one"
first=$(head -n 1 "$tmp/want.peers")
absent=$(wg genkey | wg pubkey)
cat >"$tmp/update.conf" <<CONF
[Peer]
PublicKey = $first
UpdateOnly = true
Endpoint = 192.0.2.77:4242
[Peer]
PublicKey = $absent
UpdateOnly = true
AllowedIPs = 192.0.2.200/32
CONF
tool addconf wgnl0 "$tmp/update.conf"
assert_eq "192.0.2.77:4242" "$(wgn show wgnl0 endpoints | awk -v k="$first" '$1 == k { print $2 }')" "updated endpoint"
assert_eq "" "$(wgn show wgnl0 peers | grep -F -- "$absent" || true)" "update-only peer"
assert_eq 1000 "$(wgn show wgnl0 peers | wc -l)" "peer count"

log "a preshared key is set, then cleared"
psk=$(wg genpsk)
printf '[Peer]\nPublicKey = %s\nPresharedKey = %s\n' "$first" "$psk" >"$tmp/psk.conf"
tool addconf wgnl0 "$tmp/psk.conf"
assert_eq "$psk" "$(wgn show wgnl0 preshared-keys | awk -v k="$first" '$1 == k { print $2 }')" "psk set"
printf '[Peer]\nPublicKey = %s\nPresharedKey = clear\n' "$first" >"$tmp/psk.conf"
tool addconf wgnl0 "$tmp/psk.conf"
assert_eq "(none)" "$(wgn show wgnl0 preshared-keys | awk -v k="$first" '$1 == k { print $2 }')" "psk cleared"

log "an added peer's 100000 allowed IPs, split over messages, all arrive"
tool gen 1 100000 31 | sed -n '/^\[Peer\]/,$p' >"$tmp/one.conf"
WGNL_TOOL_STATS=1 tool addconf wgnl0 "$tmp/one.conf" 2>"$tmp/stats"
msgs=$(awk '{ print $2 }' "$tmp/stats")
[ "$msgs" -gt 1 ] || fail "100000 allowed IPs went in $msgs message(s)"
key=$(awk '/^PublicKey/ { print $3 }' "$tmp/one.conf")
assert_eq 100000 "$(wgn show wgnl0 allowed-ips | awk -v k="$key" '$1 == k { print NF - 1 }')" "allowed IPs"
assert_eq 1001 "$(wgn show wgnl0 peers | wc -l)" "peer count"

log "errors come back as errors"
if tool dump nosuchdev 2>/dev/null; then fail "dump of a missing link succeeded"; fi
ip -n wgnl link add dummy0 type dummy
if tool dump dummy0 2>/dev/null; then fail "dump of a non-wireguard link succeeded"; fi
