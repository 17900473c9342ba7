#!/bin/sh
# hubctl peer add NAME --lan: a site gateway onboarded in both formats, each parsed back by
# hubctl check and by wg-quick strip; the wg-quick hooks run for real in a network namespace
# when nft is there. Needs wg and wg-quick (wireguard-tools).
set -eu
: "${HUBD_BUILDDIR:?run from make check}"
hubctl=$HUBD_BUILDDIR/src/hubctl/hubctl

for tool in wg wg-quick; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
# Key files must be owned by root: as a user, become root of a user namespace.
if [ "$(id -u)" != 0 ]; then
	if unshare -Ur true 2>/dev/null; then exec unshare -Ur sh "$0" "$@"; fi
	echo "SKIP: needs root or unprivileged user namespaces"; exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubctl-site.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
field() { sed -n "s/^$1 = //p" "$2"; }
umask 022

hub=$tmp/hub
"$hubctl" --config-dir "$hub" init --endpoint vpn.example.org:51820 >"$tmp/hub.pub" 2>/dev/null ||
	fail "init"
hc() { "$hubctl" --config-dir "$hub" "$@"; }
hc peer add phone --qr none >/dev/null 2>&1 || fail "peer add phone"

echo "# --lan, wg-quick format: the hub's file and the gateway's config"
hc peer add home --lan 192.168.1.7/24 --output "$tmp/home.conf" >"$tmp/out" 2>"$tmp/err" ||
	fail "peer add home --lan: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "--output but something on stdout"
[ "$(stat -c %a "$tmp/home.conf")" = 600 ] || fail "the gateway's config is not mode 0600"
[ "$(field AllowedIPs "$hub/peers.d/home.conf")" = "10.8.0.3/32, 192.168.1.0/24" ] ||
	fail "hub's AllowedIPs for the site: $(field AllowedIPs "$hub/peers.d/home.conf")"
[ "$(field PublicKey "$hub/peers.d/home.conf")" = "$(field PrivateKey "$tmp/home.conf" | wg pubkey)" ] ||
	fail "the hub's file does not hold the gateway's public key"
[ "$(field Address "$tmp/home.conf")" = 10.8.0.3/32 ] || fail "gateway Address"
[ "$(field PublicKey "$tmp/home.conf")" = "$(cat "$tmp/hub.pub")" ] || fail "hub key in the gateway config"
[ "$(field Endpoint "$tmp/home.conf")" = vpn.example.org:51820 ] || fail "gateway Endpoint"
[ "$(field PersistentKeepalive "$tmp/home.conf")" = 25 ] || fail "gateway keepalive"
[ "$(field AllowedIPs "$tmp/home.conf")" = 10.8.0.0/24 ] || fail "gateway AllowedIPs: $(field AllowedIPs "$tmp/home.conf")"
grep -q '^PostUp = nft add rule inet hubd-site-%i postrouting iifname %i oifname != %i ip daddr 192.168.1.0/24 masquerade$' \
	"$tmp/home.conf" || fail "no masquerade into the LAN in PostUp"
grep -q '^PostUp = echo 1 > /proc/sys/net/ipv4/ip_forward$' "$tmp/home.conf" || fail "PostUp does not turn forwarding on"
grep -q '^PostDown = nft delete table inet hubd-site-%i' "$tmp/home.conf" || fail "PostDown does not remove the table"
! grep -q '#' "$tmp/home.conf" || fail "a '#' in the config: wg-quick would cut the line there"
! grep -q forwarding6 "$tmp/home.conf" || fail "IPv6 forwarding for an IPv4 LAN"
"$hubctl" --config-dir "$hub" check >/dev/null 2>"$tmp/err" || fail "check refuses the hub after --lan: $(cat "$tmp/err")"

echo "# wg-quick strip and our own parser read it"
cp "$tmp/home.conf" "$tmp/wgh0.conf"
wg-quick strip "$tmp/wgh0.conf" >"$tmp/stripped" 2>"$tmp/err" || fail "wg-quick strip: $(cat "$tmp/err")"
! grep -q -e '^Address' -e '^PostUp' -e '^PostDown' "$tmp/stripped" || fail "wg-quick strip kept wg-quick keys"
grep -q '^PersistentKeepalive = 25' "$tmp/stripped" || fail "the stripped config lost the keepalive"
"$hubctl" --config-dir "$tmp/gwq" init --address 10.8.0.3/24 >/dev/null 2>&1 || fail "init for the parse-back"
sed -n '/^\[Peer\]/,$p' "$tmp/home.conf" >"$tmp/gwq/peers.d/hub.conf"
"$hubctl" --config-dir "$tmp/gwq" check >"$tmp/out" 2>"$tmp/err" || fail "our parser refuses the [Peer]: $(cat "$tmp/err")"
grep -q "1 peer accepted" "$tmp/out" || fail "the hub peer is not accepted: $(cat "$tmp/out")"

