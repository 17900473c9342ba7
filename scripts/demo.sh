#!/bin/bash
# The demo: install what it needs, build, then run the seed topology of SPEC.md
# (tests/vm/scenarios/50-demo.sh): a phone, configured only from "hubctl peer add",
# fetches a page from a LAN host behind a home router with no port forward, through
# the hub and the home gateway. Under qemu when the host kernel has no WireGuard,
# directly in network namespaces when it has. Exits non-zero if any step fails.
# Run as root on Debian 12.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it installs packages and makes network namespaces)" >&2; exit 1; }
t0=$SECONDS
"$top/scripts/install-deps.sh"
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build-demo
echo "demo: building into build-demo"
(cd build-demo && { [ -f Makefile ] || ../configure -q; } && make -j"$(nproc)" src/hubd/hubd src/hubctl/hubctl >/dev/null)
export HUBD_BUILDDIR="$top/build-demo" HUBD_SRCDIR="$top"
rc=0
"$top/tests/vm/run" demo || rc=$?
echo "demo: $([ $rc = 0 ] && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - t0)) s"
# 77 (cannot run here) is a failure for the demo too.
exit $((rc == 0 ? 0 : 1))
