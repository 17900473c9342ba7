#!/bin/bash
# Onboarding (issue 18): a hub made by "hubctl init" alone, and the home gateway onboarded
# by "hubctl peer add home --lan", once with its wg-quick output (a real "wg-quick up" in
# the gateway's namespace: forwarding and masquerade come from its PostUp, and go with
# its PostDown) and once with its hubd directory (Masquerade = the LAN's prefix). Each
# time the phone fetches a page from a LAN host whose default route is the home router,
# so the page comes back only if the gateway masquerades into the LAN.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"
source "$HUBD_SRCDIR/tests/vm/topology.sh"

need_wireguard
need_cmd nft curl busybox wg-quick
need_built "$HUBD" "$HUBCTL"

HUB=/etc/hubd/hub
GW=/etc/hubd/gw
W=/tmp/onboard
mkdir -p "$W/www/cgi-bin"
hc() { "$HUBCTL" --config-dir "$HUB" "$@"; }

topo_namespaces
echo "<h1>home LAN</h1>" >"$W/www/index.html"
cat >"$W/www/cgi-bin/whoami" <<'CGI'
#!/bin/sh
a=${REMOTE_ADDR#"[::ffff:"}
printf 'Content-Type: text/plain\r\n\r\nfrom %s\n' "${a%"]"}"
CGI
chmod 755 "$W/www/cgi-bin/whoami"
topo_lanhost "$W/www"
assert_contains "$(ip -n lanhost route show default)" "via 192.168.1.1" "the LAN host's default route is the home router"

echo "# the hub: hubctl init alone"
HUB_PUB=$(hc init --endpoint "$TOPO_HUB_IP:51820")
assert_eq "$(wg pubkey <"$HUB/private.key")" "$HUB_PUB" "init prints the hub's public key"
hubd_start hub "$HUB"
assert_eq 51820 "$(ip netns exec hub wg show wg0 listen-port)" "the hub listens on init's default port"
assert_contains "$(ip -n hub addr show dev wg0)" "10.8.0.1/24" "the hub has init's default address"

# fetch PATH: the page, from the phone through the tunnel.
fetch() { ip netns exec phone curl -sS --max-time 5 "http://$TOPO_LAN_HOST$1"; }
lan_routed() { ip -n hub route show proto 150 | grep -q "192.168.1.0/24 dev wg0"; }

echo "# the gateway, from the wg-quick output: wg-quick up in its namespace"
hc peer add home --lan 192.168.1.0/24 --address 10.8.0.3 --output "$W/home.conf"
assert_eq 600 "$(stat -c %a "$W/home.conf")" "the gateway's config is mode 0600"
assert_eq 0 "$(ip netns exec gw cat /proc/sys/net/ipv4/ip_forward)" "the gateway does not forward yet"
_gw_down() { ip netns exec gw wg-quick down "$W/home.conf" 2>/dev/null || true; }
ip netns exec gw wg-quick up "$W/home.conf"
cleanup _gw_down
assert_eq 1 "$(ip netns exec gw cat /proc/sys/net/ipv4/ip_forward)" "PostUp turned forwarding on"
assert_contains "$(ip netns exec gw nft list table inet hubd-site-home)" \
	'iifname "home" oifname != "home" ip daddr 192.168.1.0/24 masquerade' "PostUp's masquerade rule"
wait_for lan_routed
wait_for ip netns exec gw ping -c 1 -W 1 10.8.0.1
assert_contains "$(ip netns exec hub wg show wg0 endpoints)" "198.51.100.1:" "the hub learned the gateway's NATed endpoint"

echo "# the phone: its split tunnel holds the LAN; the page comes back masqueraded"
hc peer add phone --output "$W/phone.conf" --qr none
assert_contains "$(<"$W/phone.conf")" "AllowedIPs = 10.8.0.0/24, 192.168.1.0/24" "the phone's split tunnel"
topo_phone_up "$W/phone.conf"
wait_for ip netns exec phone ping -c 1 -W 1 10.8.0.1
wait_for fetch /
assert_contains "$(fetch /)" "home LAN" "the page through the wg-quick gateway"
assert_contains "$(fetch /cgi-bin/whoami)" "from 192.168.1.2" "the wg-quick gateway masquerades into the LAN"

echo "# wg-quick down undoes both"
ip netns exec gw wg-quick down "$W/home.conf"
assert_eq 0 "$(ip netns exec gw cat /proc/sys/net/ipv4/ip_forward)" "PostDown put forwarding back"
ip netns exec gw nft list table inet hubd-site-home >/dev/null 2>&1 && fail "PostDown left the nft table"
fetch / >/dev/null 2>&1 && fail "the page still came back with the gateway down"

echo "# the same gateway, now from the hubd directory"
hc peer remove home
lan_gone() { ! lan_routed; }
wait_for lan_gone
hc peer add home --lan 192.168.1.0/24 --address 10.8.0.3 --format hubd --output "$GW"
assert_eq 600 "$(stat -c %a "$GW/private.key")" "the gateway's private.key is mode 0600"
assert_contains "$(<"$GW/hubd.conf")" "Masquerade = 192.168.1.0/24" "the gateway masquerades by prefix"
"$HUBCTL" --config-dir "$GW" check
hubd_start gw "$GW"
assert_contains "$(ip netns exec gw nft list table inet hubd)" \
	'iifname "wg0" oifname != "wg0" ip daddr 192.168.1.0/24 masquerade' "hubd's masquerade rule on the gateway"
assert_eq 1 "$(ip netns exec gw cat /proc/sys/net/ipv4/ip_forward)" "hubd turned forwarding on"
wait_for lan_routed
wait_for ip netns exec gw ping -c 1 -W 1 10.8.0.1
wait_for fetch /
assert_contains "$(fetch /)" "home LAN" "the page through the hubd gateway"
assert_contains "$(fetch /cgi-bin/whoami)" "from 192.168.1.2" "hubd on the gateway masquerades into the LAN"