echo "# --format hubd: a config dir for hubd on the gateway"
hc peer add office --lan 192.168.2.0/24,fd00:2::/64 --format hubd --output "$tmp/office" >"$tmp/out" 2>"$tmp/err" ||
	fail "peer add office --format hubd: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "--format hubd printed something: $(cat "$tmp/out")"
[ "$(ls -A "$tmp/office" | tr '\n' ' ')" = "hubd.conf peers.d private.key " ] || fail "office's files: $(ls -A "$tmp/office")"
[ "$(ls -A "$tmp/office/peers.d")" = hub.conf ] || fail "office's peers.d"
[ "$(stat -c %a "$tmp/office/private.key")" = 600 ] || fail "office's private.key mode"
[ "$(wg pubkey <"$tmp/office/private.key")" = "$(field PublicKey "$hub/peers.d/office.conf")" ] ||
	fail "office's key is not the one the hub knows"
! grep -rqF "$(cat "$tmp/office/private.key")" "$hub" "$tmp/out" "$tmp/err" ||
	fail "office's private key is on the hub or was printed"
[ "$(field AllowedIPs "$hub/peers.d/office.conf")" = "10.8.0.4/32, 192.168.2.0/24, fd00:2::/64" ] ||
	fail "hub's AllowedIPs for office"
[ "$(field Address "$tmp/office/hubd.conf")" = 10.8.0.4/24 ] || fail "office's Address: the subnet's length"
[ "$(field Masquerade "$tmp/office/hubd.conf")" = "192.168.2.0/24, fd00:2::/64" ] || fail "office's Masquerade"
[ "$(field PublicKey "$tmp/office/peers.d/hub.conf")" = "$(cat "$tmp/hub.pub")" ] || fail "office's hub key"
[ "$(field Endpoint "$tmp/office/peers.d/hub.conf")" = vpn.example.org:51820 ] || fail "office's Endpoint"
[ "$(field PersistentKeepalive "$tmp/office/peers.d/hub.conf")" = 25 ] || fail "office's keepalive"
[ "$(field AllowedIPs "$tmp/office/peers.d/hub.conf")" = "10.8.0.0/24, 192.168.1.0/24" ] ||
	fail "office's AllowedIPs: the hub subnet and the other site's LAN"
"$hubctl" --config-dir "$tmp/office" check >"$tmp/out" 2>"$tmp/err" || fail "check refuses office's dir: $(cat "$tmp/err")"
grep -q "1 peer accepted, 0 rejected" "$tmp/out" || fail "office's hub peer: $(cat "$tmp/out")"
{ printf '[Interface]\nPrivateKey = %s\n\n' "$(cat "$tmp/office/private.key")"; cat "$tmp/office/peers.d/hub.conf"; } \
	>"$tmp/wgo0.conf"
chmod 600 "$tmp/wgo0.conf"
wg-quick strip "$tmp/wgo0.conf" >/dev/null 2>"$tmp/err" || fail "wg-quick strip refuses office's peer file: $(cat "$tmp/err")"

echo "# every LAN is in a phone's split tunnel"
hc peer add tablet --qr none >"$tmp/tablet.conf" 2>/dev/null || fail "peer add tablet"
[ "$(field AllowedIPs "$tmp/tablet.conf")" = "10.8.0.0/24, 192.168.1.0/24, 192.168.2.0/24, fd00:2::/64" ] ||
	fail "the phone's split tunnel: $(field AllowedIPs "$tmp/tablet.conf")"

echo "# refusals: overlaps, bad combinations, an existing directory; nothing written"
sum=$(ls -A "$hub/peers.d" | cksum)
refused() {
	! hc peer add "$@" >"$tmp/out" 2>"$tmp/err" || fail "peer add $* was accepted"
	[ "$(ls -A "$hub/peers.d" | cksum)" = "$sum" ] || fail "peer add $* left a file in peers.d"
}
refused lab --lan 192.168.0.0/16
grep -q "AllowedIPs 192.168.0.0/16 overlaps 192.168.1.0/24 of peer home" "$tmp/err" ||
	fail "the overlap message does not name the other site: $(cat "$tmp/err")"
