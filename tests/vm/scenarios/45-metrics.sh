#!/bin/bash
# MetricsListen: hubd serves GET /metrics on the hub's tunnel address only. A home
# gateway that handshakes and a peer that never does; the compatible wireguard_*
# series have the right values; 404 and 405; nothing answers on the hub's other
# addresses; the text is hubctl metrics'; no key in it; a reload moves the listener, and
# a bad MetricsListen keeps the last good one; 300 idle half-written requests and a 1 MB
# header neither stop a peer file from applying within 2 s nor hubctl status; a real
# Prometheus scrapes it through the tunnel (up == 1, both peers); while a client reads a
# scrape of 400 more peers very slowly, a peer file applies and a status request is
# answered about as fast as without it, and hubd does not spin.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"
source "$HUBD_SRCDIR/tests/vm/topology.sh"

need_wireguard
need_cmd curl perl jq prometheus
need_built "$HUBD" "$HUBCTL"

HUB=/etc/hubd/hub
GW=/etc/hubd/gw
W=/tmp/t45
mkdir -p "$W"
S=$HUB/control.sock
URL=http://10.8.0.1:9586/metrics

log "the seed topology; the hub serves metrics on its tunnel address"
topo_namespaces
topo_hub_config "$HUB"
echo "MetricsListen = 10.8.0.1:9586" >>"$HUB/hubd.conf"
topo_gw_config "$GW" "$HUB"
# A peer that never shakes hands, with a preshared key that must never show.
ghost=$(random_key)
(umask 077 && wg genpsk >"$HUB/ghost.psk")
peer_file "$HUB" ghost "$ghost" "10.8.0.9/32, fd00:8::9/128" "PresharedKeyFile = $HUB/ghost.psk"
hubd_start hub "$HUB"
HUB_PID=$HUBD_PID
hubd_start gw "$GW"
wait_for ip netns exec gw ping -c 1 -W 1 10.8.0.1
ip netns exec gw ping -c 3 -i 0.2 -q 10.8.0.1 >/dev/null

# gcurl ARGS...: curl from the gateway, through the tunnel.
gcurl() { ip netns exec gw curl -sS --max-time 10 "$@"; }
code() { ip netns exec "$1" curl -s --max-time 10 -o /dev/null -w '%{http_code}' "${@:2}" || true; }

log "GET /metrics through the tunnel: 200, text/plain; version=0.0.4"
gcurl -D "$W/headers" -o "$W/m1" "$URL"
assert_contains "$(head -n 1 "$W/headers")" " 200" "status line"
assert_contains "$(grep -i '^content-type:' "$W/headers")" "text/plain; version=0.0.4" "content type"
m=$(<"$W/m1")
now=$(date +%s)

log "the compatible series: values"
val() { awk -v s="$1" 'index($0, s "} ") == 1 { print $NF }' <<<"$m"; }
dev='device="wg0"'
assert_contains "$m" "wireguard_device_info{$dev,public_key=\"$HUB_PUB\"} 1" "device info"
assert_contains "$m" "wireguard_peer_info{$dev,endpoint=\"" "peer info"
assert_contains "$m" "name=\"home\",public_key=\"$GW_PUB\"} 1" "the gateway's name"
assert_contains "$m" "wireguard_peer_info{$dev,endpoint=\"\",name=\"ghost\",public_key=\"$ghost\"} 1" \
	"the never-seen peer's info"
assert_contains "$m" "wireguard_peer_allowed_ips_info{allowed_ips=\"192.168.1.0/24\",$dev,family=\"IPv4\",public_key=\"$GW_PUB\"} 1" \
	"the gateway's LAN"
assert_contains "$m" "wireguard_peer_allowed_ips_info{allowed_ips=\"fd00:8::9/128\",$dev,family=\"IPv6\",public_key=\"$ghost\"} 1" \
	"an IPv6 allowed IP"
rx=$(val "wireguard_peer_receive_bytes_total{$dev,public_key=\"$GW_PUB\"")
tx=$(val "wireguard_peer_transmit_bytes_total{$dev,public_key=\"$GW_PUB\"")
hs=$(val "wireguard_peer_last_handshake_seconds{$dev,public_key=\"$GW_PUB\"")
[ "${rx:-0}" -gt 0 ] || fail "the gateway's received bytes: '$rx'"
[ "${tx:-0}" -gt 0 ] || fail "the gateway's transmitted bytes: '$tx'"
[ "${hs:-0}" -gt $((now - 300)) ] && [ "$hs" -le $((now + 5)) ] ||
	fail "the gateway's last handshake $hs is not a timestamp within minutes of $now"
