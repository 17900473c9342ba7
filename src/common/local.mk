# Configuration: parser, verifier and loader of hubd.conf and peers.d, shared
# by the daemon and hubctl. Users link:
#   src/libhubconf.a lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)
noinst_LIBRARIES += src/libhubconf.a
src_libhubconf_a_SOURCES = \
	src/config.h \
	src/config-internal.h \
	src/config-names.c \
	src/config-parse.c \
	src/config-verify.c \
	src/config-load.c \
	src/prefix.c \
	src/diag.c
src_libhubconf_a_CFLAGS = $(AM_CFLAGS)

HUBCONF_LIBS = src/libhubconf.a lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)

check_PROGRAMS += tests/unit/test-config
TESTS += tests/unit/test-config tests/cli/check.sh
tests_unit_test_config_SOURCES = tests/unit/test-config.c
tests_unit_test_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_config_LDADD = $(HUBCONF_LIBS) $(CHECK_LIBS)

if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz-config
TESTS += tests/fuzz/config.fuzz
# The config sources are compiled into the harness so that libFuzzer sees their coverage.
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c $(src_libhubconf_a_SOURCES)
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)
endif
