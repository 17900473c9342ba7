#!/bin/bash
# Security: Forward = isolate blocks phone-to-phone traffic while phone-to-LAN
# works (real WireGuard spokes: two phones and a home gateway with a LAN behind
# it); the control socket refuses nobody, oversize and garbage requests; key
# files with loose permissions or the wrong owner are refused and the running
# state kept; peer files overlapping another peer's AllowedIPs or holding the
# hub's own address are refused; no private or preshared key appears in hubd's
# log, hubctl status (text and JSON), metrics, reload or diff output.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"

need_wireguard
need_cmd nft perl sysctl
need_built "$HUBD" "$HUBCTL"

D=/etc/hubd/t75
SOCK=$D/control.sock
ctl() { "$HUBCTL" --config-dir "$D" --socket "$SOCK" "$@"; }

# req < FILE: send FILE's bytes as one control request (then half-close), print the reply.
req() {
	perl -MIO::Socket::UNIX -e '
		$SIG{PIPE} = "IGNORE";
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
		local $/; my $d = <STDIN>; print $s $d; shutdown($s, 1);
		my $r = <$s>; print defined $r ? $r : ""' "$SOCK"
}

log "namespaces: hub, phone1, phone2, home gateway and a LAN host behind it"
netns_new hub
netns_new phone1
netns_new phone2
netns_new home
netns_new lan
veth_pair hub veth-p1 phone1 veth-hub
veth_pair hub veth-p2 phone2 veth-hub
veth_pair hub veth-home home veth-hub
veth_pair home veth-lan lan veth-home
ip -n hub addr add 192.0.2.1/24 dev veth-p1
ip -n phone1 addr add 192.0.2.2/24 dev veth-hub
ip -n hub addr add 198.51.100.1/24 dev veth-p2
ip -n phone2 addr add 198.51.100.2/24 dev veth-hub
ip -n hub addr add 203.0.113.1/24 dev veth-home
ip -n home addr add 203.0.113.2/24 dev veth-hub
ip -n home addr add 192.168.1.1/24 dev veth-lan
ip -n lan addr add 192.168.1.100/24 dev veth-home
ip -n lan route add default via 192.168.1.1
ip netns exec home sysctl -qw net.ipv4.ip_forward=1

log "hub config: three peers, one with a preshared key"
hub_config "$D" wg0 10.8.0.1/24 "ListenPort = 51820" "Forward = hub"
hub_priv=$(<"$D/private.key")
hub_pub=$(wg pubkey <"$D/private.key")
declare -A priv pub
for s in phone1 phone2 home; do
	priv[$s]=$(wg genkey)
	pub[$s]=$(wg pubkey <<<"${priv[$s]}")
done
psk=$(wg genpsk)
mkdir -p "$D/psk"
(umask 077 && echo "$psk" >"$D/psk/phone1.psk")
peer_file "$D" phone1 "${pub[phone1]}" "10.8.0.2/32" "PresharedKeyFile = $D/psk/phone1.psk"
peer_file "$D" phone2 "${pub[phone2]}" "10.8.0.4/32"
peer_file "$D" home "${pub[home]}" "10.8.0.3/32, 192.168.1.0/24"
hubd_start hub "$D"
assert_eq 3 "$(wg_peers hub wg0)" "peers"

# spoke NS ADDRESS HUB_ENDPOINT ALLOWED [PSKFILE]: a real WireGuard spoke.
spoke() {
	local ns=$1 addr=$2 ep=$3 aips=$4
	ip -n "$ns" link add wg0 type wireguard
	ip netns exec "$ns" wg set wg0 private-key <(echo "${priv[$ns]}") peer "$hub_pub" \
		endpoint "$ep:51820" allowed-ips "$aips" ${5:+preshared-key "$5"}
	ip -n "$ns" addr add "$addr" dev wg0
	ip -n "$ns" link set wg0 up
}
spoke phone1 10.8.0.2/24 192.0.2.1 10.8.0.0/24,192.168.1.0/24 "$D/psk/phone1.psk"
spoke phone2 10.8.0.4/24 198.51.100.1 10.8.0.0/24,192.168.1.0/24
spoke home 10.8.0.3/24 203.0.113.1 10.8.0.0/24
ip -n phone1 route add 192.168.1.0/24 dev wg0
ip -n phone2 route add 192.168.1.0/24 dev wg0
for s in phone1 phone2 home; do
	wait_for ip netns exec "$s" ping -c 1 -W 1 10.8.0.1
done

