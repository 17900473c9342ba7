#!/bin/bash
# The test command: install what the tests need, build, run every test.
#   0. the Debian package in bare Debian 12 chroots (tests/deb/run);
#   1. the ASan/UBSan build: check unit tests and the VM scenarios (real WireGuard),
#      with a plain build's hubd for the valgrind scenario;
#   2. a clang build with libFuzzer: each harness for HUBD_FUZZ_SECONDS;
#   3. make distcheck.
# Nothing is skipped: a skipped test (exit 77) fails this script.
set -euo pipefail
start=$(date +%s)
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)

step() { printf '\n==== %s (%ds)\n' "$*" $(($(date +%s) - start)); }

step "install dependencies"
"$top/scripts/install-deps.sh"

step "autoreconf"
autoreconf -fi >/dev/null 2>&1 || autoreconf -fi

summary() {
	local dir=$1
	# Every test's verdict, then each VM scenario's (the VM suite is one automake test).
	grep -h -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' "$dir"/test-suite.log 2>/dev/null || true
	if [ -f "$dir/tests/vm/suite.log" ]; then
		echo "VM scenarios:"
		grep -h -E '^(PASS|FAIL|SKIP): |^[0-9]+ passed, ' "$dir/tests/vm/suite.log" | sed 's/^/  /' || true
	fi
	local skipped
	skipped=$(grep -h -E '^# SKIP: +[0-9]+' "$dir"/test-suite.log | awk '{s+=$3} END {print s+0}')
	if [ "$skipped" != 0 ]; then
		echo "test-all: $skipped test(s) skipped in $dir: nothing may skip here" >&2
		return 1
	fi
}

# Under TCG on a loaded 2-core machine the heaviest scenario (20-wgnl: a peer with
# 100,000 allowed IPs, set both ways) takes about 6 minutes; give each one 15.
export HUBD_SCENARIO_TIMEOUT=${HUBD_SCENARIO_TIMEOUT:-900}
# A VM scenario that skips (exit 77) fails the suite here: nothing may skip.
export HUBD_NO_SKIP=1

# valgrind cannot run an ASan binary: tests/vm/scenarios/80-valgrind.sh runs the hubd of
# a plain build, found through HUBD_PLAIN_BUILDDIR (passed on to the VM like every HUBD_*).
step "plain build of hubd, for the valgrind scenario"
mkdir -p build-plain
(cd build-plain && ../configure -q --disable-vm-tests && make -j"$jobs" src/hubd/hubd >/dev/null)
export HUBD_PLAIN_BUILDDIR=$top/build-plain

# The Debian package, built, linted, installed and purged in bare Debian 12 chroots; the
# installed root it leaves is what the VM scenario 65-deb boots (so this runs first).
step "Debian package (tests/deb/run)"
"$top/tests/deb/run"

step "ASan/UBSan build: unit tests and VM scenarios"
mkdir -p build-asan
(cd build-asan && ../configure -q --enable-sanitizers && make -j"$jobs" >/dev/null &&
	make -j1 check VERBOSE=1) || { cat build-asan/test-suite.log 2>/dev/null | tail -n 200; exit 1; }
summary build-asan

step "libFuzzer build: each harness for ${HUBD_FUZZ_SECONDS:=60} s"
export HUBD_FUZZ_SECONDS
mkdir -p build-fuzz
(cd build-fuzz && CC=clang ../configure -q --enable-fuzzers --enable-sanitizers --disable-vm-tests &&
	make -j"$jobs" >/dev/null && make -j1 check VERBOSE=1) || exit 1
summary build-fuzz

step "make distcheck"
mkdir -p build-dist
(cd build-dist && ../configure -q --disable-vm-tests && make -j"$jobs" distcheck \
	DISTCHECK_CONFIGURE_FLAGS=--disable-vm-tests >distcheck.log 2>&1) ||
	{ tail -n 60 build-dist/distcheck.log; exit 1; }
grep -E 'archives ready|\.tar\.gz' build-dist/distcheck.log | head -n 3

# One closing line over both test builds: automake tests plus the VM scenarios inside the suite.
count() { grep -h -E "^# $1: +[0-9]+" build-asan/test-suite.log build-fuzz/test-suite.log | awk '{s+=$3} END {print s+0}'; }
vm_pass=$(grep -c -E '^PASS: ' build-asan/tests/vm/suite.log 2>/dev/null || echo 0)
step "all tests passed in $(($(date +%s) - start)) s"
echo "tests: $(($(count PASS) + vm_pass)) passed, $(count FAIL) failed"
