#!/bin/sh
# hubctl init: a hub's (or a gateway's) config dir from nothing; its files, modes and refusals.
# Needs wg (wireguard-tools).
set -eu
: "${HUBD_BUILDDIR:?run from make check}"
hubctl=$HUBD_BUILDDIR/src/hubctl/hubctl

command -v wg >/dev/null || { echo "SKIP: wg is not installed"; exit 77; }
# Key files must be owned by root for hubctl check: as a user, become root of a user namespace.
if [ "$(id -u)" != 0 ]; then
	if unshare -Ur true 2>/dev/null; then exec unshare -Ur sh "$0" "$@"; fi
	echo "SKIP: needs root or unprivileged user namespaces"; exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubctl-init.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
field() { sed -n "s/^$1 = //p" "$2"; }
mode() { stat -c %a "$1"; }
# The 32 key bytes as decimal numbers, one a line.
key_bytes() { base64 -d <"$1" | od -An -v -tu1 | tr -s ' ' '\n' | sed '/^$/d'; }

echo "# init: the files, their modes, the key printed"
conf=$tmp/a/etc/hubd # its parents do not exist yet
(umask 000 && "$hubctl" --config-dir "$conf" init --endpoint vpn.example.org:51820 \
	>"$tmp/pub" 2>"$tmp/err") || fail "init: $(cat "$tmp/err")"
[ "$(ls -A "$conf" | tr '\n' ' ')" = "hubd.conf peers.d private.key " ] || fail "files: $(ls -A "$conf")"
[ "$(mode "$conf/private.key")" = 600 ] || fail "private.key is mode $(mode "$conf/private.key") under umask 000"
[ "$(mode "$conf/hubd.conf")" = 644 ] || fail "hubd.conf mode"
[ "$(mode "$conf/peers.d")" = 755 ] || fail "peers.d mode"
[ -z "$(ls -A "$conf/peers.d")" ] || fail "peers.d is not empty"
[ "$(wc -l <"$conf/private.key")" = 1 ] || fail "private.key is not one line"
[ "$(cat "$tmp/pub")" = "$(wg pubkey <"$conf/private.key")" ] || fail "the printed key is not private.key's public key"
[ "$(key_bytes "$conf/private.key" | wc -l)" = 32 ] || fail "private.key does not hold 32 bytes"
first=$(key_bytes "$conf/private.key" | head -1)
last=$(key_bytes "$conf/private.key" | tail -1)
[ $((first & 7)) = 0 ] && [ $((last & 128)) = 0 ] && [ $((last & 64)) = 64 ] ||
	fail "private.key is not clamped as Curve25519 keys are ($first ... $last)"
grep -q "wrote $conf/hubd.conf" "$tmp/err" || fail "init does not say what it wrote"
[ "$(field Address "$conf/hubd.conf")" = 10.8.0.1/24 ] || fail "default Address"
[ "$(field ListenPort "$conf/hubd.conf")" = 51820 ] || fail "default ListenPort"
[ "$(field PublicEndpoint "$conf/hubd.conf")" = vpn.example.org:51820 ] || fail "PublicEndpoint"
! grep -qi '^PrivateKey' "$conf/hubd.conf" || fail "hubd.conf names a key"
! grep -qF "$(cat "$conf/private.key")" "$tmp/pub" "$tmp/err" || fail "the private key was printed"
"$hubctl" --config-dir "$conf" check >/dev/null 2>"$tmp/err" || fail "check refuses init's config: $(cat "$tmp/err")"

echo "# two keys are never the same"
"$hubctl" init --config-dir "$tmp/b" >/dev/null 2>"$tmp/err" || fail "init with --config-dir after the verb"
[ "$(cat "$tmp/b/private.key")" != "$(cat "$conf/private.key")" ] || fail "two inits made the same key"
grep -q "no --endpoint" "$tmp/err" || fail "no hint about --endpoint when it is missing"
! grep -q PublicEndpoint "$tmp/b/hubd.conf" || fail "PublicEndpoint without --endpoint"

echo "# never overwrites: everything that exists is named, nothing changes"
sum=$(cat "$conf/hubd.conf" "$conf/private.key" | cksum)
touch "$conf/peers.d/x.conf"
! "$hubctl" --config-dir "$conf" init >"$tmp/out" 2>"$tmp/err" || fail "a second init succeeded"
"$hubctl" --config-dir "$conf" init >/dev/null 2>&1 || [ $? = 1 ] || fail "a second init's exit status is not 1"
for f in hubd.conf private.key peers.d; do
	grep -q "$conf/$f exists" "$tmp/err" || fail "the refusal does not name $f: $(cat "$tmp/err")"
done
[ ! -s "$tmp/out" ] || fail "a refused init printed a key"
[ "$(cat "$conf/hubd.conf" "$conf/private.key" | cksum)" = "$sum" ] || fail "a refused init changed a file"
[ -e "$conf/peers.d/x.conf" ] || fail "a refused init touched peers.d"

for f in hubd.conf private.key peers.d; do
	d=$tmp/one-$f
	mkdir "$d"
	if [ $f = peers.d ]; then mkdir "$d/$f" && touch "$d/$f/.x"; else echo keep >"$d/$f"; fi
	! "$hubctl" --config-dir "$d" init >/dev/null 2>"$tmp/err" || fail "init over an existing $f"
	grep -q "$d/$f exists" "$tmp/err" || fail "the refusal does not name $f"
	[ "$(ls -A "$d")" = "$f" ] || fail "init made files next to an existing $f: $(ls -A "$d")"
