#!/bin/bash
# Remake the canned rulesets of tests/unit/test-doctor.c: each one is the real
# `nft -j list ruleset` of a fresh network namespace after the firewall's rules
# were loaded into it, with iptables-nft (as Docker and ufw do) or nft. Run as root
# from anywhere: bash tests/unit/doctor/make-fixtures.sh [NAME...]. Needs iptables
# (iptables-nft), nftables and, for the ufw fixtures, network access to Debian's
# archive (apt-get download ufw, python3-firewall and python3-nftables: their own code
# runs, from the unpacked packages).
#
# The fixtures and how each one is made:
#   docker.json          Docker's filter and nat chains, as dockerd (libnetwork's
#                        bridge driver, Docker 20.10-24) creates them with a docker0
#                        bridge: FORWARD policy DROP, DOCKER-USER, DOCKER-ISOLATION-*.
#   docker-user.json     the same, plus the fix doctor prints: DOCKER-USER accepts wg0.
#   ufw.json             ufw 0.36.2 (Debian 12) enabled with its defaults (deny
#                        incoming, deny routed) and `ufw allow 22/tcp`: ufw's own
#                        ufw-init and rule files, loaded with iptables-nft.
#   ufw-allow.json       the same plus `ufw allow 51820/udp` and
#                        `ufw route allow in on wg0` / `ufw route allow out on wg0`.
#   firewalld.json       firewalld 1.3.3's table inet firewalld with the public zone as
#                        the default (ssh, dhcpv6-client), built and applied by
#                        firewalld's own nftables backend (firewalld-rules.py).
#   firewalld-open.json  the same with --add-port=51820/udp in public and wg0 in the
#                        trusted zone (--zone=trusted --add-interface=wg0).
#   nft-input-drop.json  a hand-written inet filter input chain, policy drop, that
#                        accepts ssh only (the pitfall "an input chain drops the port").
#   hubd-isolate.json    only hubd's own table inet hubd in Forward = isolate (its
#                        spoke-to-spoke drop is wanted, and doctor must ignore it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ns=hubd-doctor-fixture
work=$(mktemp -d)
trap 'ip netns del $ns 2>/dev/null || true; rm -rf "$work"' EXIT

fresh_ns() {
	ip netns del $ns 2>/dev/null || true
	ip netns add $ns
	ip -n $ns link set lo up
}

in_ns() { ip netns exec $ns "$@"; }

save() {
	in_ns nft -j list ruleset | python3 -m json.tool --indent 1 >"$here/$1.json"
	echo "wrote $1.json"
}

docker_rules() {
	# A bridge like docker0, then the rules dockerd's libnetwork adds at start.
	in_ns ip link add docker0 type bridge
	in_ns ip addr add 172.17.0.1/16 dev docker0
	in_ns ip link set docker0 up
	in_ns sh -e <<-'EOF'
		ipt=iptables-nft
		$ipt -t nat -N DOCKER
		$ipt -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
		$ipt -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
		$ipt -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
		$ipt -t nat -A DOCKER -i docker0 -j RETURN
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
}

make_docker() {
	fresh_ns
	docker_rules
	save docker
}

make_docker_user() {
	fresh_ns
	docker_rules
	in_ns iptables-nft -I DOCKER-USER -i wg0 -j ACCEPT
	in_ns iptables-nft -I DOCKER-USER -o wg0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
	save docker-user
}

