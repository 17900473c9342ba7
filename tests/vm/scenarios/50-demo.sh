#!/bin/bash
# The demo (scripts/demo.sh): the seed topology of SPEC.md, one network namespace per
# part. A phone on the internet, configured only from "hubctl peer add" output, fetches
# a page from a LAN host behind a home router that has no port forward: through the
# hub (hubd) and the home gateway (hubd, masquerading into the LAN). No config is
# written by hand: the hub is "hubctl init", the gateway "hubctl peer add home --lan".
# Each step is narrated; any failing step fails the scenario.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"
source "$HUBD_SRCDIR/tests/vm/topology.sh"
shopt -s extglob

need_wireguard
need_cmd nft curl busybox wg-quick
need_built "$HUBD" "$HUBCTL"

HUB=/etc/hubd/hub
GW=/etc/hubd/gw
W=/tmp/demo
mkdir -p "$W/www/cgi-bin"

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }
# show TEXT: print indented, so the demo's own output stands out from the narration.
show() {
	local l
	while IFS= read -r l; do printf '   | %s\n' "$l"; done <<<"$1"
}

step "1. The network: the internet, the hub, a home router (NAT, no port forward),"
echo "   the home gateway and a LAN host behind it, and a phone on the internet."
topo_namespaces
show "internet  203.0.113.0/24 hub · 198.51.100.0/24 home router WAN · 192.0.2.0/24 phone
hub       203.0.113.1           (public address, UDP 51820)
router    198.51.100.1 ⇄ LAN 192.168.1.0/24, masquerade, no port forward
gateway   192.168.1.2           (home gateway, behind the router)
lan host  192.168.1.100         (HTTP, default route: the router, not the gateway)
phone     192.0.2.2"

step "2. The LAN host serves a page; its default route is the home router."
echo "<h1>Hello from the home LAN (192.168.1.100)</h1>" >"$W/www/index.html"
# busybox httpd gives the client's address as [::ffff:a.b.c.d].
cat >"$W/www/cgi-bin/whoami" <<'CGI'
#!/bin/sh
a=${REMOTE_ADDR#"[::ffff:"}
printf 'Content-Type: text/plain\r\n\r\nthe LAN host sees the request coming from %s\n' "${a%"]"}"
CGI
chmod 755 "$W/www/cgi-bin/whoami"
topo_lanhost "$W/www"
show "$(ip -n lanhost route show default)"
echo "   From the internet, the LAN is out of reach (the router forwards no port):"
if out=$(ip netns exec phone curl -sS --max-time 3 "http://$TOPO_LAN_HOST/" 2>&1); then
	fail "the phone reached the LAN host without the tunnel: $out"
fi
show "phone\$ curl http://$TOPO_LAN_HOST/ → $out"

step "3. The hub: hubctl init makes its key and hubd.conf (Address 10.8.0.1/24, ListenPort 51820)."
show "hub# hubctl init --endpoint $TOPO_HUB_IP:51820"
HUB_PUB=$("$HUBCTL" --config-dir "$HUB" init --endpoint "$TOPO_HUB_IP:51820")
assert_eq "$(wg pubkey <"$HUB/private.key")" "$HUB_PUB" "init prints the hub's public key"
show "$HUB_PUB"
show "$(<"$HUB/hubd.conf")"

step "4. The home gateway, onboarded from the hub by one command: the hub's peers.d/home.conf"
echo "   routes the LAN to it, and its own hubd config directory comes out ready to copy."
show "hub# hubctl peer add home --lan 192.168.1.0/24 --address 10.8.0.3 --format hubd --output $GW"
"$HUBCTL" --config-dir "$HUB" peer add home --lan 192.168.1.0/24 --address 10.8.0.3 \
	--format hubd --output "$GW"
