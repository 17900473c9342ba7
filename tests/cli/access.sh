#!/bin/sh
# Access and ExpiresAt from the CLI side: what peer add --access/--expires
# writes, how bad values are refused, hubctl check's file:line errors for bad
# entries, peer list's "expired", and the status table's lines under a peer
# (against tests/cli/fake-hubd: the daemon's own JSON is unit-tested in
# test-control, and enforced in the VM scenario).
set -eu
: "${HUBD_BUILDDIR:?run from make check}"
hubctl=$HUBD_BUILDDIR/src/hubctl/hubctl
fake=$HUBD_BUILDDIR/tests/cli/fake-hubd

# Key files must be owned by root: as a user, become root of a user namespace.
if [ "$(id -u)" != 0 ]; then
	if unshare -Ur true 2>/dev/null; then exec unshare -Ur sh "$0" "$@"; fi
	echo "SKIP: needs root or unprivileged user namespaces"; exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubctl-access.XXXXXX")
pid=
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
umask 022

HUB_PRIV=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
K1=ERERERERERERERERERERERERERERERERERERERERERE=
K2=IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=
conf=$tmp/etc
mkdir -p "$conf/peers.d"
(umask 077 && printf '%s\n' "$HUB_PRIV" >"$conf/private.key")
cat >"$conf/hubd.conf" <<EOC
[Interface]
Address = 10.8.0.1/24
ListenPort = 51820
PublicEndpoint = vpn.example.org:51820
EOC
hc() { "$hubctl" --config-dir "$conf" "$@"; }
field() { sed -n "s/^$1 = //p" "$2"; }
code() { rc=0; hc "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; echo $rc; }

echo "# peer add --access --expires: both lines, in hubd's own form"
before=$(date +%s)
[ "$(code peer add friend --qr none --access '192.168.1.100 tcp/3000, 192.168.1.0/24 icmp,fd00::/64 udp/53-54' \
	--expires 7d)" = 0 ] || fail "peer add --access --expires: exit $rc: $(cat "$tmp/err")"
after=$(date +%s)
f=$conf/peers.d/friend.conf
[ "$(field Access "$f")" = "192.168.1.100/32 tcp/3000, 192.168.1.0/24 icmp, fd00::/64 udp/53-54" ] ||
	fail "Access line: $(field Access "$f")"
exp=$(field ExpiresAt "$f")
echo "$exp" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' || fail "ExpiresAt is not RFC 3339 UTC: $exp"
t=$(date -u -d "$exp" +%s)
[ "$t" -ge $((before + 7 * 86400)) ] && [ "$t" -le $((after + 7 * 86400)) ] || fail "7d is not 7 days from now: $exp"
[ "$(code check)" = 0 ] || fail "check after peer add --access: exit $rc: $(cat "$tmp/err")"
! grep -q 'PrivateKey' "$f" || fail "a private key in the peer file"

echo "# --expires: each unit, and a date meaning the end of that day, UTC"
for spec in 12h:43200 30m:1800 90s:90; do
	before=$(date +%s)
	[ "$(code peer add "t-${spec%%:*}" --qr none --expires "${spec%%:*}")" = 0 ] ||
		fail "--expires ${spec%%:*}: exit $rc: $(cat "$tmp/err")"
	after=$(date +%s)
	t=$(date -u -d "$(field ExpiresAt "$conf/peers.d/t-${spec%%:*}.conf")" +%s)
	[ "$t" -ge $((before + ${spec#*:})) ] && [ "$t" -le $((after + ${spec#*:})) ] ||
		fail "--expires ${spec%%:*}: $(field ExpiresAt "$conf/peers.d/t-${spec%%:*}.conf")"
	! grep -q '^Access' "$conf/peers.d/t-${spec%%:*}.conf" || fail "an Access line without --access"
done
[ "$(code peer add dated --qr none --expires=2099-12-31)" = 0 ] || fail "--expires DATE: exit $rc: $(cat "$tmp/err")"
[ "$(field ExpiresAt "$conf/peers.d/dated.conf")" = 2100-01-01T00:00:00Z ] ||
	fail "--expires 2099-12-31: $(field ExpiresAt "$conf/peers.d/dated.conf")"
[ "$(code peer add offset --qr none --expires 2099-06-30T12:00:00+02:00)" = 0 ] || fail "--expires RFC 3339: exit $rc"
[ "$(field ExpiresAt "$conf/peers.d/offset.conf")" = 2099-06-30T10:00:00Z ] ||
	fail "--expires with an offset: $(field ExpiresAt "$conf/peers.d/offset.conf")"

echo "# --access none, and a site gateway with --access"
[ "$(code peer add mute --qr none --access none)" = 0 ] || fail "--access none: exit $rc: $(cat "$tmp/err")"
[ "$(field Access "$conf/peers.d/mute.conf")" = none ] || fail "Access none: $(field Access "$conf/peers.d/mute.conf")"
! grep -q '^ExpiresAt' "$conf/peers.d/mute.conf" || fail "an ExpiresAt line without --expires"
[ "$(code peer add home --lan 192.168.50.0/24 --access 10.8.0.1/32 --expires 30d)" = 0 ] ||
	fail "--lan --access: exit $rc: $(cat "$tmp/err")"
[ "$(field Access "$conf/peers.d/home.conf")" = 10.8.0.1/32 ] || fail "gateway's Access"
[ -n "$(field ExpiresAt "$conf/peers.d/home.conf")" ] || fail "gateway's ExpiresAt"
[ "$(code check)" = 0 ] || fail "check after all the adds: exit $rc: $(cat "$tmp/err")"

echo "# bad --access and --expires: exit 1, the option named, the value never repeated, nothing written"
n_files=$(ls "$conf/peers.d" | wc -l)
bad_access() {
	[ "$(code peer add bad --qr none --access "$1")" = 1 ] || fail "--access '$1': exit $rc"
	grep -q -- '^hubctl: --access' "$tmp/err" || fail "--access '$1': no message naming --access: $(cat "$tmp/err")"
	! grep -qF -- "$2" "$tmp/err" || fail "--access '$1': the value is repeated: $(cat "$tmp/err")"
	[ ! -s "$tmp/out" ] || fail "--access '$1': printed a client config"
}
bad_access '10.1.2.777/32' '10.1.2.777'
bad_access '10.77.0.0/16 sctp' 'sctp'
bad_access '10.77.0.0/16 icmp/8' 'icmp/8'
bad_access '10.77.0.0/16 tcp/0' 'tcp/0'
bad_access '10.77.0.0/16 udp/65536' '65536'
bad_access '10.77.0.0/16 tcp/9090-8080' '9090'
bad_access '10.77.3.4/16 tcp/22' '10.77.3.4'
bad_access '10.77.0.0/16,,10.78.0.0/16' '10.78'
grep -q 'entry 2' "$tmp/err" || fail "the bad entry is not named by its place: $(cat "$tmp/err")"
bad_access '10.77.0.0/16, none' '10.77'
grep -q 'none' "$tmp/err" || fail "none with other entries: $(cat "$tmp/err")"
bad_expires() {
	[ "$(code peer add bad --qr none --expires "$1")" = 1 ] || fail "--expires '$1': exit $rc"
	grep -q -- '^hubctl: --expires' "$tmp/err" || fail "--expires '$1': no message naming --expires: $(cat "$tmp/err")"
	! grep -qF -- "$1" "$tmp/err" || fail "--expires '$1': the value is repeated: $(cat "$tmp/err")"
}
bad_expires 'next-friday'
bad_expires '7y'
bad_expires '0d'
bad_expires '2026-13-45'
bad_expires '2001-01-01'
grep -q 'passed' "$tmp/err" || fail "a past date: $(cat "$tmp/err")"
[ "$(code peer add bad --qr none --expires)" = 1 ] || fail "--expires without a value: exit $rc"
[ "$(ls "$conf/peers.d" | wc -l)" = "$n_files" ] || fail "a refused peer add left a file: $(ls "$conf/peers.d")"

echo "# hubctl check: each bad entry is file:line, without its text"
b=$tmp/bad
mkdir -p "$b/peers.d"
cp "$conf/private.key" "$conf/hubd.conf" "$b/"
cat >"$b/peers.d/x.conf" <<EOP
[Peer]
PublicKey = $K1
AllowedIPs = 10.8.0.9/32
Access = 10.1.2.777/32
Access = 10.77.0.0/16 sctp
Access = 10.77.0.0/16 icmp/8
Access = 10.77.0.0/16 tcp/0
Access = 10.77.0.0/16 udp/65536
Access = 10.77.0.0/16 tcp/9090-8080
Access = 10.77.3.4/16
ExpiresAt = next friday
EOP
rc=0
"$hubctl" check --config-dir "$b" >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 1 ] || fail "check with bad entries: exit $rc"
for line in 4 5 6 7 8 9 10 11; do
	[ "$(grep -c "^$b/peers.d/x.conf:$line: " "$tmp/err")" = 1 ] || fail "no single error for line $line: $(cat "$tmp/err")"
done
[ "$(grep -c . "$tmp/err")" = 8 ] || fail "other errors than the 8 bad lines: $(cat "$tmp/err")"
for v in 777 sctp icmp/8 tcp/0 65536 9090 10.77.3.4 friday; do
	! grep -qF -- "$v" "$tmp/err" || fail "check repeats '$v': $(cat "$tmp/err")"
done
# One good file and a valid one past its date: no error, and peer list tells them apart.
cat >"$b/peers.d/x.conf" <<EOP
[Peer]
PublicKey = $K1
AllowedIPs = 10.8.0.9/32
Access = 10.77.0.0/16 tcp/22, 10.78.0.1 icmp
ExpiresAt = 2001-02-03
EOP
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.10/32\nExpiresAt = 2099-01-01T00:00:00Z\n' "$K2" >"$b/peers.d/y.conf"
"$hubctl" check --config-dir "$b" >"$tmp/out" 2>"$tmp/err" || fail "check with a past ExpiresAt: $(cat "$tmp/err")"
grep -q ', 1 peer accepted, 0 rejected, 1 expired (not applied)$' "$tmp/out" || fail "check's summary: $(cat "$tmp/out")"
[ ! -s "$tmp/err" ] || fail "an expired file is not an error: $(cat "$tmp/err")"
"$hubctl" check --json --config-dir "$b" | tr -d ' \n' | grep -qF '"expired":["x"]' || fail "check --json lists no expired peer"

echo "# peer list: expired for a file past its date"
"$hubctl" peer list --config-dir "$b" >"$tmp/out" 2>"$tmp/err" || fail "peer list: $(cat "$tmp/err")"
grep -Eq '^x +10\.8\.0\.9/32  \(expired since 2001-02-04T00:00:00Z\)$' "$tmp/out" || fail "x not expired: $(cat "$tmp/out")"
grep -Eq '^y +10\.8\.0\.10/32$' "$tmp/out" || fail "y: $(cat "$tmp/out")"
"$hubctl" peer list --json --config-dir "$b" >"$tmp/out"
tr -d ' \n' <"$tmp/out" >"$tmp/flat"
grep -qF '"name":"x","allowed_ips":["10.8.0.9/32"],"valid":true,"access":["10.77.0.0/16tcp/22","10.78.0.1/32icmp"],"expires_at":"2001-02-04T00:00:00Z","expired":true}' "$tmp/flat" ||
	fail "peer list --json for x: $(cat "$tmp/out")"
grep -qF '"name":"y","allowed_ips":["10.8.0.10/32"],"valid":true,"expires_at":"2099-01-01T00:00:00Z","expired":false}' "$tmp/flat" ||
	fail "peer list --json for y: $(cat "$tmp/out")"
# peer add does not hand out an expired peer's address: moving the date back must not clash.
"$hubctl" peer add next --qr none --config-dir "$b" >/dev/null 2>"$tmp/err" || fail "peer add next: $(cat "$tmp/err")"
[ "$(field AllowedIPs "$b/peers.d/next.conf")" = 10.8.0.2/32 ] || fail "next's address"
rm "$b/peers.d/next.conf"
"$hubctl" peer add next --qr none --address 10.8.0.9 --config-dir "$b" >/dev/null 2>"$tmp/err" &&
	fail "peer add took the expired peer's address"
grep -q "already used by peer 'x'" "$tmp/err" || fail "taking x's address: $(cat "$tmp/err")"
# Moving the date brings it back.
sed -i 's/^ExpiresAt = .*/ExpiresAt = 2099-02-03/' "$b/peers.d/x.conf"
"$hubctl" peer list --config-dir "$b" >"$tmp/out"
grep -Eq '^x +10\.8\.0\.9/32$' "$tmp/out" || fail "x after its date moved: $(cat "$tmp/out")"

echo "# bash completion knows the options"
if command -v bash >/dev/null; then
	# Stand-ins for bash-completion's helpers, which the test machine need not have.
	complete_words() {
		bash -c '_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
			cur=${words[cword]}; prev=${words[cword - 1]}; }
			complete() { :; }; _filedir() { :; }
			. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _hubctl
			echo "${COMPREPLY[*]}"' sh "${HUBD_SRCDIR:-$(dirname "$0")/../..}/contrib/bash-completion/hubctl" "$@"
	}
	[ "$(complete_words hubctl peer add x --ac)" = --access ] || fail "completion of --ac"
	[ "$(complete_words hubctl peer add x --exp)" = --expires ] || fail "completion of --exp"
	[ "$(complete_words hubctl peer add x --access n)" = none ] || fail "completion of --access n"
	[ "$(complete_words hubctl peer add x --expires 7)" = 7d ] || fail "completion of --expires 7"
	[ "$(complete_words hubctl peer add x --access 10.0.0.0/8 --expires 7d --qr)" = --qr ] ||
		fail "--access and --expires take their values in completion"
fi

echo "# status: access and expiry under the peer, expired peers"
sock=$tmp/control.sock
replies=$tmp/replies
mkdir "$replies"
"$fake" "$sock" "$replies" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || fail "fake-hubd did not start"
cat >"$replies/status.json" <<'EOJ'
{"ok":true,
 "interface":{"name":"wg0","public_key":"HQR5IMxE1yX74iK8P17mLlMu//zYTXNdXZ1YUsJWT3g=","listen_port":51820,
  "addresses":["10.8.0.1/24"],"mtu":1420,"fwmark":0,"forward":"hub","peers_total":3,"peers_up":1,"peers_stale":0,
  "peers_expired":1},
 "peers":[
  {"name":"contractor","public_key":"G7mVOckWQRQUmwDxGurRIuI5ruapywi00EtOBMBfEFg=","endpoint":null,
   "allowed_ips":["10.8.0.5/32"],"persistent_keepalive":0,"latest_handshake":0,"handshake_age":null,
   "rx_bytes":0,"tx_bytes":0,"health":"expired","expires_at":"2001-02-04T00:00:00Z"},
  {"name":"friend","public_key":"aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=","endpoint":"198.51.100.7:40123",
   "allowed_ips":["10.8.0.2/32"],"persistent_keepalive":25,"latest_handshake":1700000000,"handshake_age":65,
   "rx_bytes":1536,"tx_bytes":5242880,"health":"up",
   "access":["192.168.1.100/32 tcp/3000","192.168.1.0/24 icmp","192.168.2.0/24 udp/10000-20000",
             "fd00:1234:5678:9abc::/64 tcp/443","10.20.30.0/24 tcp/22"],
   "expires_at":"2099-01-01T00:00:00Z"},
  {"name":"mute","public_key":"cGhvbmUtcHJpdmF0ZS1rZXktLS0tLS0tLS0tLS0tLS0=","endpoint":null,
   "allowed_ips":["10.8.0.3/32"],"persistent_keepalive":0,"latest_handshake":0,"handshake_age":null,
   "rx_bytes":0,"tx_bytes":0,"health":"never","access":[]},
  {"name":"plain","public_key":"cGxhaW4tcHJpdmF0ZS1rZXktLS0tLS0tLS0tLS0tLS0=","endpoint":null,
   "allowed_ips":["10.8.0.4/32"],"persistent_keepalive":0,"latest_handshake":0,"handshake_age":null,
   "rx_bytes":0,"tx_bytes":0,"health":"never"}],
 "counters":{"reconciles":1,"drift_repairs":0,"netlink_messages":4,"config_errors":0}}
EOJ
rc=0
"$hubctl" --socket "$sock" status >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || fail "status: exit $rc: $(cat "$tmp/err")"
head -n1 "$tmp/out" | grep -q ', 3 peers: 1 up, 0 stale, 1 expired$' || fail "interface line: $(head -n1 "$tmp/out")"
grep -Eq '^contractor +- +10\.8\.0\.5/32 +never +0 B +0 B +expired$' "$tmp/out" || fail "expired row: $(cat "$tmp/out")"
# Each peer's lines follow its row, and only a peer with a policy has any.
sed -n '/^contractor /,/^friend /p' "$tmp/out" >"$tmp/block"
[ "$(sed -n 2p "$tmp/block")" = "  expired: 2001-02-04T00:00:00Z (not in the kernel until ExpiresAt moves)" ] ||
	fail "expired line: $(cat "$tmp/block")"
sed -n '/^friend /,/^mute /p' "$tmp/out" >"$tmp/block"
[ "$(sed -n 2,3p "$tmp/block")" = "  access:  192.168.1.100/32 tcp/3000, 192.168.1.0/24 icmp,
           192.168.2.0/24 udp/10000-20000, fd00:1234:5678:9abc::/64 tcp/443," ] ||
	fail "access lines: $(cat "$tmp/block")"
[ "$(sed -n 4p "$tmp/block")" = "           10.20.30.0/24 tcp/22" ] || fail "third access line: $(cat "$tmp/block")"
sed -n 5p "$tmp/block" | grep -Eq '^  expires: 2099-01-01T00:00:00Z \(in [0-9]+d [0-9]+h [0-9]+m [0-9]+s\)$' ||
	fail "expires line: $(cat "$tmp/block")"
sed -n '/^mute /,/^plain /p' "$tmp/out" >"$tmp/block"
[ "$(sed -n 2p "$tmp/block")" = "  access:  none (may start no connection)" ] || fail "Access none: $(cat "$tmp/block")"
[ "$(sed -n '/^plain /,$p' "$tmp/out" | wc -l)" = 1 ] || fail "lines under a peer without a policy"
! awk '/^  (access|expires|expired):|^           / && length($0) > 80' "$tmp/out" | grep -q . ||
	fail "a policy line over 80 columns: $(cat "$tmp/out")"
"$hubctl" --socket "$sock" --json status >"$tmp/out" || fail "status --json"
grep -q '"health": "expired"' "$tmp/out" || fail "status --json loses the expired health"
grep -q '"access": \[' "$tmp/out" || fail "status --json loses access"
echo "ok"
