# bench/: programs that print figures; built by make, never run as tests.
noinst_PROGRAMS += bench/bench-wgnl
bench_bench_wgnl_SOURCES = bench/bench-wgnl.c
bench_bench_wgnl_CFLAGS = $(AM_CFLAGS) $(LIBMNL_CFLAGS)
bench_bench_wgnl_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)
EXTRA_DIST += bench/run-wgnl.sh
