#!/bin/sh
# hubctl peer add/remove/list on a temporary config dir, and the daemon verbs
# without a daemon. Needs wg (wireguard-tools) and zbarimg (zbar-tools).
set -eu
: "${HUBD_BUILDDIR:?run from make check}"
hubctl=$HUBD_BUILDDIR/src/hubctl/hubctl

for tool in wg wg-quick zbarimg; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
# Key files must be owned by root: as a user, become root of a user namespace.
if [ "$(id -u)" != 0 ]; then
	if unshare -Ur true 2>/dev/null; then exec unshare -Ur sh "$0" "$@"; fi
	echo "SKIP: needs root or unprivileged user namespaces"; exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubctl-peer.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
umask 022

conf=$tmp/etc
mkdir -p "$conf/peers.d" "$tmp/out"
(umask 077 && wg genkey >"$conf/private.key")
cat >"$conf/hubd.conf" <<EOC
[Interface]
Address = 10.8.0.1/24
ListenPort = 51820
PublicEndpoint = vpn.example.org:51820
EOC
gw_pub=$(wg genkey | wg pubkey)
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.3/32, 192.168.1.0/24\nPersistentKeepalive = 25\n' \
	"$gw_pub" >"$conf/peers.d/gw.conf"
hub_pub=$(wg pubkey <"$conf/private.key")
key_sum=$(cksum <"$conf/private.key")
hc() { "$hubctl" --config-dir "$conf" "$@"; }
field() { sed -n "s/^$1 = //p" "$2"; }
# qr_is IMAGE TEXTFILE: IMAGE holds one QR code whose bytes are TEXTFILE's. zbarimg looks for
# every symbology by default, and a random QR code now and then also holds a stretch that
# reads as a 1D barcode, printed as one more line: only QR codes are looked for, and the
# bytes are taken as they are (no character set guessing).
qr_is() {
	decoded=$(zbarimg --raw -q -Sdisable -Sqrcode.enable -Sbinary "$1" 2>"$tmp/zbar.err") || true
	[ "$decoded" = "$(cat "$2")" ] && return 0
	echo "decoded from $1:" >&2
	printf '%s\n' "$decoded" >&2
	echo "expected:" >&2
	cat "$2" >&2
	cat "$tmp/zbar.err" >&2
	return 1
}

echo "# peer add: the peer file, the client config, the QR code"
hc peer add phone --dns 10.8.0.1 --qr png "$tmp/out/phone.png" >"$tmp/out/phone.conf" 2>"$tmp/err" ||
	fail "peer add phone: $(cat "$tmp/err")"
[ "$(stat -c %a "$conf/peers.d/phone.conf")" = 644 ] || fail "peers.d/phone.conf is not mode 0644"
[ "$(ls -A "$conf/peers.d" | tr '\n' ' ')" = "gw.conf phone.conf " ] || fail "leftover files in peers.d"
[ "$(field AllowedIPs "$conf/peers.d/phone.conf")" = 10.8.0.2/32 ] || fail "phone's AllowedIPs on the hub"
[ "$(field PublicKey "$conf/peers.d/phone.conf")" = "$(field PrivateKey "$tmp/out/phone.conf" | wg pubkey)" ] ||
	fail "peer file's PublicKey does not match the client's PrivateKey"