log "Forward = hub: phone to phone and phone to LAN both work"
ip netns exec phone1 ping -c 1 -W 2 10.8.0.4 >/dev/null
ip netns exec phone1 ping -c 1 -W 2 192.168.1.100 >/dev/null
ip netns exec phone2 ping -c 1 -W 2 10.8.0.2 >/dev/null

log "Forward = isolate: phone to phone blocked, phone to LAN works"
sed -i 's/^Forward = hub$/Forward = isolate/' "$D/hubd.conf"
wait_for -t 10 eval 'ctl --json status | grep -q "\"forward\": \"isolate\""'
wait_for -t 10 eval 'ip netns exec hub nft list table inet hubd | grep -q "counter packets .* drop"'
ip netns exec phone1 ping -c 1 -W 2 192.168.1.100 >/dev/null
ip netns exec phone2 ping -c 1 -W 2 192.168.1.100 >/dev/null
ip netns exec phone1 ping -c 1 -W 2 10.8.0.1 >/dev/null
if ip netns exec phone1 ping -c 2 -W 1 10.8.0.4 >/dev/null; then fail "phone1 reached phone2"; fi
if ip netns exec phone2 ping -c 2 -W 1 10.8.0.2 >/dev/null; then fail "phone2 reached phone1"; fi
drops=$(ip netns exec hub nft list table inet hubd | awk '/drop/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
# At least one packet each way (under TCG a ping may send fewer than it was asked to).
[ "${drops:-0}" -ge 2 ] || fail "the isolate rule dropped ${drops:-0} packets, expected at least 2"
log "counted packets are no drift: a reload leaves the table and its counters as they are"
restores0=$(grep -c "table inet hubd: restore" "$D/hubd.log" || true)
ctl reload >/dev/null
after=$(ip netns exec hub nft list table inet hubd | awk '/drop/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
assert_eq "$restores0" "$(grep -c "table inet hubd: restore" "$D/hubd.log" || true)" "table restores"
[ "${after:-0}" -ge "$drops" ] || fail "the drop counter went from $drops to ${after:-0}: the table was replaced"
log "the LAN host reached by a phone answers from 192.168.1.100"
assert_contains "$(ip netns exec phone1 ping -c 1 -W 2 192.168.1.100)" "from 192.168.1.100" "LAN reply"

log "the control socket: root is served"
ctl status >/dev/null
log "nobody is refused by the socket's mode (0660 root)"
assert_eq "srw-rw----" "$(stat -c %A "$SOCK")" "socket mode"
rc=0
out=$(ctl_as 65534 65534 "$SOCK" status 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "nobody got a status: $out"
assert_contains "$out" "connect: Permission denied" "nobody, refused by the mode"
log "nobody is refused by hubd itself (SO_PEERCRED) when the mode would let it in"
chmod 0666 "$SOCK"
rc=0
out=$(ctl_as 65534 65534 "$SOCK" status 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "nobody got a status: $out"
assert_contains "$out" '"error":"permission denied"' "nobody, daemon's answer"
assert_not_contains "$out" "phone1" "nobody sees no peer"
rc=0
out=$(ctl_as 65534 65534 "$SOCK" reload 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "nobody got a reload: $out"
assert_contains "$out" '"error":"permission denied"' "nobody, reload"
chmod 0660 "$SOCK"

log "oversize and garbage requests are refused, and hubd keeps serving"
W=$D/req
mkdir -p "$W"
printf '%*s\n' 5000 '' | tr ' ' A >"$W/big"
head -c 100000 /dev/zero | tr '\0' '{' >"$W/huge"
{ printf '{"command":"status"%*s}\n' 5000 ''; } >"$W/bigjson"
printf 'garbage\n' >"$W/garbage"
head -c 300 /dev/urandom | tr -d '\n' >"$W/binary"
printf '{"command":"shutdown"}\n' >"$W/unknown"
printf '{"command":{"a":[[[[[[1]]]]]]}}\n' >"$W/deep"
printf '{"command":"status"}{"command":"reload"}\n' >"$W/two"
printf '{"command":"status"}\n' >"$W/ok"
assert_contains "$(req <"$W/big")" '"error":"request too large"' "5,000 bytes"
assert_contains "$(req <"$W/huge")" '"error":"request too large"' "100,000 bytes"
assert_contains "$(req <"$W/bigjson")" '"error":"request too large"' "valid JSON over 4,096 bytes"
assert_contains "$(req <"$W/garbage")" '"error":"malformed request"' "garbage"
assert_contains "$(req <"$W/binary")" '"ok":false' "binary"
assert_contains "$(req <"$W/unknown")" '"error":"unknown command"' "unknown command"
assert_contains "$(req <"$W/deep")" '"error":"malformed request"' "deep nesting"
assert_contains "$(req <"$W/two")" '"error":"malformed request"' "two requests"
assert_eq "" "$(req </dev/null)" "empty request: no answer"
assert_contains "$(req <"$W/ok")" '"ok":true' "a good request still works"
log "a client that sends nothing does not block others"
# What status costs here without it (hubctl's own start under TCG is most of it), the slowest
# of three: the bound is that plus 1 s, as for the slow clients below.
alone=0
for _ in 1 2 3; do
	t0=$(ms)
	ctl status >/dev/null
	t=$(($(ms) - t0))
	[ "$t" -gt "$alone" ] && alone=$t
done
perl -MIO::Socket::UNIX -e 'my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die; sleep 6' "$SOCK" &
cleanup _kill_wait $!
sleep 0.5
t0=$(ms)
ctl status >/dev/null
t=$(($(ms) - t0))
log "status: $alone ms alone, $t ms behind an idle client"
[ "$t" -lt $((alone + 1000)) ] || fail "status took $t ms behind an idle client ($alone ms alone)"
kill -0 "$HUBD_PID"

log "a private key with loose permissions is refused; the running state stays"
chmod 0640 "$D/private.key"
rc=0
out=$(ctl reload 2>&1) || rc=$?
assert_eq 1 "$rc" "reload exit with a 0640 key"
assert_contains "$out" "mode 0640" "reload names the mode"
wait_for grep -q "private.key has mode 0640" "$D/hubd.log"
assert_eq "$hub_pub" "$(ip netns exec hub wg show wg0 public-key)" "key kept"
assert_eq 3 "$(wg_peers hub wg0)" "peers kept"
ip netns exec phone1 ping -c 1 -W 2 192.168.1.100 >/dev/null
chmod 0600 "$D/private.key"
log "a private key not owned by root is refused"
chown 65534 "$D/private.key"
rc=0
out=$(ctl reload 2>&1) || rc=$?
assert_eq 1 "$rc" "reload exit with a key owned by nobody"
assert_contains "$out" "not root" "reload names the owner"
assert_eq "$hub_pub" "$(ip netns exec hub wg show wg0 public-key)" "key kept"
chown 0 "$D/private.key"
ctl reload >/dev/null

log "a preshared key with loose permissions: that peer keeps its last good config"
chmod 0644 "$D/psk/phone1.psk"
rc=0
out=$(ctl reload 2>&1) || rc=$?
assert_eq 1 "$rc" "reload exit with a 0644 preshared key"
assert_contains "$out" "phone1.conf:" "the peer file is named"
# One message for every way a preshared key file is unusable (a peer file learns nothing of it).
assert_contains "$out" "PresharedKeyFile is not a usable key file" "the reason"
assert_eq "$psk" "$(ip netns exec hub wg show wg0 preshared-keys | awk -v k="${pub[phone1]}" '$1 == k { print $2 }')" "psk kept"
ip netns exec phone1 ping -c 1 -W 2 10.8.0.1 >/dev/null
log "a new peer with a loose preshared key is not added"
new_pub=$(random_key)
(umask 022 && wg genpsk >"$D/psk/new.psk" 2>/dev/null)
peer_file "$D" new "$new_pub" "10.8.0.9/32" "PresharedKeyFile = $D/psk/new.psk"
wait_for grep -q "new.conf:4: PresharedKeyFile is not a usable key file" "$D/hubd.log"
lacks_peer hub wg0 "$new_pub" || fail "a peer with a world-readable preshared key was added"
rm "$D/peers.d/new.conf"
chmod 0600 "$D/psk/phone1.psk"
ctl reload >/dev/null

log "no key, private or preshared, in the log, status, metrics, reload or diff"
ip netns exec hub wg show wg0 preshared-keys | grep -qF "$psk" # the kernel does hold it
outputs=$(
	ctl status
	ctl --json status
	ctl metrics
	ctl reload
	ctl diff || true
	req <"$W/ok"
	cat "$D/hubd.log"
)
assert_contains "$outputs" "phone1" "the outputs name the peers"
assert_contains "$outputs" "${pub[phone1]}" "the outputs hold public keys"
hex() { base64 -d <<<"$1" | od -An -tx1 | tr -d ' \n'; }
for k in "$hub_priv" "$psk" "${priv[phone1]}" "${priv[phone2]}" "${priv[home]}"; do
	assert_not_contains "$outputs" "$k" "a secret key"
	assert_not_contains "$outputs" "${k//\//\\/}" "a secret key, JSON-escaped"
	assert_not_contains "$outputs" "$(hex "$k")" "a secret key in hex"
done
grep -q "config-error" "$D/hubd.log" || fail "the log holds no config-error events"
log "AllowedIPs holding the hub's own address are refused"
evil=$(random_keys 4)
mapfile -t evil <<<"$evil"
peer_file "$D" evil3 "${evil[2]}" "10.8.0.0/25" # narrower than the subnet, holds 10.8.0.1
peer_file "$D" evil4 "${evil[3]}" "10.8.0.1/32" # the hub's own address
rc=0
out=$(ctl reload 2>&1) || rc=$?
assert_eq 1 "$rc" "reload exit with peers holding the hub's address"
for i in 3 4; do
	assert_contains "$out" "evil$i.conf:3: AllowedIPs" "evil$i named"
	lacks_peer hub wg0 "${evil[i - 1]}" || fail "evil$i was added"
done
rm "$D"/peers.d/evil?.conf
ctl reload >/dev/null

log "AllowedIPs covering the hub's own addresses elsewhere, its gateways or its name servers are refused"
ip -n hub link add dummy7 type dummy
cleanup ip -n hub link del dummy7
ip -n hub addr add 10.77.0.1/24 dev dummy7
ip -n hub link set dummy7 up
ip -n hub route add 10.78.0.0/16 via 10.77.0.254 dev dummy7
ns=$(sed -n 's/^nameserver \([0-9.]*\)$/\1/p' /etc/resolv.conf | head -n 1)
peer_file "$D" evil1 "${evil[0]}" "10.77.0.0/24"  # an address of the hub's, not the tunnel's
peer_file "$D" evil2 "${evil[1]}" "10.77.0.254/32" # a gateway of the hub's routes
rc=0
out=$(ctl reload 2>&1) || rc=$?
assert_eq 1 "$rc" "reload exit with peers covering the hub's own traffic"
assert_contains "$out" "evil1.conf:3: AllowedIPs 10.77.0.0/24 covers 10.77.0.1, an address of this machine (dummy7)" "evil1 named"
assert_contains "$out" "evil2.conf:3: AllowedIPs 10.77.0.254/32 covers 10.77.0.254, the gateway of one of this machine's routes (dummy7)" "evil2 named"
assert_contains "$(ip netns exec hub "$HUBCTL" --config-dir "$D" check 2>&1 || true)" \
	"evil1.conf:3: AllowedIPs 10.77.0.0/24 covers 10.77.0.1" "hubctl check in the hub's namespace agrees"
for i in 1 2; do
	lacks_peer hub wg0 "${evil[i - 1]}" || fail "evil$i was added"
done
if [ -n "$ns" ]; then
	rm "$D"/peers.d/evil?.conf
	peer_file "$D" evil1 "${evil[0]}" "$ns/32"
	out=$(ctl reload 2>&1 || true)
	case $ns in
	10.* | 172.1[6-9].* | 172.2?.* | 172.3[01].* | 192.168.*)
		assert_contains "$out" "evil1.conf:3: AllowedIPs $ns/32 covers $ns, a name server of this machine" "the name server" ;;
	*) log "the name server $ns lies outside PeerRoutes: refused for that already" ;;
	esac
	lacks_peer hub wg0 "${evil[0]}" || fail "a peer took the name server's address"
fi
rm "$D"/peers.d/evil?.conf
ctl reload >/dev/null

log "a new peer file overlapping a running peer's AllowedIPs is refused; the running peer keeps them"
peer_file "$D" evil1 "${evil[0]}" "10.8.0.2/32"    # phone1's address
peer_file "$D" evil2 "${evil[1]}" "192.168.0.0/16" # contains home's LAN
rc=0
out=$(ctl reload 2>&1) || rc=$?
assert_eq 1 "$rc" "reload exit with overlapping peers"
sleep 3 # reconciles that follow (kernel notifications) must not move the prefixes either
for i in 1 2; do
	lacks_peer hub wg0 "${evil[i - 1]}" || fail "evil$i was added: $out"
done
assert_eq "10.8.0.2/32" "$(wg_aips hub wg0 "${pub[phone1]}")" "phone1 kept its address"
assert_eq "10.8.0.3/32 192.168.1.0/24" "$(wg_aips hub wg0 "${pub[home]}")" "home kept its LAN"
lacks_route hub 192.168.0.0/16 || fail "a route for evil2's prefix"
assert_eq 3 "$(wg_peers hub wg0)" "peers"
ip netns exec phone1 ping -c 1 -W 2 192.168.1.100 >/dev/null
rm "$D"/peers.d/evil?.conf
ctl reload >/dev/null

log "slow and idle control clients delay no one: 150 more peers, for a status reply of ~45 kB"
mkdir -p "$D/bulk"
mapfile -t bulk < <(random_keys 150)
pad=padding-so-that-the-status-reply-is-long-enough-for-the-test
for ((i = 0; i < 150; i++)); do
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.8.0.%d/32\n' "${bulk[i]}" $((i + 100)) >"$D/bulk/$pad-$i.conf"
done
mv "$D"/bulk/*.conf "$D/peers.d/"
wait_for -t 60 peers_are hub wg0 153
# Under TCG a status of 153 peers alone may take more than a second: the bound below is that
# time plus one second (natively, within one second).
base=999999
for _ in 1 2; do
	t0=$(ms)
	ctl status >/dev/null
	t=$(($(ms) - t0))
	[ "$t" -ge "$base" ] || base=$t
done
log "status with 153 peers: $base ms"
# apply_ms NAME PREFIX: write a peer file, print the ms until its route is in (the same
# process costs as the measurement behind the slow clients: the bound is this plus 1 s).
apply_ms() {
	local t0
	t0=$(ms)
	peer_file "$D" "$1" "$(random_key)" "$2"
	until ip -n hub route show "$2" proto 150 | grep -q "dev wg0"; do
		[ $(($(ms) - t0)) -lt 20000 ] || break
	done
	echo $(($(ms) - t0))
}
base_apply=$(apply_ms probe0 10.30.0.1/32)
log "a new peer file applied in $base_apply ms"
full=$(req <"$W/ok" | wc -c)
# The daemon's end of a connection takes net.core.wmem_default as its send buffer: at its
# minimum (8 kB) for the slow reader, so that its reply cannot sit whole in the socket (at
# the default, ~200 kB, that would take 1,000 peers, whose status alone costs seconds under
# TCG). Global, so it is set back as soon as the slow reader is connected.
wmem=$(sysctl -n net.core.wmem_default)
cleanup sysctl -qw net.core.wmem_default="$wmem"
sysctl -qw net.core.wmem_default=8192
log "a slow reader: asks for status ($full bytes), takes 4 kB every 1.5 s for 12 s, then the rest"
perl -MIO::Socket::UNIX -MTime::HiRes=sleep,time -e '
	$SIG{PIPE} = "IGNORE";
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
	print $s "{\"command\":\"status\"}\n";
	my ($got, $t0, $buf, $n) = (0, time);
	while (time - $t0 < 12 && ($n = sysread($s, $buf, 4096))) {
		open(my $m, ">", $ARGV[2]) or die unless $got;
		$got += $n;
		sleep 1.5;
	}
	$got += $n while $n && ($n = sysread($s, $buf, 65536));
	open my $out, ">", $ARGV[1] or die;
	print $out "$got\n"' "$SOCK" "$W/slow" "$W/slow-reading" &
slow=$!
cleanup _kill_wait $slow
wait_for -t 20 test -e "$W/slow-reading"
sysctl -qw net.core.wmem_default="$wmem"
log "and 100 idle connections"
perl -MIO::Socket::UNIX -e '
	my @c;
	for (1 .. 100) { push @c, IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect $_: $!\n" }
	open my $out, ">", $ARGV[1] or die; close $out;
	sleep 30' "$SOCK" "$W/flood" &
cleanup _kill_wait $!
wait_for -t 20 test -e "$W/flood"
t0=$(ms)
ctl status >/dev/null
t=$(($(ms) - t0))
log "status behind a slow reader and 100 idle clients: $t ms"
[ "$t" -lt $((base + 1000)) ] || fail "status took $t ms behind a slow reader and 100 idle clients"
t=$(apply_ms probe 10.30.0.2/32)
log "a new peer file applied behind them in $t ms"
[ "$t" -lt $((base_apply + 1000)) ] || fail "a new peer file took $t ms to apply behind a slow reader and 100 idle clients"
log "the slow reader was cut off at the reply's deadline (10 s): it never got the whole reply"
wait "$slow" || fail "the slow reader failed"
got=$(<"$W/slow")
log "the slow reader got $got of $full bytes"
[ "$got" -lt "$full" ] || fail "the slow reader got the whole reply after the deadline"
ctl status >/dev/null

kill -0 "$HUBD_PID"
hubd_stop
ip netns exec hub "$HUBD" --down --config-dir "$D"
