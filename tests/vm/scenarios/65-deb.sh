#!/bin/bash
# The Debian package under a real systemd. The root is the bare Debian 12 that
# tests/deb/run left with the package (and systemd) installed ($HUBD_DEB_ROOT), a tmpfs
# overlaid on it; systemd boots it as PID 1 of its own namespaces, as in 60-systemd.
# Checked: the enabled unit starts at boot with no hubd.conf and waits without a crash
# loop (STATUS= and the journal say so); "hubctl init" is applied without a restart;
# "systemctl start hubd" after init; "hubctl peer add phone" and "systemctl reload hubd";
# the journal has HUBD_EVENT=ready; "systemctl stop hubd" leaves the link and its peers;
# "systemd-analyze security hubd" on the installed unit is at most 2.5; an upgrade keeps
# the running hubd (same process); removing the package stops it and leaves the link.
source "$HUBD_SRCDIR/tests/vm/lib.sh"
source "$HUBD_SRCDIR/tests/vm/hubd-lib.sh"

need_wireguard
need_cmd nsenter unshare ps wg ip
ROOT=${HUBD_DEB_ROOT:-/var/cache/hubd-test/deb-root}
[ -x "$ROOT/usr/sbin/hubd" ] && [ -x "$ROOT/lib/systemd/systemd" ] ||
	skip "no root with the package installed at $ROOT: run tests/deb/run first"

# --- the root: a tmpfs overlaid on the installed chroot ------------------------------
R=/tmp/deb
mkdir -p $R
mount -t tmpfs -o mode=0755 tmpfs $R
cleanup umount -l $R
mkdir -p $R/upper $R/work $R/root
mount -t overlay overlay -o lowerdir="$ROOT",upperdir=$R/upper,workdir=$R/work $R/root
cleanup umount -l $R/root
S=$R/root
[ -d "$S/etc/hubd/peers.d" ] || fail "the package made no /etc/hubd/peers.d"
[ ! -e "$S/etc/hubd/hubd.conf" ] || fail "$ROOT has a hubd.conf: the boot below would prove nothing"
[ -L "$S/etc/systemd/system/multi-user.target.wants/hubd.service" ] || fail "the unit is not enabled"

# --- systemd as PID 1, booting multi-user.target --------------------------------------
log "boot the installed system: the enabled hubd starts with no configuration"
[ -e /sys/fs/cgroup/cgroup.procs ] || fail "no cgroup2 at /sys/fs/cgroup"
mkdir /sys/fs/cgroup/hubd-deb
cleanup find /sys/fs/cgroup/hubd-deb -depth -type d -exec rmdir {} +
boot='echo $$ >/sys/fs/cgroup/hubd-deb/cgroup.procs && exec unshare --kill-child --pid --fork --mount --net --uts --cgroup --propagation private sh -c "
	cd $1 && mount --rbind /dev dev && mount -t proc proc proc && mount -t sysfs sysfs sys &&
	mount -t cgroup2 cgroup2 sys/fs/cgroup && mount -t tmpfs -o mode=0755 tmpfs run &&
	mount -t tmpfs -o mode=1777 tmpfs tmp && mkdir -p .oldroot && pivot_root . .oldroot &&
	umount -l /.oldroot && exec /lib/systemd/systemd --unit=multi-user.target --log-target=journal --show-status=no