done
# The Debian package installs an empty /etc/hubd/peers.d: init fills the directory around it.
mkdir -p "$tmp/pkg/peers.d"
"$hubctl" --config-dir "$tmp/pkg" init >/dev/null 2>"$tmp/err" || fail "init beside an empty peers.d: $(cat "$tmp/err")"
[ "$(ls -A "$tmp/pkg" | tr '\n' ' ')" = "hubd.conf peers.d private.key " ] || fail "files beside an empty peers.d"
"$hubctl" --config-dir "$tmp/pkg" check >/dev/null 2>&1 || fail "check after init beside an empty peers.d"
# A symlink as private.key, even a dangling one, is refused and its target never written.
mkdir "$tmp/link"
ln -s "$tmp/stolen" "$tmp/link/private.key"
! "$hubctl" --config-dir "$tmp/link" init >/dev/null 2>"$tmp/err" || fail "init through a private.key symlink"
[ ! -e "$tmp/stolen" ] || fail "init wrote the key through a symlink"
echo x >"$tmp/file"
! "$hubctl" --config-dir "$tmp/file" init >/dev/null 2>"$tmp/err" || fail "init into a file"
grep -q "not a directory" "$tmp/err" || fail "no 'not a directory' message: $(cat "$tmp/err")"

echo "# options: address, port, gateway masquerade, JSON"
"$hubctl" --config-dir "$tmp/c" init --address 10.20.0.1/16,fd00:20::1/64 --listen-port 443 \
	--endpoint '[2001:db8::1]:443' >/dev/null 2>"$tmp/err" || fail "init with options: $(cat "$tmp/err")"
[ "$(grep -c '^Address = ' "$tmp/c/hubd.conf")" = 2 ] || fail "two Address lines"
grep -qx 'Address = fd00:20::1/64' "$tmp/c/hubd.conf" || fail "the IPv6 Address"
[ "$(field ListenPort "$tmp/c/hubd.conf")" = 443 ] || fail "--listen-port"
[ "$(field PublicEndpoint "$tmp/c/hubd.conf")" = '[2001:db8::1]:443' ] || fail "IPv6 --endpoint"
"$hubctl" --config-dir "$tmp/c" check >/dev/null 2>"$tmp/err" || fail "check refuses: $(cat "$tmp/err")"
"$hubctl" --config-dir "$tmp/g" init --address 10.8.0.3/24 --port 51821 \
	--masquerade 192.168.1.0/24 --masquerade eth1 >/dev/null 2>"$tmp/err" ||
	fail "gateway init: $(cat "$tmp/err")"
[ "$(field Masquerade "$tmp/g/hubd.conf" | tr '\n' ' ')" = "192.168.1.0/24 eth1 " ] || fail "Masquerade lines"
[ "$(field ListenPort "$tmp/g/hubd.conf")" = 51821 ] || fail "--port"
"$hubctl" --config-dir "$tmp/g" check >/dev/null 2>"$tmp/err" || fail "check refuses the gateway: $(cat "$tmp/err")"
"$hubctl" --json --config-dir "$tmp/j" init >"$tmp/json" 2>/dev/null || fail "init --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["public_key"] and d["config_dir"] == sys.argv[2]' \
	"$tmp/json" "$tmp/j" 2>/dev/null || ! command -v python3 >/dev/null || fail "init --json: $(cat "$tmp/json")"
grep -qF "\"$(wg pubkey <"$tmp/j/private.key")\"" "$tmp/json" || fail "init --json: no public key"

echo "# bad options are refused before anything is written"
bad() {
	! "$hubctl" --config-dir "$tmp/bad" init "$@" >/dev/null 2>"$tmp/err" || fail "init $* was accepted"
	[ ! -e "$tmp/bad" ] || fail "init $* left files behind"
}
bad --address 10.8.0.0/24
grep -q "is a network" "$tmp/err" || fail "network --address message: $(cat "$tmp/err")"
bad --address 10.8.0.300/24
bad --address ,
bad --listen-port 0
grep -q "not a port number" "$tmp/err" || fail "--listen-port message: $(cat "$tmp/err")"
bad --listen-port 65536
bad --listen-port 5x
bad --endpoint vpn.example.org
grep -q "not HOST:PORT" "$tmp/err" || fail "--endpoint message: $(cat "$tmp/err")"
bad --masquerade 'eth0;drop'
bad --masquerade 10.8.0.0/16 # the tunnel's own subnet: hubd would refuse that hubd.conf
grep -q "overlaps the tunnel subnet" "$tmp/err" || fail "the parser's message: $(cat "$tmp/err")"
bad --masquerade eth0,eth0
bad --address
bad extra
grep -q "usage: hubctl init" "$tmp/err" || fail "no usage on a stray argument"

echo "# a hub made by init onboards a phone"
"$hubctl" --config-dir "$conf" peer add phone --qr none >"$tmp/phone.conf" 2>"$tmp/err" ||
	fail "peer add after init: $(cat "$tmp/err")"
[ "$(field Endpoint "$tmp/phone.conf")" = vpn.example.org:51820 ] || fail "phone's Endpoint"
[ "$(field PublicKey "$tmp/phone.conf")" = "$(cat "$tmp/pub")" ] || fail "phone's hub key"
echo "PASS"