assert_eq 0 "$(val "wireguard_peer_last_handshake_seconds{$dev,public_key=\"$ghost\"")" "never-seen handshake"
assert_eq 0 "$(val "wireguard_peer_receive_bytes_total{$dev,public_key=\"$ghost\"")" "never-seen bytes"
assert_contains "$m" 'hubd_peer_up{interface="wg0",peer="home"} 1' "hubd's own series alongside"

log "the same text as hubctl metrics (values aside: time passes)"
series() { grep -v '^#' | sed 's/ [^ ]*$//' | sort; }
diff <(series <<<"$m") <("$HUBCTL" --socket "$S" metrics | series) || fail "HTTP and hubctl differ"
diff <(grep '^#' <<<"$m") <("$HUBCTL" --socket "$S" metrics | grep '^#') || fail "HELP/TYPE differ"

log "no key in the output"
for k in "$(<"$HUB/private.key")" "$(<"$GW/private.key")" "$(<"$HUB/ghost.psk")"; do
	assert_not_contains "$m" "$k" "a private or preshared key"
done

log "404 for other paths, 405 for other methods"
assert_eq 404 "$(code gw http://10.8.0.1:9586/)" "GET /"
assert_eq 404 "$(code gw http://10.8.0.1:9586/metrics/x)" "GET /metrics/x"
assert_eq 405 "$(code gw -X POST -d x=1 "$URL")" "POST /metrics"
assert_eq 405 "$(code gw -X DELETE "$URL")" "DELETE /metrics"
assert_contains "$(gcurl -o /dev/null -D - -X PUT "$URL")" "Allow: GET" "405 names the method"

log "nothing answers on the hub's other addresses"
assert_eq 000 "$(code inet "http://$TOPO_HUB_IP:9586/metrics")" "the public address, from outside"
assert_eq 000 "$(code hub "http://$TOPO_HUB_IP:9586/metrics")" "the public address, from the hub"
assert_eq 000 "$(code hub http://127.0.0.1:9586/metrics)" "loopback"
assert_eq 200 "$(code hub "$URL")" "the tunnel address, from the hub itself"

log "a bad MetricsListen is a file:line error and keeps the last good listener"
cp "$HUB/hubd.conf" "$W/hubd.conf.good"
sed -i 's/^MetricsListen = .*/MetricsListen = metrics.example:9586/' "$HUB/hubd.conf"
line=$(grep -n '^MetricsListen' "$HUB/hubd.conf" | cut -d: -f1)
set +e
out=$("$HUBCTL" --socket "$S" reload 2>&1)
set -e
assert_contains "$out" "hubd.conf:$line: MetricsListen must be an IP address and a port" "the error"
assert_eq 200 "$(code gw "$URL")" "the last good listener after a bad value"

log "a reload moves the listener; off stops it"
sed 's/^MetricsListen = .*/MetricsListen = 10.8.0.1:9587/' "$W/hubd.conf.good" >"$HUB/hubd.conf"
"$HUBCTL" --socket "$S" reload >/dev/null
assert_eq 200 "$(code gw http://10.8.0.1:9587/metrics)" "the new port"
assert_eq 000 "$(code gw "$URL")" "the old port"
sed 's/^MetricsListen = .*/MetricsListen = off/' "$W/hubd.conf.good" >"$HUB/hubd.conf"
"$HUBCTL" --socket "$S" reload >/dev/null
assert_eq 000 "$(code gw http://10.8.0.1:9587/metrics)" "off"
cp "$W/hubd.conf.good" "$HUB/hubd.conf"
"$HUBCTL" --socket "$S" reload >/dev/null
assert_eq 200 "$(code gw "$URL")" "back on 9586"

