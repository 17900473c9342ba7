#!/bin/bash
# The demo: build, then show the seed topology working (see README).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install-deps.sh"
[ -x configure ] || autoreconf -fi >/dev/null
mkdir -p build-demo
(cd build-demo && { [ -f Makefile ] || ../configure -q; } && make -j"$(nproc)" >/dev/null)
export HUBD_BUILDDIR="$top/build-demo" HUBD_SRCDIR="$top"
# Until the demo scenario lands, the demo is the VM smoke scenario.
exec "$top/tests/vm/run" smoke
