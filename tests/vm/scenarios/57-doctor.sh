#!/bin/bash
# hubctl doctor in the seed topology (topology.sh): hub, home gateway behind NAT, phone,
# LAN host. First everything works and doctor says so on both machines; then each
# pitfall of the seed plan's troubleshooting list is made true, one at a time, doctor
# must name it by its ID (SPEC.md, "Doctor"), and once it is undone doctor is happy
# again. Where the pitfall is one that users meet as "the page does not load", the
# scenario checks that the traffic really fails too.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"
source "$HUBD_SRCDIR/tests/vm/topology.sh"

need_wireguard
need_cmd nft iptables-nft curl busybox wg-quick
need_built "$HUBD" "$HUBCTL"

HUB=/etc/hubd/hub
GW=/etc/hubd/gw
W=/tmp/doctor
mkdir -p "$W/www"
URL="http://$TOPO_LAN_HOST/"

# doctor NS DIR: hubctl doctor for DIR in NS; sets OUT (its output) and RC. A name that
# does not resolve must fail fast: there is no name server here.
doctor() {
	RC=0
	OUT=$(ip netns exec "$1" env RES_OPTIONS="timeout:1 attempts:1" \
		"$HUBCTL" --config-dir "$2" --socket "$2/control.sock" doctor 2>&1) || RC=$?
}

# line SEV ID [TEXT]: the last doctor's line for ID has severity SEV (and holds TEXT).
line() {
	local l
	l=$(grep -E "^$1 +$2 " <<<"$OUT") || fail "no '$1 $2' line in:"$'\n'"$OUT"
	[ -z "${3:-}" ] || assert_contains "$l" "$3" "doctor's $2 line"
}

# fails NS DIR SEV ID [TEXT]: doctor names the pitfall; FAIL exits 1, a warning 0.
fails() {
	doctor "$1" "$2"
	line "$3" "$4" "${5:-}"
	assert_eq "$([ "$3" = FAIL ] && echo 1 || echo 0)" "$RC" "doctor's exit code on $1"
}

# all_ok NS DIR: nothing fails, exit 0 (warnings of no consequence here are allowed).
all_ok() {
	doctor "$1" "$2"
	[ "$RC" = 0 ] || fail "doctor on $1 exited $RC:"$'\n'"$OUT"
	assert_not_contains "$OUT" "FAIL" "doctor on $1"
	assert_eq 14 "$(grep -cE '^(ok|warn|FAIL) ' <<<"$OUT")" "one line per check on $1"
}

page() { ip netns exec phone curl -sS --max-time "${1:-10}" "$URL"; }
no_page() { ! page 4; }
hub_reload() { "$HUBCTL" --config-dir "$HUB" --socket "$HUB/control.sock" reload >/dev/null; }
gw_reload() { "$HUBCTL" --config-dir "$GW" --socket "$GW/control.sock" reload >/dev/null; }
gw_masquerades() { ip netns exec gw nft list table inet hubd | grep -q masquerade; }
mtu_is() { ip -n "$1" -o link show wg0 | grep -q "mtu $2 "; }

log "the seed topology, hub and gateway running hubd, the phone from hubctl peer add"
topo_namespaces
echo "<h1>home LAN</h1>" >"$W/www/index.html"
topo_lanhost "$W/www"
topo_hub_config "$HUB"
topo_gw_config "$GW" "$HUB"
# The gateway re-checks nothing by itself here, so that a sysctl turned off stays off
# while doctor looks (hubd turns forwarding back on at its next full reconcile).
sed -i 's/^HealthInterval = 2$/HealthInterval = 3600/' "$GW/hubd.conf"
hubd_start hub "$HUB"
hubd_start gw "$GW"
GW_HUBD=$HUBD_PID
wait_for ip netns exec gw ping -c 1 -W 1 10.8.0.1
"$HUBCTL" --config-dir "$HUB" peer add phone --output "$W/phone.conf" --qr none >/dev/null
topo_phone_up "$W/phone.conf"
wait_for page

log "all ok on both machines"
all_ok hub "$HUB"
line ok firewall-forward "wg0"
line ok handshakes "1 site or keepalive peer, all up"
all_ok gw "$GW"
line ok return-path "masqueraded into 192.168.1.0/24 on eth0"
line ok public-endpoint "a gateway"

log "1. forwarding off on the gateway"
ip netns exec gw sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
fails gw "$GW" FAIL forwarding "IPv4 forwarding is off"
ip netns exec gw sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
all_ok gw "$GW"

log "2. Docker's FORWARD policy DROP on the hub (the rules dockerd adds, by iptables-nft)"
ip netns exec hub sh -e <<-'EOF'
	ipt=iptables-nft
	$ipt -t nat -N DOCKER
	$ipt -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
	$ipt -N DOCKER
	$ipt -N DOCKER-ISOLATION-STAGE-1
	$ipt -N DOCKER-ISOLATION-STAGE-2
	$ipt -N DOCKER-USER
	$ipt -P FORWARD DROP
	$ipt -A FORWARD -j DOCKER-USER
	$ipt -A FORWARD -j DOCKER-ISOLATION-STAGE-1
	$ipt -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	$ipt -A FORWARD -o docker0 -j DOCKER
	$ipt -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
	$ipt -A FORWARD -i docker0 -o docker0 -j ACCEPT
	$ipt -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
	$ipt -A DOCKER-ISOLATION-STAGE-1 -j RETURN
	$ipt -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
	$ipt -A DOCKER-ISOLATION-STAGE-2 -j RETURN
	$ipt -A DOCKER-USER -j RETURN