refused lab --lan 192.168.1.128/25 --format hubd --output "$tmp/lab"
grep -q "of peer home" "$tmp/err" || fail "overlap (hubd format): $(cat "$tmp/err")"
[ ! -e "$tmp/lab" ] || fail "a refused site left its directory"
refused lab --lan 8.8.8.0/24
grep -q "lies outside PeerRoutes" "$tmp/err" || fail "public LAN message: $(cat "$tmp/err")"
refused lab --lan 10.8.0.0/16
grep -q "overlaps the tunnel subnet 10.8.0.0/24" "$tmp/err" || fail "tunnel overlap message: $(cat "$tmp/err")"
refused lab --lan 192.168.9.0/33
grep -q -- "--lan: 192.168.9.0/33 is not an IP prefix" "$tmp/err" || fail "bad prefix message: $(cat "$tmp/err")"
refused lab --lan 192.168.9.0/24 --format hubd
grep -q "give it as --output DIR" "$tmp/err" || fail "hubd without --output: $(cat "$tmp/err")"
refused lab --format hubd --output "$tmp/lab"
grep -q "give its --lan" "$tmp/err" || fail "--format without --lan: $(cat "$tmp/err")"
refused lab --lan 192.168.9.0/24 --format json
grep -q "wg-quick or hubd" "$tmp/err" || fail "bad --format: $(cat "$tmp/err")"
mkdir -p "$tmp/taken/peers.d"
echo keep >"$tmp/taken/hubd.conf"
refused lab --lan 192.168.9.0/24 --format hubd --output "$tmp/taken"
grep -q "$tmp/taken/hubd.conf exists" "$tmp/err" || fail "existing --output DIR: $(cat "$tmp/err")"
[ -z "$(ls -A "$tmp/taken/peers.d")" ] || fail "something was written into an existing peers.d"
[ "$(cat "$tmp/taken/hubd.conf")" = keep ] || fail "an existing hubd.conf was changed"
refused home --lan 192.168.9.0/24
grep -q "exists" "$tmp/err" || fail "an existing name: $(cat "$tmp/err")"

echo "# a gateway directory its own hubd would refuse is not written"
# This hub lets a site route public space; the gateway's hubd, with default PeerRoutes, would not.
"$hubctl" --config-dir "$tmp/pub" init --endpoint vpn.example.org:51820 >/dev/null 2>&1 || fail "init pub"
echo "PeerRoutes = 10.8.0.0/24, 198.51.100.0/24, 192.168.0.0/16" >>"$tmp/pub/hubd.conf"
"$hubctl" --config-dir "$tmp/pub" peer add dc --lan 198.51.100.0/24 >/dev/null 2>&1 || fail "peer add dc"
! "$hubctl" --config-dir "$tmp/pub" peer add home --lan 192.168.1.0/24 --format hubd --output "$tmp/pubgw" \
	>/dev/null 2>"$tmp/err" || fail "a gateway dir that its hubd refuses was written"
grep -q "hubd on the gateway would refuse" "$tmp/err" || fail "no reason given: $(cat "$tmp/err")"
grep -q "peers.d/hub.conf:.*198.51.100.0/24 lies outside PeerRoutes" "$tmp/err" || fail "the gateway's reason: $(cat "$tmp/err")"
[ ! -e "$tmp/pubgw" ] && [ ! -e "$tmp/pub/peers.d/home.conf" ] || fail "files left after the refusal"

echo "# the wg-quick hooks run: forwarding and masquerade on up, both undone on down"
# unshare -m makes / private first, which fails in a chroot whose / is no mount point (such as
# fresh-debian's): the hooks then run in 55-onboard alone, under real wg-quick.
if command -v nft >/dev/null && command -v bash >/dev/null && unshare -n -m true 2>/dev/null; then
	cat >"$tmp/hooks.sh" <<'EOS'
set -eu
conf=$1
# No link is needed: the rules match interface names (iifname), as wg-quick's own would.
echo 0 >/proc/sys/net/ipv4/ip_forward
# As wg-quick runs them: %i replaced, each hook eval'ed by bash.
run() { sed -n "s/^$1 = //p" "$conf" | sed 's/%i/wgh0/g' | while IFS= read -r hook; do bash -ec "$hook"; done; }
mount -t tmpfs tmpfs /run # the saved forwarding value goes there: a private one
run PostUp
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || { echo "forwarding is not on after up"; exit 1; }
nft list table inet hubd-site-wgh0 | grep -q 'iifname "wgh0" oifname != "wgh0" ip daddr 192.168.1.0/24 masquerade' ||
	{ echo "no masquerade rule after up"; nft list ruleset; exit 1; }
run PostUp # a second up after an unclean stop does not double the rule
[ "$(nft list table inet hubd-site-wgh0 | grep -c masquerade)" = 1 ] || { echo "a second up doubled the rule"; exit 1; }
run PostDown
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || { echo "forwarding not put back on down"; exit 1; }
! nft list table inet hubd-site-wgh0 >/dev/null 2>&1 || { echo "the table survived down"; exit 1; }
run PostDown # a second down is harmless
EOS
	unshare -n -m sh "$tmp/hooks.sh" "$tmp/home.conf" 2>"$tmp/err" || fail "hooks: $(cat "$tmp/err")"
else
	echo "(no nft, bash or network and mount namespaces here: the hooks run in 55-onboard only)"
fi
echo "PASS"
