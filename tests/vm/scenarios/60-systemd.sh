#!/bin/bash
# hubd under a real systemd. systemd 252 runs as PID 1 of its own PID, mount, network,
# UTS and cgroup namespaces in the guest (as systemd-nspawn would run it), its root a
# tmpfs overlaid on the read-only root. The built hubd, hubctl and the generated unit
# are installed there, and the scenario checks: "systemctl start hubd" returns only
# once hubd sent READY=1, with wg0 configured; "systemctl reload hubd" applies a new
# peer; the journal has HUBD_EVENT=ready and a config-error entry with CONFIG_FILE and
# CONFIG_LINE; "systemctl restart hubd" keeps a peer's session; after kill -9, systemd
# restarts hubd and the kernel state converges. It also prints the unit's
# "systemd-analyze security" exposure and fails above 2.5.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"

need_wireguard
need_cmd nsenter unshare jq ps systemd-analyze /lib/systemd/systemd
need_built "$HUBD" "$HUBCTL"
UNIT=$HUBD_BUILDDIR/contrib/systemd/hubd.service
[ -f "$UNIT" ] || fail "$UNIT is not built (make contrib/systemd/hubd.service)"

log "systemd-analyze security of the generated unit"
sec=$(systemd-analyze security --offline=yes --no-pager "$UNIT" 2>&1 | grep 'Overall exposure level')
echo "$sec"
[[ $sec =~ level\ for\ hubd\.service:\ ([0-9]+)\.([0-9]) ]] || fail "no exposure figure in: $sec"
[ $((BASH_REMATCH[1] * 10 + BASH_REMATCH[2])) -le 25 ] || fail "exposure above 2.5: $sec"

# --- the root: a tmpfs overlaid on the read-only root --------------------------------
R=/tmp/sd
mkdir -p $R
mount -t tmpfs -o mode=0755 tmpfs $R
cleanup umount -l $R
mkdir -p $R/upper $R/work $R/root
mount -t overlay overlay -o lowerdir=/,upperdir=$R/upper,workdir=$R/work $R/root
cleanup umount -l $R/root
S=$R/root # the container's / as seen from here

log "install hubd, hubctl and the unit; the hub's config in /etc/hubd"
sbin=$(sed -n 's|^ExecStart=\(.*\)/hubd$|\1|p' "$UNIT")
bin=$(sed -n 's|^ExecReload=\(.*\)/hubctl reload$|\1|p' "$UNIT")
[ -n "$sbin" ] && [ -n "$bin" ] || fail "cannot read the binary paths from $UNIT"
mkdir -p "$S$sbin" "$S$bin" "$S/etc/systemd/system" "$S/etc/hubd/peers.d"
cp "$HUBD" "$S$sbin/hubd"
cp "$HUBCTL" "$S$bin/hubctl"
cp "$UNIT" "$S/etc/systemd/system/hubd.service"
# The binaries may be the ASan build (make check uses it). LeakSanitizer stops the world
# with ptrace, which the unit's SystemCallFilter (~@debug) forbids, and then fails the
# process at exit: leaks are checked by the other scenarios and by 80-valgrind instead.
mkdir -p "$S/etc/systemd/system/hubd.service.d"
printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' >"$S/etc/systemd/system/hubd.service.d/asan.conf"
# What the container boots to: journald and nothing else (not the host's own units).
cat >"$S/etc/systemd/system/hubd-test.target" <<-EOF
	[Unit]
	Description=hubd VM test
	Wants=systemd-journald.service systemd-journald.socket
EOF
# Only the hub's files: the host's /etc/hubd may hold anything.
rm -rf "$S/etc/hubd" && mkdir -p "$S/etc/hubd/peers.d"
hub_config "$S/etc/hubd" wg0 10.8.0.1/24 "ListenPort = 51820" "HealthInterval = 3600"
# hub_config wrote the path as seen from here; the daemon reads the default, private.key.
conf=$(<"$S/etc/hubd/hubd.conf")
printf '%s\n' "${conf/PrivateKeyFile = $S/PrivateKeyFile = }" >"$S/etc/hubd/hubd.conf"
hub_pub=$(wg pubkey <"$S/etc/hubd/private.key")
home_key=$(wg genkey)
home_pub=$(wg pubkey <<<"$home_key")
peer_file "$S/etc/hubd" home "$home_pub" "10.8.0.3/32"
# A secret hubd must not see. A bare Debian has no /etc/ssh, and InaccessiblePaths=-/etc/ssh
# covers only what exists when the unit starts: made here, before.
mkdir -p "$S/etc/ssh"
echo secret >"$S/etc/ssh/hubd-test-key"