"'
background env container=hubd-vm sh -c "$boot" sh "$S" >"$R/console.log" 2>&1
upid=$!
cleanup _show_log "$R/console.log"
child() { sdpid=$(ps -o pid= --ppid "$upid") && sdpid=${sdpid// /} && [ -n "$sdpid" ]; }
cleanup sh -c "kill -9 \$(ps -o pid= --ppid $upid)"
wait_for -t 10 child
child
# sd CMD...: CMD inside the container, its own binaries (systemctl, journalctl, hubctl).
sd() { nsenter -t "$sdpid" -m -p -n -u -C -r -w -- "$@"; }
# net CMD...: this machine's CMD (wg, ip: not in a bare Debian) in the container's network.
net() { nsenter -t "$sdpid" -n -- "$@"; }
booted() { case $(sd systemctl is-system-running 2>/dev/null) in running | degraded) return 0 ;; esac; return 1; }
wait_for -t 120 booted
_post_mortem() {
	[ -z "$passed" ] || return 0
	{
		echo "--- the container:"
		sd systemctl --no-pager --failed || true
		sd systemctl --no-pager status hubd || true
		sd journalctl -u hubd --no-pager | tail -n 40
		net ip -br link
		net wg show
	} >&9 2>&1
}
passed=
cleanup _post_mortem

log "no hubd.conf: active, waiting, no restarts"
assert_eq active "$(sd systemctl is-active hubd || true)" "hubd started at boot"
sleep 3 # a crash loop (Restart=on-failure, RestartSec=1s) would show now
unit=$(sd systemctl show -p ActiveState -p NRestarts -p StatusText hubd)
assert_contains "$unit" "ActiveState=active" "hubd without a configuration"
assert_contains "$unit" "NRestarts=0" "hubd without a configuration"
assert_contains "$unit" "StatusText=waiting for a usable configuration" "STATUS= without a configuration"
sd journalctl -u hubd -o cat --no-pager | grep -q 'no usable configuration in /etc/hubd: waiting' ||
	fail "the journal does not say hubd waits for a configuration"
! net ip link show wg0 2>/dev/null || fail "wg0 exists without a configuration"

log "hubctl init (peer add needs the endpoint): the waiting hubd applies it"
sd hubctl init --endpoint 192.0.2.1:51820 >"$R/init.out" 2>&1 || { cat "$R/init.out"; fail "hubctl init"; }
hub_pub=$(grep -oE '[A-Za-z0-9+/]{43}=' "$R/init.out" | head -n 1)
[ -n "$hub_pub" ] || fail "hubctl init printed no public key: $(cat "$R/init.out")"
wait_for -t 30 net ip link show wg0
wait_for -t 30 sh -c "[ \"\$(nsenter -t $sdpid -n wg show wg0 public-key)\" = '$hub_pub' ]"
status_ok() { sd systemctl show -P StatusText hubd | grep -q '^0 peers'; }
wait_for -t 10 status_ok
assert_eq 0 "$(sd systemctl show -P NRestarts hubd)" "restarts while waiting for a configuration"

log "systemctl stop, then start after init"
sd systemctl stop hubd
net ip link show wg0 >/dev/null || fail "systemctl stop removed wg0"
sd systemctl start hubd
assert_eq active "$(sd systemctl is-active hubd)" "hubd after systemctl start"
assert_contains "$(sd systemctl show -p StatusText hubd)" "StatusText=0 peers" "STATUS= after start"

log "hubctl peer add phone, systemctl reload hubd"
sd hubctl peer add phone --qr none >"$R/phone.conf" 2>"$R/phone.err" || { cat "$R/phone.err"; fail "hubctl peer add phone"; }
phone_pub=$(sd sh -c 'sed -n "s/^PublicKey *= *//p" /etc/hubd/peers.d/phone.conf')
[ -n "$phone_pub" ] || fail "no /etc/hubd/peers.d/phone.conf"
sd systemctl reload hubd
net wg show wg0 peers | grep -qxF "$phone_pub" || fail "phone is not a peer of wg0 after reload"
assert_contains "$(sd systemctl show -p StatusText hubd)" "StatusText=1 peers" "STATUS= after reload"

log "journal: HUBD_EVENT=ready"
sd journalctl -o export -u hubd HUBD_EVENT=ready | grep -q '^_SYSTEMD_UNIT=hubd.service$' ||
	fail "no HUBD_EVENT=ready entry of hubd.service in the journal"

log "systemctl stop leaves the link and its peers"
sd systemctl stop hubd
assert_eq inactive "$(sd systemctl is-active hubd || true)" "stopped"
net wg show wg0 peers | grep -qxF "$phone_pub" || fail "stop took phone off wg0"

log "systemd-analyze security hubd, on the installed unit"
sec=$(sd systemd-analyze security --no-pager hubd 2>&1 | grep 'Overall exposure level') ||
	fail "systemd-analyze security hubd gave no figure"
echo "$sec"
[[ $sec =~ level\ for\ hubd\.service:\ ([0-9]+)\.([0-9]) ]] || fail "no exposure figure in: $sec"
[ $((BASH_REMATCH[1] * 10 + BASH_REMATCH[2])) -le 25 ] || fail "exposure above 2.5: $sec"

log "an upgrade (the same package again) neither stops nor restarts a running hubd"
version=$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${Version}' hubd)
deb=${ROOT%/*}/hubd_${version}_amd64.deb
[ -f "$deb" ] || fail "no $deb (tests/deb/run keeps it beside the root)"
cp "$deb" "$S/root/hubd.deb"
sd systemctl start hubd
pid=$(sd systemctl show -P MainPID hubd)
sd dpkg -i /root/hubd.deb >"$R/upgrade.log" 2>&1 || { cat "$R/upgrade.log"; fail "dpkg -i over the installed package"; }
assert_eq active "$(sd systemctl is-active hubd)" "hubd after the upgrade"
assert_eq "$pid" "$(sd systemctl show -P MainPID hubd)" "hubd's process across the upgrade"

log "removing the package (dpkg --remove): hubd stops; the link, its peers and /etc/hubd stay"
sd dpkg --remove hubd >"$R/remove.log" 2>&1 || { cat "$R/remove.log"; fail "dpkg --remove hubd"; }
assert_eq inactive "$(sd systemctl is-active hubd || true)" "hubd after remove"
net wg show wg0 peers | grep -qxF "$phone_pub" || fail "removing the package took phone off wg0"
sd test -f /etc/hubd/private.key || fail "remove took /etc/hubd/private.key"
passed=1
