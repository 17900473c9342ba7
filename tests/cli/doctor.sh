#!/bin/sh
# hubctl doctor end to end, without WireGuard: in a network namespace of its own (so
# what it reads is only what this script made), with no daemon, then with
# tests/cli/fake-hubd answering status. Needs root for the namespace (77 otherwise).
set -eu
: "${HUBD_BUILDDIR:?run from make check}"
hubctl=$HUBD_BUILDDIR/src/hubctl/hubctl
fake=$HUBD_BUILDDIR/tests/cli/fake-hubd

[ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null || { echo "skip: needs root and unshare -n"; exit 77; }
command -v iptables-nft >/dev/null && command -v jq >/dev/null || { echo "skip: needs iptables-nft, jq"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubctl-doctor.XXXXXX")
pid=
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	[ -z "$pid" ] || wait "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

dir=$tmp/conf
mkdir -p "$dir/peers.d"
(umask 077 && wg genkey >"$dir/private.key")
printf '[Interface]\nPrivateKeyFile = %s\nAddress = 10.8.0.3/24\n' "$dir/private.key" >"$dir/hubd.conf"
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.0/24\nEndpoint = hub.invalid:51820\n' \
	"$(wg genkey | wg pubkey)" >"$dir/peers.d/hub.conf"

# run ARGS: doctor in a new namespace with an uplink (MTU 1480), forwarding on and Docker's
# FORWARD policy DROP; output in $tmp/out, exit code in $rc.
run() {
	rc=0
	unshare -n sh -c '
		ip link set lo up
		ip link add eth0 type veth peer name eth1
		ip link set eth0 mtu 1480 up
		echo 1 >/proc/sys/net/ipv4/ip_forward
		ip addr add 192.168.1.2/24 dev eth0
		ip route add default via 192.168.1.1
		iptables-nft -P FORWARD DROP
		RES_OPTIONS="timeout:1 attempts:1" exec "$@"' sh "$hubctl" --config-dir "$dir" "$@" \
		>"$tmp/out" 2>&1 || rc=$?
}
has() { grep -Eq "^$1 +$2 +.*$3" "$tmp/out" || fail "no '$1 $2 ... $3' in: $(cat "$tmp/out")"; }

echo "# no daemon: FAIL daemon, and every other check still runs"
run --socket "$tmp/none.sock" doctor
[ "$rc" = 1 ] || fail "exit $rc"
[ "$(grep -cE '^(ok|warn|FAIL) ' "$tmp/out")" = 14 ] || fail "not 14 lines: $(cat "$tmp/out")"
has FAIL daemon "hubd does not answer on $tmp/none.sock"
has ok config "interface wg0, 1 peer"
has FAIL link "wg0 does not exist"
has ok forwarding "IPv4 forwarding is on"
has FAIL firewall-forward "table ip filter chain FORWARD drops new traffic from wg0 to eth0 \\(its policy drop\\)"
has FAIL return-path "192.168.1.0/24 on eth0 is not masqueraded"
has warn mtu "wg0 MTU 1420 leaves 60 bytes under eth0's 1480"
has FAIL endpoints "hub's Endpoint hub.invalid does not resolve"
has warn keepalive "hub has an Endpoint but no PersistentKeepalive"
has ok public-endpoint "a gateway"

echo "# --json: the same checks, same IDs, in order"
run --socket "$tmp/none.sock" doctor --json
[ "$rc" = 1 ] || fail "--json exit $rc"
ids=$(jq -r '.checks[].id' "$tmp/out" | tr '\n' ' ')
[ "$ids" = "daemon config link forwarding routes firewall-forward firewall-input return-path rp-filter mtu handshakes endpoints keepalive public-endpoint " ] ||
	fail "ids: $ids"
[ "$(jq -r '.checks[] | select(.id == "daemon") | .status' "$tmp/out")" = fail ] || fail "daemon status"

echo "# a daemon that answers"
sock=$tmp/control.sock
replies=$tmp/replies
mkdir "$replies"
echo '{"ok":true,"config_dir":"'"$dir"'","interface":{"name":"wg0"},"peers":[]}' >"$replies/status.json"
"$fake" "$sock" "$replies" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
run --socket "$sock" doctor
has ok daemon "hubd answers on $sock"
echo '{"ok":true,"config_dir":"/elsewhere","interface":{"name":"wg0"},"peers":[]}' >"$replies/status.json"
run --socket "$sock" doctor
has warn daemon "the hubd on $sock runs /elsewhere, not $(realpath "$dir")"
echo '{"ok":false,"error":"no usable configuration yet","config_dir":"'"$dir"'"}' >"$replies/status.json"
run --socket "$sock" doctor
has FAIL daemon "hubd answers but no usable configuration yet"

echo "# usage"
rc=0
"$hubctl" doctor extra >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" = 1 ] && grep -q "usage: hubctl doctor" "$tmp/err" || fail "extra argument: $rc $(cat "$tmp/err")"
echo "ok"
