#!/bin/sh
# The automake test for the VM scenarios: every scenario in tests/vm/scenarios/, in
# one boot. tests/local.mk exports HUBD_BUILDDIR and HUBD_SRCDIR; exit 77 (skip) when
# there is no root or no qemu, which scripts/test-all.sh then refuses.
HUBD_SRCDIR=${HUBD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export HUBD_SRCDIR
if [ -z "${HUBD_BUILDDIR:-}" ]; then
	echo "suite.sh: HUBD_BUILDDIR is not set (run through make check)" >&2
	exit 99
fi
exec "$HUBD_SRCDIR/tests/vm/run"
