# What the daemon and hubctl share: the configuration (parse, verify, load),
# prefixes and diagnostics. Users link:
#   src/common/libhubconf.a lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)
HUBCONF_SOURCES = \
	src/common/config.h \
	src/common/config-internal.h \
	src/common/config.c \
	src/common/config-names.c \
	src/common/config-parse.c \
	src/common/config-verify.c \
	src/common/config-load.c \
	src/common/prefix.c \
	src/common/buf.c src/common/buf.h \
	src/common/access.c src/common/access.h \
	src/common/host.c src/common/host.h \
	src/common/diag.c \
	src/common/macro.h
noinst_LIBRARIES += src/common/libhubconf.a
src_common_libhubconf_a_SOURCES = $(HUBCONF_SOURCES)
src_common_libhubconf_a_CFLAGS = $(AM_CFLAGS)

HUBCONF_LIBS = src/common/libhubconf.a lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)

# The metrics text that hubctl metrics prints and hubd serves on MetricsListen: one
# generator, so the two never differ. Users link $(HUBMETRICS_LIBS).
noinst_LIBRARIES += src/common/libhubmetrics.a
src_common_libhubmetrics_a_SOURCES = src/common/metrics-text.c src/common/metrics-text.h
src_common_libhubmetrics_a_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
HUBMETRICS_LIBS = src/common/libhubmetrics.a $(JSONC_LIBS)

# The text for canned devices, checked line by line and by promtool check metrics.
check_PROGRAMS += tests/unit/test-metrics
TESTS += tests/unit/test-metrics
tests_unit_test_metrics_SOURCES = tests/unit/test-metrics.c
tests_unit_test_metrics_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_metrics_LDADD = $(HUBMETRICS_LIBS) $(CHECK_LIBS)
# contrib/'s alert rules and Grafana dashboard against promtool and the series above.
TESTS += tests/cli/contrib-metrics.sh

# What the machine relies on outside the tunnel, and the verifier keeping peers off it.
check_PROGRAMS += tests/unit/test-host
TESTS += tests/unit/test-host
tests_unit_test_host_SOURCES = tests/unit/test-host.c
tests_unit_test_host_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_host_LDADD = $(HUBCONF_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test-config
TESTS += tests/unit/test-config tests/cli/check.sh
tests_unit_test_config_SOURCES = tests/unit/test-config.c
tests_unit_test_config_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_config_LDADD = $(HUBCONF_LIBS) $(CHECK_LIBS)

if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz-config
TESTS += tests/fuzz/config.fuzz
# The config sources are compiled into the harness so that libFuzzer sees their coverage.
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz-config.c $(HUBCONF_SOURCES) src/hubd/policy.c
tests_fuzz_fuzz_config_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/hubd
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)
endif
