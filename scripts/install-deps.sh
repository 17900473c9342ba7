#!/bin/sh
# Install everything the build, the tests and the demo need on Debian 12.
set -eu
export DEBIAN_FRONTEND=noninteractive
PKGS="build-essential autoconf automake libtool pkg-config clang libclang-rt-14-dev
 libmnl-dev libnl-3-dev libnl-route-3-dev libsystemd-dev check libnftables-dev
 libsodium-dev libqrencode-dev libjson-c-dev libpng-dev
 wireguard-tools nftables iproute2 iputils-ping kmod cpio curl busybox-static
 qemu-system-x86 zbar-tools valgrind iperf3 systemd jq
 procps util-linux perl libmicrohttpd-dev prometheus keepalived iptables
 debootstrap lintian"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing$missing"
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# apt-get download (the VM kernel) needs package lists even when nothing was missing.
[ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ] || apt-get update -qq
echo "install-deps: ok"
