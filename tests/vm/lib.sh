# shellcheck shell=bash
# Helpers for the VM scenarios: source "$HUBD_SRCDIR/tests/vm/lib.sh" first thing.
#
# In the style of the kernel's tools/testing/selftests/wireguard/netns.sh: the script
# runs under "set -e", every resource is registered for cleanup the moment it exists,
# one assertion per line, and at the end a check that nothing was left behind.
# Exit status: 0 pass, 1 fail, 77 skip (cannot run here).
#
# Environment (exported by guest-run): HUBD_BUILDDIR (build tree, absolute),
# HUBD_SRCDIR (source tree), HUBD_IN_VM (1 under qemu), HUBD_SCENARIO (our name).
# Knobs: HUBD_WAIT_TIMEOUT (wait_for's default, seconds), HUBD_VM_TRACE=1 (set -x).

set -eE -o pipefail

HUBD_SRCDIR=${HUBD_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
HUBD_BUILDDIR=${HUBD_BUILDDIR:-}
HUBD_SCENARIO=${HUBD_SCENARIO:-$(basename "$0" .sh)}
# The binaries under test (non-recursive build: they live in $HUBD_BUILDDIR/src/hubd and src/hubctl).
HUBD=$HUBD_BUILDDIR/src/hubd/hubd
HUBCTL=$HUBD_BUILDDIR/src/hubctl/hubctl

if [ "${HUBD_VM_TRACE:-0}" = 1 ]; then
	# Timestamps show where the time goes (everything is slow under TCG).
	PS4='+ ${EPOCHREALTIME} ${BASH_SOURCE[0]##*/}:${LINENO}: '
	set -x
fi

# --- reporting -------------------------------------------------------------------

# The scenario's own file:line that led here, skipping frames inside this file.
_where() {
	local i
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [ "${BASH_SOURCE[i]}" != "${BASH_SOURCE[0]}" ]; then
			echo "${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
			return
		fi
	done
	echo "?"
}

# log MSG: a progress line, so a failure's output shows how far we got.
log() { echo "# [${SECONDS}s] $*"; }

# fail MSG: stop the scenario as failed.
fail() {
	echo "error: $(_where): $*" >&2
	exit 1
}

# skip MSG: this scenario cannot run here (automake's 77).
skip() {
	echo "skip: $*"
	exit 77
}

# A command failing under set -e: say which and where before the exit trap cleans up.
# (ERR fires under set +e too, where a failure is expected: stay quiet then.)
trap '_rc=$?; [[ $- != *e* ]] || echo "error: $(_where): command failed (exit $_rc): $BASH_COMMAND" >&2' ERR

# --- assertions ------------------------------------------------------------------

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
	[ "$1" = "$2" ] || fail "${3:+$3: }expected '$1', got '$2'"
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
	case $1 in
	*"$2"*) ;;
	*) fail "${3:+$3: }'$2' not found in:"$'\n'"$1" ;;
	esac
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
	case $1 in
	*"$2"*) fail "${3:+$3: }'$2' unexpectedly found in:"$'\n'"$1" ;;
	esac
}

# wait_for [-t SECONDS] CMD...: retry CMD until it succeeds, fail after the timeout.
# Everything is slow under TCG, hence the generous default.
wait_for() {
	local t=${HUBD_WAIT_TIMEOUT:-30}
	if [ "$1" = -t ]; then
		t=$2
		shift 2
	fi
	local end=$((SECONDS + t))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge "$end" ]; then
			"$@" || true # once more, with its output, for the log
			fail "timed out after ${t}s waiting for: $*"
		fi
		sleep 0.2
	done
}

# --- requirements ------------------------------------------------------------------

# need_cmd CMD...: skip unless every command is installed.
need_cmd() {
	local c
	for c; do
		command -v "$c" >/dev/null || skip "$c is not installed"
	done
}

# need_wireguard: skip unless the kernel can create a wireguard link. The probe runs in
# a throwaway network namespace so that it can leave nothing behind.
need_wireguard() {
	need_cmd wg ip unshare
	modprobe wireguard 2>/dev/null || true
	unshare --net ip link add hubdprobe type wireguard 2>/dev/null ||
		skip "this kernel has no WireGuard (run through tests/vm/run)"
}

# need_built FILE...: the build products a scenario tests. Missing ones are a failure,
# not a skip: make check builds them first.
need_built() {
	local f
	for f; do
		[ -x "$f" ] || fail "$f is not built (HUBD_BUILDDIR=$HUBD_BUILDDIR)"
	done
}

# --- cleanup registry --------------------------------------------------------------

_cleanups=()

# cleanup CMD [ARG...]: run CMD at exit, in reverse order of registration, whatever
# happened. Register right after creating a resource.
cleanup() {
	_cleanups+=("$(printf '%q ' "$@")")
}

_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" >/dev/null 2>&1 || true
	done
	_cleanups=()
}

# --- namespaces and links ----------------------------------------------------------

# ns_exec NS CMD...: run CMD inside network namespace NS.
ns_exec() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# Kill what still runs in NS, then delete it: a process inside keeps a namespace alive
# after "ip netns del", and it would then escape the leftover check.
_netns_del() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null || true)
	if [ -n "$pids" ]; then
		kill $pids 2>/dev/null || true
		sleep 0.2
		kill -9 $(ip netns pids "$1" 2>/dev/null) 2>/dev/null || true
	fi
	ip netns del "$1"
}

# netns_new NAME: a network namespace with lo up, deleted at exit.
netns_new() {
	ip netns add "$1"
	cleanup _netns_del "$1"
	ip -n "$1" link set lo up
}

# veth_pair NS1 IF1 NS2 IF2: a veth pair from NS1 to NS2, both ends up.
veth_pair() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
	cleanup ip -n "$1" link del "$2"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# background CMD...: start CMD in the background, killed at exit; its pid is in $!.
background() {
	"$@" &
	cleanup _kill_wait $!
}

_kill_wait() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# --- nothing left behind -------------------------------------------------------------

_netns_names() { ip netns list 2>/dev/null | awk '{ print $1 }' | sort; }
_link_names() { ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort; }
_nft_tables() { nft list tables 2>/dev/null | sort || true; }

# What existed before the scenario started is not its leftover.
_base_netns=$(_netns_names)
_base_links=$(_link_names)
_base_nft=$(_nft_tables)

# check_nothing_left: fail if network namespaces, links or nftables tables of the root
# namespace exist that did not exist when lib.sh was sourced. Runs by itself at a
# successful exit, after the cleanups; call it earlier to check a cleanup step.
check_nothing_left() {
	local what now base extra bad=0
	for what in netns links nft; do
		case $what in
		netns) now=$(_netns_names) base=$_base_netns ;;
		links) now=$(_link_names) base=$_base_links ;;
		nft) now=$(_nft_tables) base=$_base_nft ;;
		esac
		extra=$(comm -13 <(echo "$base") <(echo "$now") | tr '\n' ' ')
		if [ -n "${extra// /}" ]; then
			echo "error: left behind ($what): $extra" >&2
			bad=1
		fi
	done
	return $bad
}

_on_exit() {
	local rc=$?
	trap - EXIT ERR
	set +e
	_run_cleanups
	if [ "$rc" = 0 ] && ! check_nothing_left; then
		rc=1
	fi
	exit "$rc"
}
trap _on_exit EXIT
# Make signals go through the exit trap, so a timeout still cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