# apply_ms NAME KEY LAN: write a peer file routing LAN and print the milliseconds from its
# rename to hubd's route for LAN (which follows the peer itself), as the kernel stamps its
# notification. The rename and its clock reading are one perl call, and nothing polls: a
# process costs ~0.3 s under TCG, and would be measured instead of hubd.
apply_ms() {
	local mon=$W/monitor.$1 t0 line i
	ip -n hub -ts monitor route >"$mon" &
	local pid=$!
	sleep 1
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s\n' "$2" "$3" >"$HUB/peers.d/.$1.tmp"
	t0=$(perl -MTime::HiRes=time -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!";
		printf "%d", time() * 1e6' "$HUB/peers.d/.$1.tmp" "$HUB/peers.d/$1.conf")
	for ((i = 0; i < 600; i++)); do
		line=$(grep -m 1 "^\[.*\] $3 dev wg0" "$mon") && break
		sleep 0.1
	done
	kill "$pid"
	wait "$pid" || true
	[ -n "$line" ] || fail "no route for $1's $3 within 60 s"
	line=${line#[}
	echo $((($(date -d "${line%%]*}" +%s%6N) - t0) / 1000))
}
base=$(apply_ms early "$(random_key)" 192.168.51.0/24)
# CPU ticks (user + system) the hub's hubd uses in 3 s: a server that spun on its clients
# would show during the flood, even where the figures below still pass.
ticks() { awk '{ print $14 + $15 }' "/proc/$HUB_PID/stat"; }
cpu3() {
	local c0
	c0=$(ticks)
	sleep 3
	echo $(($(ticks) - c0))
}
hz=$(getconf CLK_TCK)
quiet=$(cpu3)
# status_ms: milliseconds from connecting to the control socket to the whole status reply,
# timed inside one perl (hubctl's own start costs seconds under TCG with sanitizers).
status_ms() {
	perl -MIO::Socket::UNIX -MTime::HiRes=time -e '
		my $t0 = time();
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!";
		print $s "{\"command\":\"status\"}\n";
		local $/;
		my $r = <$s>;
		die "no status reply" unless defined $r && $r =~ /"ok":\s*true/;
		printf "%d\n", (time() - $t0) * 1000;
	' "$S"
}
status_base=$(status_ms)

log "a 1 MB header and 300 idle half-written requests"
# One client sends a 1 MB header and reads what it gets back; then 300 clients each send
# half a request and stay silent, holding their connections for 40 s.
background ip netns exec hub perl -MIO::Socket::INET -e '
	$SIG{PIPE} = "IGNORE";
	$| = 1;
	my ($host, $port, $ready) = @ARGV;
	my $big = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port) or die "big: $!";
	my $req = "GET /metrics HTTP/1.1\r\nHost: hub\r\nX-Big: " . ("a" x (1 << 20)) . "\r\n\r\n";
	my $off = 0;
	while ($off < length($req)) {
		my $n = syswrite($big, $req, 65536, $off);
		last unless defined $n && $n > 0;
		$off += $n;
	}
	my $answer = <$big> // "(closed)";
	$answer =~ s/\r?\n$//;
	print "1 MB header: sent $off bytes, answer: $answer\n";
	# Connected without waiting: past the cap of the server, connections queue in the
	# kernel, and a blocking connect would wait for each in turn.
	my ($idle, $written) = (0, 0);
	my @idle;
	for (1 .. 300) {
		my $c = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Blocking => 0)
			or next;
		$idle++;
		push @idle, $c;
	}
	sleep 1;
	for my $c (@idle) {
		my $n = syswrite($c, "GET /metrics HTTP/1.1\r\nHost: hub\r\nX-Half: ");
		$written++ if defined $n && $n > 0;
	}
	print "$idle idle connections, $written with half a request\n";
	open(my $f, ">", $ready) and close($f);
	sleep 60;
' 10.8.0.1 9586 "$W/flood.ready" >"$W/flood.log" 2>&1
flood=$!
wait_for -t 60 test -e "$W/flood.ready"
cat "$W/flood.log"
assert_contains "$(<"$W/flood.log")" "300 idle connections" "the flood's connections"
assert_not_contains "$(<"$W/flood.log")" " 0 with half a request" "the flood's requests"
assert_not_contains "$(<"$W/flood.log")" "answer: HTTP/1.1 200" "a 1 MB header was served"
busy=$(cpu3)
log "hubd used $busy of $((3 * hz)) CPU ticks in 3 s of the flood ($quiet before it)"
[ "$busy" -lt $((3 * hz / 2)) ] || fail "hubd spins during the flood"
dt=$(apply_ms late "$(random_key)" 192.168.52.0/24)
log "during the flood, a peer file applied in $dt ms (before it: $base ms)"
[ "$dt" -le 2000 ] || fail "a peer file took $dt ms to apply during the flood"
st=$("$HUBCTL" --socket "$S" status)
assert_contains "$st" "late" "hubctl status during the flood"
dt=$(status_ms)
log "during the flood, the status request was answered in $dt ms (before it: $status_base ms)"
[ "$dt" -le 2000 ] || fail "the status request took $dt ms during the flood"
# Once the clients are gone, scrapes are served again.
kill "$flood"
scrape_ok() { [ "$(code gw "$URL")" = 200 ]; }
for ((i = 0; i < 10; i++)); do
	! scrape_ok || break
	ip netns exec hub ss -tan '( sport = :9586 )' | awk '{ print $1, $2 }' | sort | uniq -c
