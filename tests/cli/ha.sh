#!/bin/sh
# hubctl endpoints and takeover (docs/HA.md) against tests/cli/fake-hubd: the endpoints
# file is read off the status (peers with an endpoint only, no secrets, the hub's key),
# takeover sends the file as an open descriptor and prints the daemon's counts.
set -eu
: "${HUBD_BUILDDIR:?run from make check}"
hubctl=$HUBD_BUILDDIR/src/hubctl/hubctl
fake=$HUBD_BUILDDIR/tests/cli/fake-hubd

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubctl-ha.XXXXXX")
pid=
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { grep -qF -- "$2" "$1" || fail "$1 lacks: $2"; }
lacks() { ! grep -qF -- "$2" "$1" || fail "$1 has: $2"; }

sock=$tmp/control.sock
replies=$tmp/replies
mkdir "$replies"
hc() { "$hubctl" --socket "$sock" "$@"; }
code() { rc=0; hc "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; echo $rc; }

# No daemon: exit 3, as for status.
[ "$(code endpoints)" = 3 ] || fail "endpoints without a daemon: not 3"
echo '{"endpoints":[]}' >"$tmp/partner.json"
[ "$(code takeover "$tmp/partner.json")" = 3 ] || fail "takeover without a daemon: not 3"

"$fake" "$sock" "$replies" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || fail "fake-hubd did not start"

cat >"$replies/status.json" <<'EOJ'
{"ok":true,"config_dir":"/etc/hubd",
 "interface":{"name":"wg0","public_key":"HQR5IMxE1yX74iK8P17mLlMu//zYTXNdXZ1YUsJWT3g=","listen_port":51820,
  "addresses":["10.8.0.1/24"],"mtu":1420,"fwmark":0,"forward":"hub","peers_total":2,"peers_up":1,"peers_stale":0},
 "counters":{},
 "peers":[
  {"name":"gw","public_key":"G7mVOckWQRQUmwDxGurRIuI5ruapywi00EtOBMBfEFg=","endpoint":"198.51.100.7:40123",
   "allowed_ips":["10.8.0.3/32","192.168.1.0/24"],"persistent_keepalive":25,"latest_handshake":1700000000,
   "handshake_age":65,"rx_bytes":1536,"tx_bytes":5242880,"health":"up"},
  {"name":"phone","public_key":"aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=","endpoint":null,
   "allowed_ips":["10.8.0.2/32"],"persistent_keepalive":0,"latest_handshake":0,"handshake_age":null,
   "rx_bytes":0,"tx_bytes":0,"health":"never"}]}
EOJ

[ "$(code endpoints --json)" = 0 ] || fail "endpoints --json: $(cat "$tmp/err")"
cp "$tmp/out" "$tmp/endpoints.json"
has "$tmp/endpoints.json" '"interface": "wg0"'
has "$tmp/endpoints.json" '"public_key": "HQR5IMxE1yX74iK8P17mLlMu//zYTXNdXZ1YUsJWT3g="'
has "$tmp/endpoints.json" '"name": "gw"'
has "$tmp/endpoints.json" '"endpoint": "198.51.100.7:40123"'
has "$tmp/endpoints.json" '"latest_handshake": 1700000000'
lacks "$tmp/endpoints.json" 'phone'
lacks "$tmp/endpoints.json" 'allowed_ips'
lacks "$tmp/endpoints.json" 'rx_bytes'
[ "$(code endpoints)" = 0 ] || fail "endpoints: $(cat "$tmp/err")"
has "$tmp/out" 'NAME'
grep -Eq '^gw +198\.51\.100\.7:40123 +[0-9].* ago +G7mVOckWQRQUmwDxGurRIuI5ruapywi00EtOBMBfEFg=$' "$tmp/out" ||
	fail "endpoints: no row for gw: $(cat "$tmp/out")"
has "$tmp/out" 'G7mVOckWQRQUmwDxGurRIuI5ruapywi00EtOBMBfEFg='
has "$tmp/out" ' ago'
[ "$(code endpoints extra)" = 1 ] || fail "endpoints with an argument: not 1"

cat >"$replies/takeover.json" <<'EOJ'
{"ok":true,"contacted":2,"renewed":1,"fresher_here":3,"configured_endpoint":4,"unknown":5}
EOJ
[ "$(code takeover "$tmp/endpoints.json")" = 0 ] || fail "takeover: $(cat "$tmp/err")"
has "$tmp/out" 'takeover: 2 peers re-contacted (1 re-added), 3 with a fresher handshake here, 4 with a configured Endpoint, 5 unknown'
has "$replies/requests.log" '{"command":"takeover"}'
[ "$(code --json takeover "$tmp/endpoints.json")" = 0 ] || fail "takeover --json"
has "$tmp/out" '"contacted": 2'
[ "$(code takeover)" = 1 ] || fail "takeover without a file: not 1"
has "$tmp/err" 'usage: hubctl takeover FILE'
[ "$(code takeover "$tmp/missing.json")" = 1 ] || fail "takeover of a missing file: not 1"
has "$tmp/err" 'missing.json: No such file or directory'
[ "$(code takeover "$tmp/endpoints.json" more)" = 1 ] || fail "takeover with two files: not 1"
echo '{"ok":false,"error":"the endpoints file is from a hub with another key"}' >"$replies/takeover.json"
[ "$(code takeover "$tmp/endpoints.json")" = 1 ] || fail "a refused takeover: not 1"
has "$tmp/err" 'another key'
