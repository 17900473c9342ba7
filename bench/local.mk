# bench/: programs that print figures; built by make, never run as tests.
noinst_PROGRAMS += bench/bench-wgnl
bench_bench_wgnl_SOURCES = bench/bench-wgnl.c
bench_bench_wgnl_CFLAGS = $(AM_CFLAGS) $(LIBMNL_CFLAGS)
bench_bench_wgnl_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)
EXTRA_DIST += bench/run-wgnl.sh
# bench-hubd (daemon benchmark): a poller that times file drops against the kernel.
noinst_PROGRAMS += bench/bench-poll
bench_bench_poll_SOURCES = bench/bench-poll.c
bench_bench_poll_CFLAGS = $(AM_CFLAGS) $(LIBMNL_CFLAGS)
bench_bench_poll_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)
EXTRA_DIST += bench/bench-hubd.sh bench/README.md
# run-metrics.sh: one scrape of MetricsListen against wg show dump.
EXTRA_DIST += bench/run-metrics.sh
# run-access.sh: one Access change at 1,000 vs 10,000 peers, packet rate with policies vs none.
EXTRA_DIST += bench/run-access.sh bench/access-poll.pl