done
scrape_ok || fail "no scrape served after the flood"

log "a real Prometheus scrapes the hub through the tunnel"
cat >"$W/prometheus.yml" <<-EOF
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: hubd
	    static_configs:
	      - targets: ['10.8.0.1:9586']
EOF
background ip netns exec gw prometheus --config.file="$W/prometheus.yml" \
	--storage.tsdb.path="$W/prom" --web.listen-address=127.0.0.1:9090 >"$W/prom.log" 2>&1
prom=$!
query() { gcurl -G --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query 2>/dev/null; }
up_is_1() { [ "$(query 'up{job="hubd"}' | jq -r '.data.result[0].value[1]' 2>/dev/null)" = 1 ]; }
for ((i = 0; i < 600; i++)); do
	! up_is_1 || break
	sleep 0.2
done
up_is_1 || fail "Prometheus has no up == 1 for hubd:"$'\n'"$(tail -n 20 "$W/prom.log")"
peers=$(query 'wireguard_peer_info{job="hubd"}' | jq -r '[.data.result[].metric.name] | sort | join(" ")')
assert_eq "early ghost home late" "$peers" "the peers that Prometheus sees"
kill "$prom"

log "a scrape read very slowly: the loop goes on"
# 400 more peers make a text of ~450 KB, many times what the slow client's socket holds
# (its receive buffer is 4 KiB): hubd hands it out slice by slice as the client reads, and
# between slices its loop serves everything else.
n=0
while read -r key; do
	printf '[Peer]\nPublicKey = %s\nAllowedIPs = 10.9.%d.%d/32\n' "$key" $((n / 250)) \
		$((n % 250 + 1)) >"$HUB/peers.d/bulk$n.conf"
	n=$((n + 1))
done < <(random_keys 400)
kernel_peers_ge() { [ "$(ip netns exec hub wg show wg0 peers | wc -l)" -ge "$1" ]; }
wait_for -t 120 kernel_peers_ge 404
# Served at the pace of the socket, not of a timer: a slice waiting for sd-event's default
# timer accuracy (250 ms) made this take seconds.
t=$(gcurl -o "$W/big" -w '%{time_total}' "$URL")
whole=$(wc -c <"$W/big")
log "the text: $whole bytes in $t s"
awk -v t="$t" 'BEGIN { exit !(t <= 3) }' || fail "a scrape of $whole bytes took $t s"
[ "$whole" -gt 300000 ] || fail "a text of $whole bytes would fit in the socket buffers"
base=$(apply_ms slow-base "$(random_key)" 192.168.53.0/24)
status_base=$(status_ms)
quiet=$(cpu3)
background ip netns exec hub perl -MSocket -MTime::HiRes=sleep -e '
	my ($host, $port, $progress) = @ARGV;
	socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096) or die "SO_RCVBUF: $!";
	connect($s, pack_sockaddr_in($port, inet_aton($host))) or die "connect: $!";
	syswrite($s, "GET /metrics HTTP/1.1\r\nHost: hub\r\n\r\n") or die "write: $!";
	my ($got, $buf) = (0, "");
	while (my $n = sysread($s, $buf, 256)) { # about 2.5 KB/s
		$got += $n;
		open(my $f, ">", "$progress.tmp") or die; print $f "$got\n"; close($f);
		rename("$progress.tmp", $progress);
		sleep(0.1);
	}
' 10.8.0.1 9586 "$W/slow.progress"
slow=$!
wait_for test -s "$W/slow.progress"
busy=$(cpu3)
log "hubd used $busy of $((3 * hz)) CPU ticks in 3 s of the slow scrape ($quiet before it)"
[ "$busy" -lt $((3 * hz / 2)) ] || fail "hubd spins while a client reads slowly"
dt=$(apply_ms slow "$(random_key)" 192.168.54.0/24)
log "during the slow scrape, a peer file applied in $dt ms (before it: $base ms)"
[ "$dt" -le $((base + 1000)) ] || fail "a peer file took $dt ms to apply during the slow scrape"
dt=$(status_ms)
log "during the slow scrape, status was answered in $dt ms (before it: $status_base ms)"
[ "$dt" -le $((status_base + 1000)) ] || fail "status took $dt ms during the slow scrape"
got=$(<"$W/slow.progress")
log "the slow client has read $got of about $whole bytes"
kill -0 "$slow" 2>/dev/null || fail "the slow client is gone: its scrape ended early"
[ "$got" -lt $((whole / 2)) ] || fail "the slow scrape was not in progress ($got bytes read)"
kill "$slow"
assert_eq 200 "$(code gw "$URL")" "a scrape after the slow one"
