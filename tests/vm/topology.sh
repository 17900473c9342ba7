# shellcheck shell=bash
# The seed topology of SPEC.md ("The topology that the demo and the tests reproduce"),
# one network namespace per part, for the demo (50-demo.sh) and the hubctl scenario
# (40-hubctl.sh). Source after lib.sh and hubd-lib.sh.
#
#                        inet (the internet, a router)
#          203.0.113.254 /         | 198.51.100.254     \ 192.0.2.254
#       hub 203.0.113.1       router 198.51.100.1        phone 192.0.2.2
#       wg0 10.8.0.1/24         | NAT masquerade,          wg-quick "phone"
#       UDP 51820               | no port forward          10.8.0.2 (from hubctl peer add)
#                               | bridge lan 192.168.1.1/24
#                 gw 192.168.1.2     lanhost 192.168.1.100 (HTTP, default route: router)
#                 wg0 10.8.0.3/24, Masquerade = eth0
#
# Every process costs ~0.3 s under TCG: links and addresses are made with one
# "ip -batch" per namespace.

TOPO_HUB_IP=203.0.113.1
TOPO_LAN_HOST=192.168.1.100

# topo_namespaces: the six namespaces, the links between them, addresses and routes,
# forwarding in the two routers and the home router's NAT. Nothing runs yet.
topo_namespaces() {
	local ns
	for ns in inet hub router gw lanhost phone; do
		ip netns add "$ns"
		cleanup _netns_del "$ns"
	done
	# Links made straight inside their namespaces: deleting a namespace deletes them.
	ip -batch - <<-EOF
		link add eth0 netns hub type veth peer name to-hub netns inet
		link add wan netns router type veth peer name to-home netns inet
		link add eth0 netns phone type veth peer name to-phone netns inet
		link add to-gw netns router type veth peer name eth0 netns gw
		link add to-lanhost netns router type veth peer name eth0 netns lanhost
	EOF
	ip -n inet -batch - <<-EOF
		link set lo up
		addr add 203.0.113.254/24 dev to-hub
		addr add 198.51.100.254/24 dev to-home
		addr add 192.0.2.254/24 dev to-phone
		link set to-hub up
		link set to-home up
		link set to-phone up
	EOF
	ip -n hub -batch - <<-EOF
		link set lo up
		addr add $TOPO_HUB_IP/24 dev eth0
		link set eth0 up
		route add default via 203.0.113.254
	EOF
	ip -n phone -batch - <<-EOF
		link set lo up
		addr add 192.0.2.2/24 dev eth0
		link set eth0 up
		route add default via 192.0.2.254
	EOF
	ip -n router -batch - <<-EOF
		link set lo up
		addr add 198.51.100.1/24 dev wan
		link set wan up
		link add lan type bridge
		addr add 192.168.1.1/24 dev lan
		link set lan up
		link set to-gw master lan
		link set to-lanhost master lan
		link set to-gw up
		link set to-lanhost up
		route add default via 198.51.100.254
	EOF
	ip -n gw -batch - <<-EOF
		link set lo up
		addr add 192.168.1.2/24 dev eth0
		link set eth0 up
		route add default via 192.168.1.1
	EOF
	ip -n lanhost -batch - <<-EOF
		link set lo up
		addr add $TOPO_LAN_HOST/24 dev eth0
		link set eth0 up
		route add default via 192.168.1.1
	EOF
	# The internet routes between its three networks; the home router forwards and
	# masquerades everything leaving through its WAN port. No port forward: nothing
	# from the internet reaches the LAN unless the LAN started the conversation.
	ip netns exec inet sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
	ip netns exec router sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward && nft -f -' <<-EOF
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "wan" masquerade
			}
		}
	EOF
}

# topo_hub_config DIR [HEALTHINTERVAL]: the hub's config in DIR (wg0 10.8.0.1/24, UDP
# 51820, PublicEndpoint, a health check every 2 s by default); sets HUB_PUB.
topo_hub_config() {
	hub_config "$1" wg0 10.8.0.1/24 "ListenPort = 51820" "PublicEndpoint = $TOPO_HUB_IP:51820" \
		"HealthInterval = ${2:-2}"
	HUB_PUB=$(wg pubkey <"$1/private.key")
}

# topo_gw_config DIR HUBDIR: the home gateway's config in DIR (wg0 10.8.0.3/24,
# Masquerade into the LAN, one peer: the hub), and its peer file on the hub in HUBDIR
# (10.8.0.3 and the LAN behind it); sets GW_PUB.
topo_gw_config() {
	local dir=$1 hubdir=$2
	hub_config "$dir" wg0 10.8.0.3/24 "Masquerade = eth0" "HealthInterval = 2"
	GW_PUB=$(wg pubkey <"$dir/private.key")
	peer_file "$dir" hub "$HUB_PUB" "10.8.0.0/24" "Endpoint = $TOPO_HUB_IP:51820" \
		"PersistentKeepalive = 25"
	peer_file "$hubdir" home "$GW_PUB" "10.8.0.3/32, 192.168.1.0/24"
}

# topo_lanhost DOCROOT: an HTTP server on the LAN host serving DOCROOT (busybox httpd,
# in the foreground so that the namespace cleanup finds and stops it).
topo_lanhost() {
	background ip netns exec lanhost busybox httpd -f -p 80 -h "$1"
	wait_for ip netns exec lanhost bash -c 'exec 3<>/dev/tcp/127.0.0.1/80'
}

# topo_phone_up CONF: wg-quick up on exactly CONF (its file name, phone.conf, names the
# interface) in the phone namespace; taken down at exit.
topo_phone_up() {
	ip netns exec phone wg-quick up "$1"
	cleanup ip netns exec phone wg-quick down "$1"
}
