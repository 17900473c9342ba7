# The daemon. Its pure parts (diff engine, nftables rendering) are also linked
# into the unit tests, so they live in a convenience library.
noinst_LIBRARIES += src/libhubd.a
src_libhubd_a_SOURCES = \
	src/changes.c src/changes.h \
	src/diff.c src/diff.h \
	src/nft.c src/nft.h \
	src/log.c src/log.h \
	src/control-request.c src/control.h
src_libhubd_a_CFLAGS = $(AM_CFLAGS) $(LIBNFTABLES_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(JSONC_CFLAGS)

HUBD_LIBS = src/libhubd.a src/libhubconf.a lib/libwgnl.a \
	$(LIBNL_LIBS) $(LIBNFTABLES_LIBS) $(LIBSYSTEMD_LIBS) $(JSONC_LIBS) \
	$(LIBMNL_LIBS) $(LIBSODIUM_LIBS)

sbin_PROGRAMS += src/hubd
src_hubd_SOURCES = \
	src/hubd.c \
	src/daemon.c src/daemon.h src/daemon-private.h \
	src/reload.c src/coldstart.c \
	src/loop.h \
	src/watch.c \
	src/monitor.c \
	src/control.c \
	src/rtnl.c src/rtnl.h
src_hubd_CFLAGS = $(AM_CFLAGS) $(LIBNL_CFLAGS) $(LIBNFTABLES_CFLAGS) $(LIBSYSTEMD_CFLAGS) \
	$(JSONC_CFLAGS) $(LIBMNL_CFLAGS) $(LIBSODIUM_CFLAGS)
src_hubd_LDADD = $(HUBD_LIBS)

check_PROGRAMS += tests/unit/test-diff
TESTS += tests/unit/test-diff
tests_unit_test_diff_SOURCES = tests/unit/test-diff.c
tests_unit_test_diff_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_diff_LDADD = $(HUBD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test-control
TESTS += tests/unit/test-control
tests_unit_test_control_SOURCES = tests/unit/test-control.c
tests_unit_test_control_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_control_LDADD = src/libhubd.a $(JSONC_LIBS) $(CHECK_LIBS)

if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz-control
TESTS += tests/fuzz/control.fuzz
# The parser is compiled into the harness, so that libFuzzer sees its coverage.
tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz-control.c src/control-request.c src/control.h
tests_fuzz_fuzz_control_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_control_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_control_LDADD = src/libhubd.a $(JSONC_LIBS)
endif
