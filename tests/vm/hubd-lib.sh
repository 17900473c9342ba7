# shellcheck shell=bash
# Helpers for scenarios that run hubd: a config directory, a daemon in a
# namespace, and kernel state read back with the real wg(8), ip(8) and nft(8).
# Source after lib.sh.

# hub_config DIR NAME ADDRESS [EXTRA...]: a hubd.conf with a fresh key (mode 0600).
hub_config() {
	local dir=$1 name=$2 addr=$3
	shift 3
	mkdir -p "$dir/peers.d"
	(umask 077 && wg genkey >"$dir/private.key")
	{
		echo "[Interface]"
		echo "Name = $name"
		echo "PrivateKeyFile = $dir/private.key"
		echo "Address = $addr"
		local l
		for l; do echo "$l"; done
	} >"$dir/hubd.conf"
}

# peer_file DIR NAME PUBKEY ALLOWEDIPS [EXTRA...]: write peers.d/NAME.conf atomically.
peer_file() {
	local dir=$1 name=$2 pub=$3 aips=$4
	shift 4
	{
		echo "[Peer]"
		echo "PublicKey = $pub"
		echo "AllowedIPs = $aips"
		local l
		for l; do echo "$l"; done
	} >"$dir/peers.d/.$name.tmp"
	mv "$dir/peers.d/.$name.tmp" "$dir/peers.d/$name.conf"
}

# random_keys N: N random public keys, one per line, from two processes (a process
# costs ~0.3 s under TCG). Any 32 bytes will do for peers that never handshake.
random_keys() {
	# The 43rd character of a 32-byte key's base64 carries 4 bits: its low 2 must be 0.
	local s last=AEIMQUYcgkosw048 i
	s=$(head -c $((32 * $1 + 64)) /dev/urandom | base64 -w 0)
	for ((i = 0; i < $1; i++)); do
		printf '%s%s=\n' "${s:i*42:42}" "${last:RANDOM%16:1}"
	done
}
random_key() { random_keys 1; }

# hubd_start NS DIR [ARGS...]: run hubd in NS on DIR, logging to DIR/hubd.log; sets HUBD_PID.
hubd_start() {
	local ns=$1 dir=$2
	shift 2
	# A restart appends to the same log: wait for one "ready" more than it holds now.
	local before
	before=$(grep -c "\[ready\]" "$dir/hubd.log" 2>/dev/null || true)
	ip netns exec "$ns" "$HUBD" --foreground --config-dir "$dir" --socket "$dir/control.sock" \
		"$@" 2>>"$dir/hubd.log" &
	HUBD_PID=$!
	cleanup _kill_wait "$HUBD_PID"
	cleanup _show_log "$dir/hubd.log"
	wait_for _ready_more "$dir/hubd.log" "${before:-0}"
}

_ready_more() { [ "$(grep -c "\[ready\]" "$1" 2>/dev/null || true)" -gt "$2" ]; }

# The daemon's log ends up in the scenario's output, for a failure's post-mortem.
# (fd 9: cleanups run with their output discarded.)
exec 9>&1
_show_log() {
	{
		echo "--- last lines of $1:"
		tail -n 40 "$1"
	} >&9
}

# hubd_stop: SIGTERM and wait; the kernel state stays.
hubd_stop() {
	kill -TERM "$HUBD_PID"
	wait "$HUBD_PID" || fail "hubd exited with $? on SIGTERM"
}

# wg_peers NS IF: the number of peers on IF.
wg_peers() { ip netns exec "$1" wg show "$2" peers | grep -c . || true; }

# wg_aips NS IF PUBKEY: that peer's allowed IPs, sorted, space separated.
wg_aips() {
	ip netns exec "$1" wg show "$2" allowed-ips | awk -v k="$3" '$1 == k { for (i = 2; i <= NF; i++) print $i }' |
		sort | tr '\n' ' ' | sed 's/ $//'
}

# wg_handshake NS IF PUBKEY: that peer's latest handshake (unix seconds).
wg_handshake() { ip netns exec "$1" wg show "$2" latest-handshakes | awk -v k="$3" '$1 == k { print $2 }'; }

# has_peer NS IF PUBKEY / lacks_peer ...: for wait_for.
# (grep without -q reads to the end: -q would stop at the match, and under pipefail wg's
# SIGPIPE on a long list would turn the match into a failure)
has_peer() { ip netns exec "$1" wg show "$2" peers | grep -xF "$3" >/dev/null; }
lacks_peer() { ! has_peer "$@"; }

# ms: milliseconds since the epoch, for latencies.
ms() { echo $(($(date +%s%N) / 1000000)); }

# has_route NS PREFIX / lacks_route: is PREFIX routed by hubd (proto 150) via wg0?
has_route() { ip -n "$1" route show "$2" proto 150 | grep -q "dev wg0"; }
lacks_route() { ! has_route "$@"; }
has_addr() { ip -n "$1" -o addr show dev wg0 | grep -q "inet6\? $2 "; }

# aips_are NS IF PUBKEY "SORTED LIST" / peers_are NS IF COUNT: for wait_for, which
# must re-evaluate on every try (a $(...) argument would be evaluated only once).
aips_are() { [ "$(wg_aips "$1" "$2" "$3")" = "$4" ]; }
peers_are() { [ "$(wg_peers "$1" "$2")" = "$3" ]; }

# ctl_as UID GID SOCKET COMMAND: one control request ({"command":COMMAND}) as another user,
# with GID as its only group; prints the daemon's JSON reply, or why it could not connect.
# Exit status 0 only for a reply with "ok":true. The privileges are dropped inside perl
# after it has loaded, not by exec'ing a program as that user, and the socket is reached
# from its own directory: on a new machine the build tree may lie where that user cannot
# reach (a clone under /root), and a root directory that others may not enter (a chroot
# made by mktemp) lets that user exec or look up nothing at all. What is tested is the
# socket's mode and hubd's check of the peer's credentials.
ctl_as() {
	perl -MPOSIX -MIO::Socket::UNIX -e '
		sub bail { print STDERR @_; exit 1 }
		my ($uid, $gid, $path, $cmd) = @ARGV;
		$SIG{PIPE} = "IGNORE";
		my ($dir, $name) = $path =~ m{^(.*)/([^/]+)$} or bail("not a path: $path\n");
		chdir($dir) or bail("chdir $dir: $!\n");
		$( = $gid; $) = "$gid $gid";
		POSIX::setgid($gid) or bail("setgid: $!\n");
		POSIX::setuid($uid) or bail("setuid: $!\n");
		($< == $uid && $> == $uid) or bail("still privileged\n");
		my $s = IO::Socket::UNIX->new(Peer => $name) or bail("connect: $!\n");
		print $s "{\"command\":\"$cmd\"}\n";
		shutdown($s, 1);
		local $/;
		my $r = <$s>;
		$r = "" unless defined $r;
		print $r;
		exit($r =~ /"ok":\s*true/ ? 0 : 1);
	' "$@"
}
