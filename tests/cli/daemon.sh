#!/bin/sh
# hubctl's daemon verbs against tests/cli/fake-hubd, which answers canned
# replies: the status table, --json, the metrics text and the exit codes of
# reload and diff.
set -eu
: "${HUBD_BUILDDIR:?run from make check}"
hubctl=$HUBD_BUILDDIR/src/hubctl/hubctl
fake=$HUBD_BUILDDIR/tests/cli/fake-hubd

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubctl-daemon.XXXXXX")
pid=
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

sock=$tmp/control.sock
replies=$tmp/replies
mkdir "$replies"
"$fake" "$sock" "$replies" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || fail "fake-hubd did not start"
hc() { "$hubctl" --socket "$sock" "$@"; }
code() { rc=0; hc "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?; echo $rc; }

cat >"$replies/status.json" <<'EOJ'
{"ok":true,
 "interface":{"name":"wg0","public_key":"HQR5IMxE1yX74iK8P17mLlMu//zYTXNdXZ1YUsJWT3g=","listen_port":51820,
  "addresses":["10.8.0.1/24"],"mtu":1420,"fwmark":0,"forward":"hub","peers_total":3,"peers_up":1,"peers_stale":0},
 "peers":[
  {"name":"gw","public_key":"G7mVOckWQRQUmwDxGurRIuI5ruapywi00EtOBMBfEFg=","endpoint":"198.51.100.7:40123",
   "allowed_ips":["10.8.0.3/32","192.168.1.0/24"],"persistent_keepalive":25,"latest_handshake":1700000000,
   "handshake_age":65,"rx_bytes":1536,"tx_bytes":5242880,"health":"up"},
  {"name":"phone","public_key":"aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=","endpoint":null,
   "allowed_ips":["10.8.0.2/32"],"persistent_keepalive":0,"latest_handshake":0,"handshake_age":null,
   "rx_bytes":0,"tx_bytes":0,"health":"never"},
  {"name":"we\"ird\\name","public_key":"cGhvbmUtcHJpdmF0ZS1rZXktLS0tLS0tLS0tLS0tLS0=","endpoint":"[2001:db8::7]:51820",
   "allowed_ips":["10.8.0.9/32"],"persistent_keepalive":25,"latest_handshake":1699990000,"handshake_age":3605,
   "rx_bytes":1023,"tx_bytes":3221225472,"health":"stale"}],
 "counters":{"reconciles":12,"drift_repairs":3,"netlink_messages":40,"config_errors":1}}
EOJ

echo "# status: the table"
[ "$(code status)" = 0 ] || fail "status: exit $rc: $(cat "$tmp/err")"
head -n1 "$tmp/out" | grep -q '^interface wg0, listening on 51820, address 10.8.0.1/24, public key HQR5IMxE1yX74iK8P17mLlMu//zYTXNdXZ1YUsJWT3g=, 3 peers: 1 up, 0 stale$' ||
	fail "interface line: $(head -n1 "$tmp/out")"
grep -Eq '^NAME +ENDPOINT +ALLOWED IPS +HANDSHAKE +RX +TX +HEALTH$' "$tmp/out" || fail "table header"
grep -Eq '^gw +198\.51\.100\.7:40123 +10\.8\.0\.3/32, 192\.168\.1\.0/24 +1m 5s ago +1\.50 KiB +5\.00 MiB +up$' "$tmp/out" ||
	fail "gw row: $(grep '^gw' "$tmp/out")"
grep -Eq '^phone +- +10\.8\.0\.2/32 +never +0 B +0 B +never$' "$tmp/out" || fail "phone row: $(grep '^phone' "$tmp/out")"
grep -Eq '^we"ird\\name +\[2001:db8::7\]:51820 +10\.8\.0\.9/32 +1h 0m 5s ago +1023 B +3\.00 GiB +stale$' "$tmp/out" ||
	fail "stale row: $(grep '^we' "$tmp/out")"
[ "$(awk '/^NAME/ {print index($0, "HEALTH")}' "$tmp/out")" = "$(awk '/^gw / {print index($0, "up")}' "$tmp/out")" ] ||
	fail "columns are not aligned"
! grep -q PrivateKey "$tmp/out" || fail "a private key in status"
grep -qx '{"command":"status"}' "$replies/requests.log" || fail "request: $(cat "$replies/requests.log")"

echo "# status --json, before and after the verb"
[ "$(code status --json)" = 0 ] || fail "status --json: exit $rc"
grep -q '"handshake_age": 65' "$tmp/out" || fail "status --json lacks handshake_age"
grep -q '"reconciles": 12' "$tmp/out" || fail "status --json lacks the counters"
! grep -q '"ok"' "$tmp/out" || fail "status --json repeats ok"
cp "$tmp/out" "$tmp/json-after"
[ "$(code --json status)" = 0 ] || fail "--json status: exit $rc"
cmp -s "$tmp/out" "$tmp/json-after" || fail "--json before and after the verb differ"

echo "# metrics"
[ "$(code metrics)" = 0 ] || fail "metrics: exit $rc"
m=$tmp/out
grep -qx 'hubd_peer_handshake_age_seconds{interface="wg0",peer="gw"} 65' "$m" || fail "gw handshake age"
grep -qx 'hubd_peer_handshake_age_seconds{interface="wg0",peer="we\\"ird\\\\name"} 3605' "$m" ||
	fail "label escaping: $(grep handshake_age_seconds "$m")"
! grep -q 'handshake_age_seconds{interface="wg0",peer="phone"}' "$m" || fail "a handshake age for a peer with none"
grep -qx 'hubd_peer_receive_bytes_total{interface="wg0",peer="gw"} 1536' "$m" || fail "rx bytes"
grep -qx 'hubd_peer_transmit_bytes_total{interface="wg0",peer="gw"} 5242880' "$m" || fail "tx bytes"
grep -qx 'hubd_peer_up{interface="wg0",peer="gw"} 1' "$m" || fail "gw up"
grep -qx 'hubd_peer_up{interface="wg0",peer="phone"} 0' "$m" || fail "phone not up"
grep -qx 'hubd_peer_health{interface="wg0",peer="phone",state="never"} 1' "$m" || fail "phone never"
grep -qx 'hubd_peer_health{interface="wg0",peer="phone",state="up"} 0' "$m" || fail "phone health up=0"
grep -qx 'hubd_reconciles_total{interface="wg0"} 12' "$m" || fail "reconciles"
grep -qx 'hubd_drift_repairs_total{interface="wg0"} 3' "$m" || fail "drift repairs"
grep -qx '# TYPE hubd_peer_receive_bytes_total counter' "$m" || fail "rx TYPE"
grep -qx '# TYPE hubd_peer_handshake_age_seconds gauge' "$m" || fail "age TYPE"
names=$(grep -v '^#' "$m" | sed 's/[{ ].*//' | sort -u)
for n in $names; do
	[ "$(grep -c "^# HELP $n " "$m")" = 1 ] || fail "$n has no single HELP"
	[ "$(grep -c "^# TYPE $n " "$m")" = 1 ] || fail "$n has no single TYPE"
done
! grep -v '^#' "$m" | grep -Ev '^[a-z_]+\{[^}]*\} -?[0-9]+$' || fail "a sample line that is not NAME{LABELS} VALUE"

echo "# diff: 0 nothing, 2 pending, 1 errors"
echo '{"ok":true,"changes":[],"errors":[]}' >"$replies/diff.json"
[ "$(code diff)" = 0 ] || fail "diff with nothing to do: exit $rc"
[ ! -s "$tmp/out" ] || fail "diff with nothing to do printed: $(cat "$tmp/out")"
echo '{"ok":true,"changes":["add peer phone","add route 192.168.1.0/24"],"errors":[]}' >"$replies/diff.json"
[ "$(code diff)" = 2 ] || fail "diff with changes: exit $rc"
[ "$(cat "$tmp/out")" = "add peer phone
add route 192.168.1.0/24" ] || fail "diff changes: $(cat "$tmp/out")"
echo '{"ok":true,"changes":["add peer phone"],"errors":["/etc/hubd/peers.d/x.conf:3: bad key"]}' >"$replies/diff.json"
[ "$(code diff)" = 1 ] || fail "diff with errors: exit $rc"
[ "$(cat "$tmp/err")" = "/etc/hubd/peers.d/x.conf:3: bad key" ] || fail "diff errors on stderr: $(cat "$tmp/err")"
[ "$(code diff --json)" = 1 ] || fail "diff --json with errors: exit $rc"
grep -q '"errors"' "$tmp/out" || fail "diff --json"

echo "# reload"
echo '{"ok":true,"changes":["add peer phone"],"errors":[]}' >"$replies/reload.json"
[ "$(code reload)" = 0 ] || fail "reload: exit $rc"
[ "$(cat "$tmp/out")" = "add peer phone" ] || fail "reload changes: $(cat "$tmp/out")"
echo '{"ok":true,"changes":[],"errors":["/etc/hubd/peers.d/x.conf:3: bad key"],"warnings":["/etc/hubd/hubd.conf:9: unknown key"]}' >"$replies/reload.json"
[ "$(code reload)" = 1 ] || fail "reload with a rejected file: exit $rc"
[ "$(cat "$tmp/err")" = "/etc/hubd/peers.d/x.conf:3: bad key
warning: /etc/hubd/hubd.conf:9: unknown key" ] || fail "reload errors: $(cat "$tmp/err")"
echo '{"ok":true,"changes":[],"errors":[],"warnings":["/etc/hubd/hubd.conf:9: unknown key"]}' >"$replies/reload.json"
[ "$(code reload)" = 0 ] || fail "reload with only a warning: exit $rc"
echo '{"ok":false,"error":"Operation not permitted","changes":[],"errors":[]}' >"$replies/reload.json"
[ "$(code reload)" = 1 ] || fail "a failed reconcile: exit $rc"
grep -qx "hubctl: hubd: Operation not permitted" "$tmp/err" || fail "failed reconcile message: $(cat "$tmp/err")"

echo "# refusals and broken replies"
echo '{"ok":false,"error":"permission denied"}' >"$replies/status.json"
[ "$(code status)" = 1 ] || fail "status refused: exit $rc"
grep -q "hubd: permission denied" "$tmp/err" || fail "refusal message: $(cat "$tmp/err")"
[ "$(code metrics)" = 1 ] || fail "metrics refused: exit $rc"
echo 'not json' >"$replies/status.json"
[ "$(code status)" = 1 ] || fail "a non-JSON reply: exit $rc"
grep -q "not a JSON object" "$tmp/err" || fail "non-JSON message: $(cat "$tmp/err")"
echo '{"ok":true,"interface":{"name":"wg0"},"peers":[{"name":"a"},{"name":"b"' >"$replies/status.json"
[ "$(code status)" = 1 ] || fail "a reply cut off among the peers: exit $rc"
grep -q "not a JSON object" "$tmp/err" || fail "cut-off message: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "a cut-off reply printed a table: $(cat "$tmp/out")"
[ "$(code reload extra)" = 1 ] || fail "reload with an extra argument: exit $rc"

# 70,000 peers make a reply of about 18 MiB: more than hubctl once took (16 MiB).
echo "# status of 70,000 peers"
awk 'BEGIN {
	printf "{\"ok\":true,\"interface\":{\"name\":\"wg0\",\"peers_total\":70000},\"peers\":["
	for (i = 0; i < 70000; i++)
		printf "%s{\"name\":\"peer%06d\",\"public_key\":\"aHViLXB1YmxpYy1rZXktLS0tLS0tLS0tLS0tLS0tLS0=\",\"endpoint\":\"198.51.100.7:%d\",\"allowed_ips\":[\"10.%d.%d.%d/32\",\"fd00:8::1:0:%x/128\"],\"persistent_keepalive\":25,\"latest_handshake\":1700000000,\"handshake_age\":%d,\"rx_bytes\":%d,\"tx_bytes\":%d,\"health\":\"up\"}", i ? "," : "", i, 10000 + i, 100 + int(i / 65536), int(i / 256) % 256, i % 256, i, i, i * 1000, i * 7
	printf "]}\n"
}' >"$replies/status.json"
[ "$(wc -c <"$replies/status.json")" -gt $((16 << 20)) ] || fail "the big reply is too small to test the old limit"
[ "$(code status)" = 0 ] || fail "status of 70,000 peers: exit $rc: $(cat "$tmp/err")"
[ "$(grep -c '^peer' "$tmp/out")" = 70000 ] || fail "status of 70,000 peers: $(grep -c '^peer' "$tmp/out") rows"
grep -Eq '^peer069999 +198\.51\.100\.7:79999 +10\.101\.17\.111/32, fd00:8::1:0:1116f/128 +19h 26m 39s ago +66\.76 MiB +478\.51 KiB +up$' "$tmp/out" ||
	fail "the last of 70,000 rows: $(tail -n 1 "$tmp/out")"
echo "ok"