priv=$(field PrivateKey "$tmp/out/phone.conf")
[ ${#priv} = 44 ] || fail "no PrivateKey in the client config"
! grep -rqF "$priv" "$conf" || fail "the client's private key is stored in the config dir"
! grep -rqi privatekey "$conf/peers.d" || fail "a PrivateKey line in peers.d"
[ "$(field PublicKey "$tmp/out/phone.conf")" = "$hub_pub" ] || fail "hub PublicKey in the client config"
[ "$(field Address "$tmp/out/phone.conf")" = 10.8.0.2/32 ] || fail "client Address"
[ "$(field DNS "$tmp/out/phone.conf")" = 10.8.0.1 ] || fail "client DNS"
[ "$(field Endpoint "$tmp/out/phone.conf")" = vpn.example.org:51820 ] || fail "Endpoint from PublicEndpoint"
[ "$(field AllowedIPs "$tmp/out/phone.conf")" = "10.8.0.0/24, 192.168.1.0/24" ] || fail "split tunnel AllowedIPs"
[ "$(field PersistentKeepalive "$tmp/out/phone.conf")" = 25 ] || fail "client keepalive"
[ "$(stat -c %a "$tmp/out/phone.png")" = 600 ] || fail "the QR PNG is not mode 0600"
qr_is "$tmp/out/phone.png" "$tmp/out/phone.conf" ||
	fail "the QR code does not decode to the printed config"
[ "$(cksum <"$conf/private.key")" = "$key_sum" ] || fail "the hub's private key changed"

echo "# the terminal QR code decodes to the config too"
# Half blocks back to pixels: each character is a module column of two rows, 4 pixels a module.
ansi_to_pbm() {
	esc=$(printf '\033')
	grep "$esc\[97;40m" "$1" | sed "s/$esc\[[0-9;]*m//g; s/█/A/g; s/▀/B/g; s/▄/C/g; s/ /D/g" | awk -v s=4 '
	function px(str,   out, i, j) {
		out = ""
		for (i = 1; i <= length(str); i++) for (j = 0; j < s; j++) out = out substr(str, i, 1) " "
		return out
	}
	{ t = $0; b = $0; gsub(/[AB]/, "0", t); gsub(/[CD]/, "1", t); gsub(/[AC]/, "0", b); gsub(/[BD]/, "1", b)
	  rows[n++] = t; rows[n++] = b; w = length($0) }
	END { print "P1"; print w * s, n * s; for (r = 0; r < n; r++) for (k = 0; k < s; k++) print px(rows[r]) }'
}
hc peer add tty --qr ansi >"$tmp/out/tty.out" 2>/dev/null || fail "peer add --qr ansi"
sed -n '/^\[Interface\]/,/^PersistentKeepalive/p' "$tmp/out/tty.out" >"$tmp/out/tty.conf"
ansi_to_pbm "$tmp/out/tty.out" >"$tmp/out/tty.pbm"
qr_is "$tmp/out/tty.pbm" "$tmp/out/tty.conf" ||
	fail "the terminal QR code does not decode to the printed config"
hc peer remove tty 2>/dev/null || fail "peer remove tty"

echo "# the client config is what wg-quick and wg accept"
install -m 600 "$tmp/out/phone.conf" "$tmp/out/wgc0.conf"
wg-quick strip "$tmp/out/wgc0.conf" >"$tmp/out/stripped" 2>/dev/null || fail "wg-quick strip refuses the config"
! grep -q -e '^Address' -e '^DNS' "$tmp/out/stripped" || fail "wg-quick strip kept wg-quick keys"
if unshare -n sh -c 'ip link add wgc0 type wireguard' 2>/dev/null; then
	unshare -n sh -c "ip link add wgc0 type wireguard && wg setconf wgc0 '$tmp/out/stripped'" ||
		fail "wg setconf refuses the stripped config"
fi

echo "# refusals: an existing name or address, a bad name, no endpoint"
sum=$(cat "$conf"/peers.d/* | cksum)
! hc peer add phone >/dev/null 2>"$tmp/err" || fail "a second 'phone' was accepted"
grep -q "exists" "$tmp/err" || fail "no 'exists' message: $(cat "$tmp/err")"
! hc peer add tab --address 10.8.0.3 >/dev/null 2>"$tmp/err" || fail "gw's address was accepted"
grep -q "used by peer 'gw'" "$tmp/err" || fail "no owner in the message: $(cat "$tmp/err")"
! hc peer add tab --address 10.8.0.2 >/dev/null 2>&1 || fail "phone's address was accepted"
! hc peer add tab --address 10.8.0.1 >/dev/null 2>&1 || fail "the hub's address was accepted"
! hc peer add tab --address 10.9.0.5 >/dev/null 2>&1 || fail "an address outside the subnet was accepted"
! hc peer add ../tab >/dev/null 2>&1 || fail "a name with a slash was accepted"
! hc peer add .tab >/dev/null 2>&1 || fail "a dotfile name was accepted"
! hc peer add tab --allowed-ips 10.0.0.0/33 >/dev/null 2>&1 || fail "a bad --allowed-ips was accepted"
# Prefixes as hubd reads them in peer files: no leading zeros in the length.
! hc peer add tab --address 10.8.0.5/024 >/dev/null 2>"$tmp/err" || fail "--address 10.8.0.5/024 was accepted"
grep -q -- "--address 10.8.0.5/024 is not an IP address" "$tmp/err" || fail "--address /024: $(cat "$tmp/err")"
grep -q "without leading zeros" "$tmp/err" || fail "--address /024: no hint: $(cat "$tmp/err")"
! hc peer add tab --address 10.8.0.5/032 >/dev/null 2>"$tmp/err" || fail "--address 10.8.0.5/032 was accepted"
grep -q -- "--address 10.8.0.5/032 is not an IP address" "$tmp/err" || fail "--address /032: $(cat "$tmp/err")"
! hc peer add tab --address 10.8.0.0/24 >/dev/null 2>"$tmp/err" || fail "--address took a subnet"
grep -q -- "--address 10.8.0.0/24 is a prefix, not one address" "$tmp/err" || fail "--address /24: $(cat "$tmp/err")"
! hc peer add tab --allowed-ips 10.8.0.0/24,10.0.0.0/024 >/dev/null 2>"$tmp/err" || fail "--allowed-ips /024 was accepted"
grep -q -- "--allowed-ips: 10.0.0.0/024 is not an IP prefix" "$tmp/err" || fail "--allowed-ips /024: $(cat "$tmp/err")"
grep -q "without leading zeros" "$tmp/err" || fail "--allowed-ips /024: no hint: $(cat "$tmp/err")"
! hc peer add tab --endpoint vpn.example.org >/dev/null 2>&1 || fail "an endpoint without a port was accepted"
! hc --json peer add tab >/dev/null 2>&1 || fail "peer add --json printed something"
[ "$(cat "$conf"/peers.d/* | cksum)" = "$sum" ] || fail "a refused add changed peers.d"
[ "$(ls -A "$conf/peers.d" | wc -l)" = 2 ] || fail "a refused add left a file"

echo "# full tunnel, --endpoint, --output"
hc peer add laptop --endpoint '[2001:db8::1]:51820' --allowed-ips 0.0.0.0/0,::/0 \
	--output "$tmp/out/laptop.conf" >"$tmp/out/stdout" 2>/dev/null || fail "peer add laptop"
[ ! -s "$tmp/out/stdout" ] || fail "--output still printed the config"
[ "$(stat -c %a "$tmp/out/laptop.conf")" = 600 ] || fail "--output file is not mode 0600"
[ "$(field AllowedIPs "$tmp/out/laptop.conf")" = "0.0.0.0/0, ::/0" ] || fail "full tunnel AllowedIPs"
[ "$(field Endpoint "$tmp/out/laptop.conf")" = "[2001:db8::1]:51820" ] || fail "--endpoint"
[ "$(field Address "$tmp/out/laptop.conf")" = 10.8.0.4/32 ] || fail "gw's 10.8.0.3 not skipped"
[ -z "$(field DNS "$tmp/out/laptop.conf")" ] || fail "a DNS line without --dns"
hc peer add tab --address 10.8.0.200 >"$tmp/out/tab.conf" 2>/dev/null || fail "peer add --address"
[ "$(field AllowedIPs "$conf/peers.d/tab.conf")" = 10.8.0.200/32 ] || fail "--address not used"

echo "# --output and --qr png create new files only: an existing one is refused and left as it is"
# Whoever made the file could keep it open (or have made it readable) and read the key.
printf 'planted\n' >"$tmp/out/held.conf"
chmod 0644 "$tmp/out/held.conf"
exec 3<"$tmp/out/held.conf"
! hc peer add held --output "$tmp/out/held.conf" >"$tmp/out/stdout" 2>"$tmp/err" ||
	fail "peer add wrote into an existing --output file"
grep -qF "$tmp/out/held.conf exists; not overwriting" "$tmp/err" || fail "--output exists: $(cat "$tmp/err")"
[ "$(cat "$tmp/out/held.conf")" = planted ] || fail "the existing --output file was changed"
[ "$(cat <&3)" = planted ] || fail "the open descriptor reads more than what was planted"
exec 3<&-
! grep -q PrivateKey "$tmp/out/held.conf" "$tmp/out/stdout" || fail "the key went out after all"
[ "$(stat -c %a "$tmp/out/held.conf")" = 644 ] || fail "the existing --output file's mode was changed"
[ ! -e "$conf/peers.d/held.conf" ] || fail "a refused --output left a peer file"
printf 'planted\n' >"$tmp/out/held.png"
! hc peer add held --qr png "$tmp/out/held.png" >"$tmp/out/stdout" 2>"$tmp/err" ||
	fail "peer add wrote into an existing --qr png file"
grep -qF "$tmp/out/held.png exists; not overwriting" "$tmp/err" || fail "--qr png exists: $(cat "$tmp/err")"
[ "$(cat "$tmp/out/held.png")" = planted ] || fail "the existing PNG was changed"
! grep -q PrivateKey "$tmp/out/stdout" || fail "a refused --qr png still printed the key"
[ ! -e "$conf/peers.d/held.conf" ] || fail "a refused --qr png left a peer file"
ln -s "$tmp/out/nowhere.conf" "$tmp/out/link.conf"
! hc peer add held --output "$tmp/out/link.conf" >/dev/null 2>"$tmp/err" || fail "--output followed a symlink"
grep -q "exists; not overwriting" "$tmp/err" || fail "--output symlink: $(cat "$tmp/err")"
[ ! -e "$tmp/out/nowhere.conf" ] || fail "--output created the symlink's target"
echo "# fresh --output and --qr png files: created 0600 whatever the umask"
(umask 000 && hc peer add fresh --output "$tmp/out/fresh.conf" --qr png "$tmp/out/fresh.png" 2>"$tmp/err") ||
	fail "peer add to fresh files: $(cat "$tmp/err")"
[ "$(stat -c %a "$tmp/out/fresh.conf")" = 600 ] || fail "a fresh --output file is not mode 0600"
[ "$(stat -c %a "$tmp/out/fresh.png")" = 600 ] || fail "a fresh --qr png file is not mode 0600"
grep -q '^PrivateKey = ' "$tmp/out/fresh.conf" || fail "the fresh --output file holds no key"
qr_is "$tmp/out/fresh.png" "$tmp/out/fresh.conf" || fail "the fresh PNG does not decode to the config"
! hc peer add fresh2 --output "$tmp/out/fresh.conf" >/dev/null 2>&1 || fail "a second add overwrote --output"
[ ! -e "$conf/peers.d/fresh2.conf" ] || fail "a refused --output left a peer file"
hc peer remove fresh 2>/dev/null || fail "peer remove fresh"

echo "# no endpoint anywhere"
sed -i '/PublicEndpoint/d' "$conf/hubd.conf"
! hc peer add tv >/dev/null 2>"$tmp/err" || fail "a config without Endpoint was printed"
grep -q -- "--endpoint" "$tmp/err" || fail "the message does not name --endpoint: $(cat "$tmp/err")"
[ ! -e "$conf/peers.d/tv.conf" ] || fail "a peer file without a usable client config"

echo "# peer list, peer remove"
hc peer list >"$tmp/out/list"
grep -Eq '^phone +10\.8\.0\.2/32$' "$tmp/out/list" || fail "peer list: $(cat "$tmp/out/list")"
grep -Eq '^gw +10\.8\.0\.3/32, 192\.168\.1\.0/24$' "$tmp/out/list" || fail "peer list shows gw's LAN"
[ "$(grep -c . "$tmp/out/list")" = 5 ] || fail "peer list: a header and 4 peers"
hc peer list --json | grep -q '"name": "laptop"' || fail "peer list --json after the verb"
hc peer remove laptop 2>/dev/null || fail "peer remove laptop"
[ ! -e "$conf/peers.d/laptop.conf" ] || fail "peer remove left the file"
! hc peer remove laptop 2>/dev/null || fail "removing an unknown peer succeeded"
! hc peer remove ../hubd 2>/dev/null || fail "remove accepted a path"
[ -e "$conf/hubd.conf" ] || fail "remove touched hubd.conf"

echo "# a full subnet"
sed -i 's#^Address = .*#Address = 10.9.0.1/30#' "$conf/hubd.conf"
rm -f "$conf"/peers.d/*
hc peer add a --endpoint h:1 >/dev/null 2>&1 || fail "first peer in a /30"
[ "$(field AllowedIPs "$conf/peers.d/a.conf")" = 10.9.0.2/32 ] || fail "/30: 10.9.0.2"
! hc peer add b --endpoint h:1 >/dev/null 2>"$tmp/err" || fail "a full /30 gave out its broadcast"
grep -q "no free address left in 10.9.0.0/30" "$tmp/err" || fail "full subnet message: $(cat "$tmp/err")"

echo "# IPv6"
printf '[Interface]\nAddress = fd00:8::1/64\n' >"$conf/hubd.conf"
hc peer add v6 --endpoint h:1 >"$tmp/out/v6.conf" 2>/dev/null || fail "peer add on an IPv6 hub"
[ "$(field Address "$tmp/out/v6.conf")" = fd00:8::2/128 ] || fail "IPv6 address"
[ "$(field AllowedIPs "$tmp/out/v6.conf")" = "fd00:8::/64, 10.9.0.2/32" ] || fail "IPv6 AllowedIPs"

echo "# the daemon verbs without a daemon"
for verb in status metrics reload diff "status --json"; do
	# shellcheck disable=SC2086
	rc=0; hc --socket "$tmp/none.sock" $verb >/dev/null 2>"$tmp/err" || rc=$?
	[ $rc = 3 ] || fail "$verb without a daemon: exit $rc, not 3"
	grep -q "hubd is not running (start it with: systemctl start hubd)" "$tmp/err" || fail "$verb: message"
done

echo "# usage"
rc=0; "$hubctl" frobnicate >/dev/null 2>"$tmp/err" || rc=$?
[ $rc = 1 ] || fail "an unknown verb: exit $rc"
grep -q "^usage: hubctl" "$tmp/err" || fail "an unknown verb prints no usage on stderr"
rc=0; "$hubctl" >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "no verb: exit $rc"
"$hubctl" --version | grep -q '^hubctl [0-9]' || fail "--version"
"$hubctl" status --help | grep -q "^usage: hubctl status" || fail "--help after a verb"
echo "ok"