EOF
no_page || fail "the phone still reaches the LAN host through Docker's FORWARD DROP"
fails hub "$HUB" FAIL firewall-forward "table ip filter chain FORWARD drops new traffic from wg0 to wg0"
line FAIL firewall-forward "iptables -I DOCKER-USER -i wg0 -j ACCEPT"
log "   the fix doctor prints makes it work"
ip netns exec hub iptables-nft -I DOCKER-USER -i wg0 -j ACCEPT
ip netns exec hub iptables-nft -I DOCKER-USER -o wg0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
all_ok hub "$HUB"
wait_for page
ip netns exec hub nft delete table ip filter
ip netns exec hub nft delete table ip nat

log "3. an input chain that drops UDP 51820 on the hub"
ip netns exec hub nft -f - <<-'EOF'
	table inet filter {
		chain input {
			type filter hook input priority filter; policy drop;
			ct state established,related accept
			iif "lo" accept
			tcp dport 22 accept
		}
	}
EOF
fails hub "$HUB" FAIL firewall-input "table inet filter chain input drops UDP to port 51820 (its policy drop)"
line FAIL firewall-input "nft insert rule inet filter input udp dport 51820 accept"
ip netns exec hub nft delete table inet filter
all_ok hub "$HUB"

log "4. a more specific route that takes half the LAN away from wg0 on the hub"
ip -n hub route add 192.168.1.0/25 via 203.0.113.254
fails hub "$HUB" FAIL routes "192.168.1.0/25 dev eth0 takes part of 192.168.1.0/24 (home) away from wg0"
ip -n hub route del 192.168.1.0/25
all_ok hub "$HUB"

log "5. the gateway's Endpoint for the hub does not resolve"
peer_file "$GW" hub "$HUB_PUB" "10.8.0.0/24" "Endpoint = hub.invalid:51820" "PersistentKeepalive = 25"
fails gw "$GW" FAIL endpoints "hub's Endpoint hub.invalid does not resolve"
peer_file "$GW" hub "$HUB_PUB" "10.8.0.0/24" "Endpoint = $TOPO_HUB_IP:51820" "PersistentKeepalive = 25"
gw_reload
wait_for ip netns exec gw ping -c 1 -W 1 10.8.0.1
all_ok gw "$GW"

log "6. a site that never connected"
OFFICE=$(random_key)
peer_file "$HUB" office "$OFFICE" "10.8.0.9/32, 192.168.2.0/24"
wait_for has_peer hub wg0 "$OFFICE"
fails hub "$HUB" FAIL handshakes "office never shook hands"
assert_not_contains "$(grep -E '^FAIL +handshakes' <<<"$OUT")" "home" "only the site that never connected"
rm "$HUB/peers.d/office.conf"
wait_for lacks_peer hub wg0 "$OFFICE"
all_ok hub "$HUB"

log "7. a gateway without masquerade: the LAN host answers to its router"
sed -i '/^Masquerade = eth0$/d' "$GW/hubd.conf"
gw_reload
wait_for -t 10 sh -c '! ip netns exec gw nft list table inet hubd | grep -q masquerade'
no_page || fail "the page loaded without masquerade on the gateway"
fails gw "$GW" FAIL return-path "192.168.1.0/24 on eth0 is not masqueraded"
echo "Masquerade = eth0" >>"$GW/hubd.conf"
gw_reload
wait_for gw_masquerades
wait_for page
all_ok gw "$GW"

log "8. a gateway without keepalive"
peer_file "$GW" hub "$HUB_PUB" "10.8.0.0/24" "Endpoint = $TOPO_HUB_IP:51820"
gw_reload
fails gw "$GW" warn keepalive "hub has an Endpoint but no PersistentKeepalive"
peer_file "$GW" hub "$HUB_PUB" "10.8.0.0/24" "Endpoint = $TOPO_HUB_IP:51820" "PersistentKeepalive = 25"
gw_reload
doctor gw "$GW"
line ok keepalive

log "9. MTU 1500 over a 1500 uplink on the hub"
echo "MTU = 1500" >>"$HUB/hubd.conf"
hub_reload
wait_for mtu_is hub 1500
fails hub "$HUB" warn mtu "wg0 MTU 1500 leaves 0 bytes under eth0's 1500"
sed -i '/^MTU = 1500$/d' "$HUB/hubd.conf"
hub_reload
wait_for mtu_is hub 1420
doctor hub "$HUB"
line ok mtu

log "10. the gateway's daemon stopped: the checks that need none still run"
HUBD_PID=$GW_HUBD
hubd_stop
fails gw "$GW" FAIL daemon "hubd does not answer"
line ok link "wg0 is up"
line ok forwarding
line ok return-path
line ok handshakes
hubd_start gw "$GW"
wait_for ip netns exec gw ping -c 1 -W 1 10.8.0.1

log "all ok again on both machines"
wait_for page
all_ok hub "$HUB"
all_ok gw "$GW"
