#!/bin/sh
# hubctl check: exit codes and the exact file:line diagnostics, on temporary config dirs.
set -eu
hubctl="${HUBD_BUILDDIR:-.}/src/hubctl/hubctl"
if [ ! -x "$hubctl" ]; then
	echo "check.sh: $hubctl is not built"
	exit 1
fi
# Key files must be owned by root; the test makes them so.
[ "$(id -u)" = 0 ] || { echo "check.sh: needs root"; exit 77; }

K1=ERERERERERERERERERERERERERERERERERERERERERE=
K2=IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=
HUB_PRIV=yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fails=0

# expect EXIT EXPECTED_STDERR -- run hubctl ARGS and compare exit code and stderr exactly.
expect() {
	want_rc=$1 want_err=$2
	shift 2
	rc=0
	"$hubctl" "$@" >"$d/out" 2>"$d/err" || rc=$?
	if [ "$rc" != "$want_rc" ] || [ "$(cat "$d/err")" != "$want_err" ]; then
		echo "FAIL: hubctl $*: exit $rc (want $want_rc)"
		echo "--- stderr:"; cat "$d/err"
		echo "--- wanted:"; printf '%s\n' "$want_err"
		fails=$((fails + 1))
	else
		echo "ok: hubctl $* -> $rc"
	fi
}

reset() {
	rm -rf "$d/c"
	mkdir -p "$d/c/peers.d"
	printf '%s\n' "$HUB_PRIV" >"$d/c/private.key"
	chmod 600 "$d/c/private.key"
	printf '[Interface]\nAddress = 10.8.0.1/24\nListenPort = 51820\n' >"$d/c/hubd.conf"
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.2/32\n' "$K1" >"$d/c/peers.d/phone.conf"
}
c="$d/c"

reset
expect 0 "" check --config-dir "$c"
expect 0 "" --config-dir "$c" check
expect 0 "" check --config-dir="$c"

# A broken peer file: every error, each with file:line.
reset
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.3/33\nEndpoint = home.example.org\nPersistentKeepalive = 70000\n' "$K2" >"$c/peers.d/home.conf"
expect 1 "$c/peers.d/home.conf:3: AllowedIPs 10.8.0.3/33: the prefix length is over /32 (IPv4) or /128 (IPv6)
$c/peers.d/home.conf:4: Endpoint 'home.example.org' has no port: write host:port, or [address]:port for IPv6
$c/peers.d/home.conf:5: PersistentKeepalive 70000 is out of range 0..65535" check --config-dir "$c"

# An overlap names the other file; the later name is the one rejected.
reset
printf '[Peer]\nPublicKey = %s\n\nAllowedIPs = 10.8.0.2/32\n' "$K2" >"$c/peers.d/tablet.conf"
expect 1 "$c/peers.d/tablet.conf:4: AllowedIPs 10.8.0.2/32 is already given to peer phone ($c/peers.d/phone.conf:3)" check --config-dir "$c"

# A duplicate public key.
reset
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.9/32\n' "$K1" >"$c/peers.d/tablet.conf"
expect 1 "$c/peers.d/tablet.conf:2: PublicKey is already used by peer phone ($c/peers.d/phone.conf:2)" check --config-dir "$c"

# Warnings do not fail the check.
reset
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 192.168.1.7/24\n' "$K2" >"$c/peers.d/home.conf"
expect 0 "$c/peers.d/home.conf:3: warning: AllowedIPs 192.168.1.7/24 has host bits set; using 192.168.1.0/24" check --config-dir "$c"

# Key files: mode and owner.
reset
chmod 644 "$c/private.key"
expect 1 "$c/private.key: PrivateKeyFile $c/private.key has mode 0644, which lets group or others read it: refused (chmod 600 $c/private.key)" check --config-dir "$c"
reset
chown 65534 "$c/private.key"
printf 'PrivateKeyFile = private.key\n' >>"$c/hubd.conf"
expect 1 "$c/hubd.conf:4: PrivateKeyFile $c/private.key is owned by uid 65534, not root: refused (chown root $c/private.key)" check --config-dir "$c"

# hubd.conf errors; editor leftovers ignored.
reset
printf 'junk\n' >"$c/peers.d/phone.conf~"
printf 'junk\n' >"$c/peers.d/.#phone.conf"
printf 'junk\n' >"$c/peers.d/phone.swp"
printf '[Interface]\nAddress = 10.8.0.1/24\nForward = bridge\nDNS = 1.1.1.1\n' >"$c/hubd.conf"
expect 1 "$c/hubd.conf:3: Forward must be hub, isolate or off, not 'bridge'
$c/hubd.conf:4: DNS is not supported in [Interface]: DNS is a client setting: pass it to 'hubctl peer add --dns'" check --config-dir "$c"

# No such directory.
expect 1 "$d/nonexistent: cannot open the config directory: No such file or directory" check --config-dir "$d/nonexistent"

[ "$fails" = 0 ] || { echo "check.sh: $fails failed"; exit 1; }
echo "check.sh: all passed"
