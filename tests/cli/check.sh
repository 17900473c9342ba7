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
	# Whatever a test does, the hub's private key is never printed, not even in part.
	if grep -qF "${HUB_PRIV%=}" "$d/out" "$d/err"; then
		echo "FAIL: hubctl $*: printed the private key"
		fails=$((fails + 1))
	fi
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
expect 1 "$c/peers.d/home.conf:3: AllowedIPs: the prefix length is over /32 (IPv4) or /128 (IPv6)
$c/peers.d/home.conf:4: Endpoint has no port: write host:port, or [address]:port for IPv6
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
expect 1 "$c/hubd.conf:3: Forward must be hub, isolate or off
$c/hubd.conf:4: DNS is not supported in [Interface]: DNS is a client setting: pass it to 'hubctl peer add --dns'" check --config-dir "$c"

# A peer file cannot read anything into the output (issue 16): a link out of peers.d is
# refused unread, no line is ever quoted, nothing that looks like a key is printed.
reset
ln -s ../private.key "$c/peers.d/leak.conf"
expect 1 "$c/peers.d/leak.conf: cannot read: refused: it is a symbolic link leading out of its directory" check --config-dir "$c"
reset
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.3/32\nPresharedKey: %s\n' "$K2" "$HUB_PRIV" >"$c/peers.d/home.conf"
expect 1 "$c/peers.d/home.conf:4: line is not KEY = VALUE (it starts like PresharedKey, which hubd does not take: write the key to a file (mode 0600, owned by root) and name it with PresharedKeyFile)" check --config-dir "$c"
reset
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.3/32\nPresharedKeyFile = %s\n' "$K2" "$HUB_PRIV" >"$c/peers.d/home.conf"
expect 1 "$c/peers.d/home.conf:4: PresharedKeyFile is not a usable key file under $c: it must be a regular file there, owned by root, mode 0600 or stricter, holding one WireGuard key" check --config-dir "$c"
# The hub's own key as a PSK, and a PSK outside the config dir: refused.
reset
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.3/32\nPresharedKeyFile = private.key\n' "$K2" >"$c/peers.d/home.conf"
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.4/32\nPresharedKeyFile = %s/private.key\n' "$K2" "$c" >"$c/peers.d/work.conf"
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.5/32\nPresharedKeyFile = /etc/shadow\n' "$K2" >"$c/peers.d/x.conf"
expect 1 "$c/peers.d/home.conf:4: PresharedKeyFile is not a usable key file under $c: it must be a regular file there, owned by root, mode 0600 or stricter, holding one WireGuard key
$c/peers.d/work.conf:4: PresharedKeyFile is not a usable key file under $c: it must be a regular file there, owned by root, mode 0600 or stricter, holding one WireGuard key
$c/peers.d/x.conf:4: PresharedKeyFile must name a file under $c (relative to it, or an absolute path inside it)" check --config-dir "$c"
# Interface names reach nftables: nothing but [A-Za-z0-9_.@+-].
reset
printf '[Interface]\nAddress = 10.8.0.1/24\nMasquerade = e";drop;oif"lo\nMaxPeerPrefixes = 0\n' >"$c/hubd.conf"
expect 1 "$c/hubd.conf:3: Masquerade is not a valid interface name (1 to 15 letters, digits, '_', '.', '@', '+' or '-') nor a prefix
$c/hubd.conf:4: MaxPeerPrefixes 0 is out of range 1..1000000" check --config-dir "$c"
# More AllowedIPs than MaxPeerPrefixes: that file alone is rejected.
reset
printf '[Interface]\nAddress = 10.8.0.1/24\nMaxPeerPrefixes = 2\n' >"$c/hubd.conf"
printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.1.1/32, 10.8.1.2/32\nAllowedIPs = 10.8.1.3/32\n' "$K2" >"$c/peers.d/home.conf"
expect 1 "$c/peers.d/home.conf:4: more than 2 AllowedIPs prefixes in one peer file (MaxPeerPrefixes in hubd.conf): peer not applied" check --config-dir "$c"

# No such directory.
expect 1 "$d/nonexistent: cannot open the config directory: No such file or directory" check --config-dir "$d/nonexistent"

[ "$fails" = 0 ] || { echo "check.sh: $fails failed"; exit 1; }
echo "check.sh: all passed"
