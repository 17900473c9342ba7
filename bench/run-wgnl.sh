#!/bin/bash
# The wgnl benchmark in a VM: HUBD_BUILDDIR=/abs/build-without-sanitizers \
#   tests/vm/run "$PWD/bench/run-wgnl.sh"
# Prints set/get times of libwgnl (through wgnl-tool) against wg(8) and their
# ratios. Sizes: HUBD_BENCH_SIZES (default "10000 50000"); runs each:
# HUBD_BENCH_REPS (default 3; tests/vm/run passes only HUBD_* variables on).
source "$HUBD_SRCDIR/tests/vm/lib.sh"

export BENCH_REPS=${HUBD_BENCH_REPS:-${BENCH_REPS:-3}}

need_wireguard
need_built "$HUBD_BUILDDIR/bench/bench-wgnl" "$HUBD_BUILDDIR/tests/tools/wgnl-tool"
netns_new wgbench
ip -n wgbench link add wgb0 type wireguard
# shellcheck disable=SC2086
ns_exec wgbench "$HUBD_BUILDDIR/bench/bench-wgnl" wgb0 "$HUBD_BUILDDIR/tests/tools/wgnl-tool" \
	${HUBD_BENCH_SIZES:-10000 50000}