# ufw's own ufw-init, from the Debian 12 package, on a data dir of its default files.
ufw_rules() {
	local pkg=$work/ufw data=$work/ufw-data
	if [ ! -d "$pkg" ]; then
		(cd "$work" && apt-get download ufw >/dev/null 2>&1)
		dpkg-deb -x "$work"/ufw_*.deb "$pkg"
	fi
	rm -rf "$data"
	mkdir -p "$data/etc/ufw" "$data/etc/default"
	cp "$pkg/etc/default/ufw" "$data/etc/default/ufw"
	sed -i 's/^IPV6=yes/IPV6=no/; s|^IPT_SYSCTL=.*|IPT_SYSCTL=/dev/null|' "$data/etc/default/ufw"
	sed 's/^ENABLED=no/ENABLED=yes/' "$pkg/usr/share/ufw/ufw.conf" >"$data/etc/ufw/ufw.conf"
	cp "$pkg"/usr/share/ufw/iptables/*.rules "$data/etc/ufw/"
	# What `ufw allow 22/tcp` (and the extra rules given) write into user.rules.
	python3 - "$data/etc/ufw/user.rules" "$@" <<-'EOF'
		import sys
		path, extra = sys.argv[1], sys.argv[2:]
		rules = ["", "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
		         "-A ufw-user-input -p tcp --dport 22 -j ACCEPT"] + extra
		text = open(path).read().replace("### RULES ###", "### RULES ###\n" + "\n".join(rules) + "\n")
		open(path, "w").write(text)
	EOF
	# ufw-init sources these with DATA_DIR and the root given; it calls iptables, which
	# is iptables-nft on Debian 12.
	in_ns sh "$pkg/lib/ufw/ufw-init" --rootdir "$data" --datadir "$data" start \
		>/dev/null 2>&1 || in_ns env DATA_DIR="$data/" sh -c \
		". '$pkg/lib/ufw/ufw-init-functions'; ufw_start"
}

make_ufw() {
	fresh_ns
	ufw_rules
	save ufw
}

make_ufw_allow() {
	fresh_ns
	ufw_rules "### tuple ### allow udp 51820 0.0.0.0/0 any 0.0.0.0/0 in" \
		"-A ufw-user-input -p udp --dport 51820 -j ACCEPT" \
		"### tuple ### route:allow any any 0.0.0.0/0 any 0.0.0.0/0 in_wg0" \
		"-A ufw-user-forward -i wg0 -j ACCEPT" \
		"### tuple ### route:allow any any 0.0.0.0/0 any 0.0.0.0/0 out_wg0" \
		"-A ufw-user-forward -o wg0 -j ACCEPT"
	save ufw-allow
}

# firewalld's own nftables backend (python3-firewall 1.3.3 of Debian 12, unpacked, with
# python3-nftables) builds and applies its rules: firewalld-rules.py.
firewalld_rules() {
	local pkg=$work/firewalld
	if [ ! -d "$pkg" ]; then
		(cd "$work" && apt-get download python3-firewall python3-nftables >/dev/null 2>&1)
		for d in "$work"/python3-*.deb; do dpkg-deb -x "$d" "$pkg"; done
	fi
	in_ns env PYTHONPATH="$pkg/usr/lib/python3/dist-packages" python3 "$here/firewalld-rules.py" "$@"
}

make_firewalld() {
	fresh_ns
	firewalld_rules
	save firewalld
}

make_firewalld_open() {
	fresh_ns
	firewalld_rules open
	save firewalld-open
}

make_nft_input_drop() {
	fresh_ns
	in_ns nft -f - <<-'EOF'
		table inet filter {
			chain input {
				type filter hook input priority filter; policy drop;
				ct state established,related accept
				iif "lo" accept
				tcp dport 22 accept
			}
			chain forward {
				type filter hook forward priority filter; policy accept;
			}
		}
	EOF
	save nft-input-drop
}

make_hubd_isolate() {
	fresh_ns
	in_ns nft -f - <<-'EOF'
		table inet hubd {
			set lan4 {
				type ipv4_addr
				flags interval
				elements = { 192.168.1.0/24 }
			}
			chain forward {
				type filter hook forward priority filter; policy accept;
				iifname "wg0" oifname "wg0" ct state established,related accept
				iifname "wg0" oifname "wg0" ip daddr @lan4 accept
				iifname "wg0" oifname "wg0" counter drop
				iifname "wg0" accept
				oifname "wg0" ct state established,related accept
			}
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				iifname "wg0" oifname "eth0" masquerade
			}
		}
	EOF
	save hubd-isolate
}

all="docker docker-user ufw ufw-allow firewalld firewalld-open nft-input-drop hubd-isolate"
for f in ${*:-$all}; do
	"make_${f//-/_}"
done