GW_PUB=$(wg pubkey <"$GW/private.key")
show "peers.d/home.conf:"
show "$(<"$HUB/peers.d/home.conf")"
assert_contains "$(<"$HUB/peers.d/home.conf")" "AllowedIPs = 10.8.0.3/32, 192.168.1.0/24" "the hub routes the LAN to home"
hubd_start hub "$HUB"
assert_eq 51820 "$(ip netns exec hub wg show wg0 listen-port)" "hub listen port"
assert_contains "$(ip -n hub route show proto 150)" "192.168.1.0/24 dev wg0" "hub routes the LAN to the gateway"

step "5. The home gateway runs hubd on that directory: Address 10.8.0.3/24, Masquerade = its"
echo "   LAN's prefix, one peer, the hub, reached through the NAT with PersistentKeepalive 25."
show "$(<"$GW/hubd.conf")"
show "peers.d/hub.conf:"
show "$(<"$GW/peers.d/hub.conf")"
hubd_start gw "$GW"
wait_for ip netns exec gw ping -c 1 -W 1 10.8.0.1
ep=$(ip netns exec hub wg show wg0 endpoints)
assert_contains "$ep" "$GW_PUB	198.51.100.1:" "the hub learned the gateway's NATed address"
show "the hub learned the gateway's endpoint: ${ep#*	} (the home router's public address)"

echo "   hubctl doctor on each side: every pitfall of the troubleshooting list checked."
for side in hub gw; do
	dir=$HUB && [ $side = hub ] || dir=$GW
	doc=$(ip netns exec $side "$HUBCTL" --config-dir "$dir" --socket "$dir/control.sock" doctor) ||
		fail "hubctl doctor on $side:"$'\n'"$doc"
	show "$side# hubctl doctor"
	show "$doc"
done

step "6. The phone: hubctl peer add phone on the hub; its output is the whole phone config."
"$HUBCTL" --config-dir "$HUB" peer add phone --output "$W/phone.conf" --qr ansi
assert_contains "$(<"$HUB/peers.d/phone.conf")" "AllowedIPs = 10.8.0.2/32" "phone's peer file"
# The private key is shown only masked, as a habit.
conf=$(<"$W/phone.conf")
show "${conf/PrivateKey = +([^$'\n'])/PrivateKey = (hidden)}"
topo_phone_up "$W/phone.conf"
wait_for ip netns exec phone ping -c 1 -W 1 10.8.0.1

step "7. hubctl status on the hub."
# The phone's first packets reach the gateway too (health: the home gateway is "up").
wait_for ip netns exec phone ping -c 1 -W 1 10.8.0.3
# Health is judged every HealthInterval (init's default, 10 s).
home_up() { "$HUBCTL" --socket "$HUB/control.sock" status | grep -Eq "^home .* up( |$)"; }
wait_for home_up
st=$("$HUBCTL" --socket "$HUB/control.sock" status)
show "$st"
assert_contains "$st" "home" "status names the gateway"
assert_contains "$st" "phone" "status names the phone"
assert_contains "$st" " up" "the gateway is up"

step "8. The path from the phone to the LAN host: hub, home gateway, LAN host."
tr=$(ip netns exec phone busybox traceroute -n -q 1 -w 3 -m 6 "$TOPO_LAN_HOST" 2>&1)
show "$tr"
[[ $tr =~ 1\ +10\.8\.0\.1\ .*2\ +10\.8\.0\.3\ .*3\ +192\.168\.1\.100\  ]] ||
	fail "unexpected path: $tr"

step "9. The LAN host's page, fetched from the phone."
page=$(ip netns exec phone curl -sS --max-time 10 "http://$TOPO_LAN_HOST/")
show "phone\$ curl http://$TOPO_LAN_HOST/"
show "$page"
assert_contains "$page" "Hello from the home LAN" "the page"
who=$(ip netns exec phone curl -sS --max-time 10 "http://$TOPO_LAN_HOST/cgi-bin/whoami")
show "phone\$ curl http://$TOPO_LAN_HOST/cgi-bin/whoami"
show "$who"
assert_contains "$who" "coming from 192.168.1.2" "the gateway masquerades into the LAN"

step "Done: the phone reached a LAN host behind NAT, with no port forward, through the hub."