# --- systemd as PID 1 -------------------------------------------------------------
log "boot systemd as PID 1 of its own namespaces"
[ -e /sys/fs/cgroup/cgroup.procs ] || fail "no cgroup2 at /sys/fs/cgroup"
mkdir /sys/fs/cgroup/hubd-sd
# What systemd made below it goes too, deepest first.
cleanup find /sys/fs/cgroup/hubd-sd -depth -type d -exec rmdir {} +
# In a cgroup of its own, so that its cgroup namespace has one.
boot='echo $$ >/sys/fs/cgroup/hubd-sd/cgroup.procs && exec unshare --kill-child --pid --fork --mount --net --uts --cgroup --propagation private sh -c "
	cd $1 && mount --rbind /dev dev && mount -t proc proc proc && mount -t sysfs sysfs sys &&
	mount -t cgroup2 cgroup2 sys/fs/cgroup && mount -t tmpfs -o mode=0755 tmpfs run &&
	mount -t tmpfs -o mode=1777 tmpfs tmp && mkdir -p .oldroot && pivot_root . .oldroot &&
	umount -l /.oldroot && exec /lib/systemd/systemd --unit=hubd-test.target --log-target=journal --show-status=no
"'
background env container=hubd-vm sh -c "$boot" sh "$S" >"$R/console.log" 2>&1
upid=$!
cleanup _show_log "$R/console.log"
# systemd is unshare's only child.
child() { sdpid=$(ps -o pid= --ppid "$upid") && sdpid=${sdpid// /} && [ -n "$sdpid" ]; }
# (unshare then says "sigprocmask unblock failed" on the console: util-linux 2.38 cannot
# pass its child's SIGKILL on to itself. Harmless.)
cleanup sh -c "kill -9 \$(ps -o pid= --ppid $upid)"
wait_for -t 10 child
child
# sd CMD...: run CMD inside the container (its namespaces and root).
sd() { nsenter -t "$sdpid" -m -p -n -u -C -r -w -- "$@"; }
running() { case $(sd systemctl is-system-running 2>/dev/null) in running | degraded) return 0 ;; esac; return 1; }
wait_for -t 60 running
assert_eq 1 "$(sd cat /proc/1/comm | grep -c systemd)" "systemd is PID 1"

# A home gateway with a real handshake, in a namespace joined to the container's.
netns_new home
# A failure's post-mortem: both ends of the tunnel, and hubd's journal (fd 9: cleanups
# run with their output discarded). Registered after the container's kill, so it runs first.
_post_mortem() {
	[ -z "$passed" ] || return 0
	{
		echo "--- the container:"
		sd sh -c 'ip -s -br link; ip -br addr; ip route; wg show; nft list ruleset; journalctl -u hubd --no-pager | tail -n 30'
		echo "--- the home gateway:"
		ip netns exec home sh -c 'ip -s -br link; ip -br addr; wg show'
	} >&9 2>&1
}
passed=
cleanup _post_mortem
ip link add veth0 netns home type veth peer name eth0 netns "$sdpid"
sd ip addr add 192.0.2.1/24 dev eth0
sd ip link set eth0 up
ip -n home addr add 192.0.2.2/24 dev veth0
ip -n home link set veth0 up
ip -n home link add wg0 type wireguard
# No persistent keepalive: the gateway, the initiator, would rekey on its first send
# 120 s after the handshake, and the handshake is compared across restarts below.
ip netns exec home wg set wg0 private-key <(echo "$home_key") peer "$hub_pub" \
	endpoint 192.0.2.1:51820 allowed-ips 10.8.0.0/24
ip -n home addr add 10.8.0.3/24 dev wg0
ip -n home link set wg0 up

log "systemctl start hubd: active only after READY=1, with wg0 configured"
# Forwarding off in the container's namespace: hubd turns it on through the unit's
# ReadWritePaths=, which ProtectKernelTunables= must not override.
sd sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
sd systemctl start hubd
# Type=notify: "start" returned, so hubd said READY=1; the link must be complete now.
unit=$(sd systemctl show -p Type -p ActiveState -p StatusText hubd)
assert_contains "$unit" "Type=notify" "the unit's type"
assert_contains "$unit" "ActiveState=active" "hubd active"
assert_contains "$unit" "StatusText=1 peers" "STATUS= from hubd"
assert_eq "$home_pub" "$(sd wg show wg0 peers)" "wg0's peer right after start"
assert_eq 1 "$(sd cat /proc/sys/net/ipv4/ip_forward)" "forwarding turned on from inside the unit"

log "the unit's bounds: no core dumps, memory, tasks, files; secrets out of view"
limits=$(sd systemctl show -p LimitCORE -p MemoryMax -p TasksMax -p LimitNOFILE hubd)
assert_contains "$limits" "LimitCORE=0" "no core dumps"
assert_contains "$limits" "MemoryMax=536870912" "memory bound"
assert_contains "$limits" "TasksMax=16" "tasks bound"
assert_contains "$limits" "LimitNOFILE=1024" "files bound"
mainpid=$(sd systemctl show -P MainPID hubd)
sd grep -q '^Max core file size *0 *0' "/proc/$mainpid/limits" || fail "hubd may dump core"
sd nsenter -t "$mainpid" -m cat /etc/ssh/hubd-test-key 2>/dev/null && fail "hubd sees /etc/ssh"
sd nsenter -t "$mainpid" -m cat /etc/shadow 2>/dev/null | grep -q . && fail "hubd sees /etc/shadow"
assert_eq "hubd" "$(sd nsenter -t "$mainpid" -m ls /var/lib)" "hubd's view of /var/lib: its own state alone"
sd test -d /var/lib/dpkg || fail "the container has no /var/lib/dpkg: the check above proves nothing"
# The state record: written within RECORD_DELAY_USEC (2 s) of the start, root's alone.
wait_for -t 10 sd test -s /var/lib/hubd/wg0.peers
sd grep -q "^$home_pub 10.8.0.3/32" /var/lib/hubd/wg0.peers || fail "home is not in the state record"
assert_eq "700" "$(sd stat -c %a /var/lib/hubd)" "the state directory's mode"
assert_contains "$(sd ip -o addr show dev wg0)" "10.8.0.1/24" "wg0's address right after start"
wait_for -t 60 ip netns exec home ping -c 1 -W 1 10.8.0.1
sleep 1.1 # a new handshake would show a different second
# The home gateway's "PUBKEY<tab>SECONDS" line of wg show latest-handshakes.
hs_home() { sd wg show wg0 latest-handshakes | grep -F "$home_pub"; }
hs=$(hs_home)
[[ $hs == "$home_pub	"[1-9]* ]] || fail "no handshake: $hs"

log "systemctl reload hubd applies a new peer"
new_pub=$(random_key)
peer_file "$S/etc/hubd" new "$new_pub" "10.8.0.9/32"
sd systemctl reload hubd
sd wg show wg0 peers | grep -qxF "$new_pub" || fail "the new peer is not there after reload"

log "journal: HUBD_EVENT=ready, and config-error with CONFIG_FILE/CONFIG_LINE"
j=$(sd journalctl -o json -u hubd HUBD_EVENT=ready)
assert_eq hubd.service "$(jq -r '._SYSTEMD_UNIT' <<<"$j" | head -n 1)" "ready event in the journal"
printf '[Peer]\nPublicKey = not-a-key\nAllowedIPs = 10.8.0.10/32\n' >"$S/etc/hubd/peers.d/bad.conf"
sd systemctl reload hubd && fail "systemctl reload succeeded with a broken file"
logged_error() { sd journalctl -o json -u hubd HUBD_EVENT=config-error | grep -q bad.conf; }
wait_for logged_error
j=$(sd journalctl -o json -u hubd HUBD_EVENT=config-error)
assert_eq "/etc/hubd/peers.d/bad.conf 2" "$(jq -r 'select(.CONFIG_FILE | endswith("bad.conf")) | "\(.CONFIG_FILE) \(.CONFIG_LINE)"' <<<"$j" | head -n 1)" "config-error fields"
rm "$S/etc/hubd/peers.d/bad.conf"
sd systemctl reload hubd

log "systemctl restart hubd keeps the session"
pid1=$(sd systemctl show -P MainPID hubd)
sd systemctl restart hubd
assert_eq active "$(sd systemctl is-active hubd)" "active after restart"
[ "$(sd systemctl show -P MainPID hubd)" != "$pid1" ] || fail "restart kept the same process"
assert_eq "$hs" "$(hs_home)" "handshake after restart"

log "kill -9: systemd restarts hubd, and the state converges"
pid1=$(sd systemctl show -P MainPID hubd)
sd kill -9 "$pid1"
# Drift while hubd is down: the new peer removed, the address flushed. If the new hubd
# is up already, the flush (last) makes it reconcile everything, the peers included
# (WireGuard itself sends no notifications).
sd wg set wg0 peer "$new_pub" remove
sd ip addr flush dev wg0
restarted() { [ "$(sd systemctl is-active hubd)" = active ] && [ "$(sd systemctl show -P MainPID hubd)" != "$pid1" ]; }
wait_for -t 30 restarted
assert_eq 1 "$(sd systemctl show -P NRestarts hubd)" "NRestarts"
wait_for -t 10 sd sh -c "wg show wg0 peers | grep -qxF '$new_pub'"
assert_contains "$(sd ip -o addr show dev wg0)" "10.8.0.1/24" "address after the restart"
assert_eq "$hs" "$(hs_home)" "handshake after kill -9"
ip netns exec home ping -c 1 -W 2 10.8.0.1 >/dev/null

log "--group under the unit: with SupplementaryGroups= hubd gives the socket that group"
# The unit leaves hubd no CAP_CHOWN: as the socket's owner it may give it only a group it
# is a member of.
printf '[Service]\nExecStart=\nExecStart=%s/hubd --group nogroup\nSupplementaryGroups=nogroup\n' \
	"$sbin" >"$S/etc/systemd/system/hubd.service.d/group.conf"
sd systemctl daemon-reload
sd systemctl restart hubd
assert_eq active "$(sd systemctl is-active hubd)" "hubd with --group under the unit"
assert_eq "root nogroup 660" "$(sd stat -c '%U %G %a' /run/hubd/control.sock)" "the socket's owner, group, mode"

log "stop"
sd systemctl stop hubd
assert_eq inactive "$(sd systemctl is-active hubd || true)" "stopped"
passed=1
