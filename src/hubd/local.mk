# The daemon. Its parts that need no kernel (diff engine, nftables rendering,
# change records, the control request parser, the log) are also linked into
# the unit tests, so they live in a convenience library.
HUBD_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/hubd
noinst_LIBRARIES += src/hubd/libhubd.a
src_hubd_libhubd_a_SOURCES = \
	src/hubd/changes.c src/hubd/changes.h \
	src/hubd/diff.c src/hubd/diff.h \
	src/hubd/nft.c src/hubd/nft.h \
	src/hubd/policy.c src/hubd/policy.h \
	src/hubd/peer-index.c src/hubd/peer-index.h \
	src/common/log.c src/common/log.h \
	src/hubd/control-request.c src/hubd/control.h \
	src/hubd/control-status.c
src_hubd_libhubd_a_CPPFLAGS = $(HUBD_CPPFLAGS)
src_hubd_libhubd_a_CFLAGS = $(AM_CFLAGS) $(LIBNFTABLES_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(JSONC_CFLAGS)

HUBD_LIBS = src/hubd/libhubd.a src/common/libhubconf.a lib/libwgnl.a \
	$(LIBNL_LIBS) $(LIBNFTABLES_LIBS) $(LIBSYSTEMD_LIBS) $(JSONC_LIBS) \
	$(LIBMNL_LIBS) $(LIBSODIUM_LIBS)

# The reconcile and what it uses of the kernel: everything but the loop and its
# sources, so that a unit test can drive it against a fake kernel.
noinst_LIBRARIES += src/hubd/libhubdcore.a
src_hubd_libhubdcore_a_SOURCES = \
	src/hubd/daemon.c src/hubd/daemon.h \
	src/hubd/reconcile.c src/hubd/reconcile.h \
	src/hubd/reconcile-full.c \
	src/hubd/reconcile-files.c \
	src/hubd/reconcile-cold.c \
	src/hubd/record.c src/hubd/record.h \
	src/hubd/peer-state.c src/hubd/peer-state.h \
	src/hubd/health.c \
	src/hubd/net-sync.c src/hubd/net-sync.h \
	src/hubd/report.c src/hubd/report.h \
	src/hubd/rtnl.c src/hubd/rtnl.h \
	src/hubd/route-delta.c src/hubd/route-delta.h \
	src/hubd/takeover.c src/hubd/takeover.h
src_hubd_libhubdcore_a_CPPFLAGS = $(HUBD_CPPFLAGS)
src_hubd_libhubdcore_a_CFLAGS = $(AM_CFLAGS) $(LIBNL_CFLAGS) $(LIBNFTABLES_CFLAGS) \
	$(LIBSYSTEMD_CFLAGS) $(JSONC_CFLAGS) $(LIBMNL_CFLAGS) $(LIBSODIUM_CFLAGS)

sbin_PROGRAMS += src/hubd/hubd
src_hubd_hubd_SOURCES = \
	src/hubd/main.c \
	src/hubd/loop.c src/hubd/loop.h \
	src/hubd/expiry.c \
	src/hubd/watch.c \
	src/hubd/monitor.c \
	src/hubd/resolve.c \
	src/hubd/control.c \
	src/hubd/metrics-http.c
src_hubd_hubd_CPPFLAGS = $(HUBD_CPPFLAGS)
src_hubd_hubd_CFLAGS = $(AM_CFLAGS) $(LIBNL_CFLAGS) $(LIBNFTABLES_CFLAGS) $(LIBSYSTEMD_CFLAGS) \
	$(JSONC_CFLAGS) $(LIBMNL_CFLAGS) $(LIBSODIUM_CFLAGS) $(LIBMICROHTTPD_CFLAGS)
src_hubd_hubd_LDADD = src/hubd/libhubdcore.a $(HUBD_LIBS) $(HUBMETRICS_LIBS) $(LIBMICROHTTPD_LIBS)

# The daemon's files depend on each other without a cycle (read off the objects).
TESTS += tests/unit/layering.sh

check_PROGRAMS += tests/unit/test-diff
TESTS += tests/unit/test-diff
tests_unit_test_diff_SOURCES = tests/unit/test-diff.c
tests_unit_test_diff_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_unit_test_diff_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_diff_LDADD = $(HUBD_LIBS) $(CHECK_LIBS)

# Access and ExpiresAt: values, expired peers, and the policy's nftables elements.
check_PROGRAMS += tests/unit/test-access
TESTS += tests/unit/test-access
tests_unit_test_access_SOURCES = tests/unit/test-access.c
tests_unit_test_access_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_unit_test_access_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_access_LDADD = $(HUBD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/test-control
TESTS += tests/unit/test-control
tests_unit_test_control_SOURCES = tests/unit/test-control.c
tests_unit_test_control_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_unit_test_control_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_control_LDADD = src/hubd/libhubd.a src/common/libhubconf.a $(JSONC_LIBS) $(CHECK_LIBS)

# The changed-files path against the full one, on two fake kernels: libwgnl.a's socket
# calls go to fake-kernel.c's __wrap_ functions, and the rest of the kernel (the link,
# addresses, routes, nftables) to the test's stubs.
check_PROGRAMS += tests/unit/test-reconcile
TESTS += tests/unit/test-reconcile
tests_unit_test_reconcile_SOURCES = tests/unit/test-reconcile.c \
	tests/unit/fake-kernel.c tests/unit/fake-kernel.h
tests_unit_test_reconcile_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_unit_test_reconcile_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBMNL_CFLAGS) \
	$(LIBSODIUM_CFLAGS)
tests_unit_test_reconcile_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=mnl_socket_open2,--wrap=mnl_socket_bind,--wrap=mnl_socket_get_portid \
	-Wl,--wrap=mnl_socket_setsockopt,--wrap=mnl_socket_sendto,--wrap=mnl_socket_recvfrom \
	-Wl,--wrap=mnl_socket_close \
	-Wl,--wrap=hubd_link_sync,--wrap=hubd_link_up,--wrap=hubd_net_sync_parts \
	-Wl,--wrap=hubd_host_read,--wrap=hubd_route_change \
	-Wl,--wrap=hubd_nft_has_policy,--wrap=hubd_nft_policy_delta
tests_unit_test_reconcile_LDADD = src/hubd/libhubdcore.a $(HUBD_LIBS) $(CHECK_LIBS)

# hubctl takeover's endpoints file, table-driven.
check_PROGRAMS += tests/unit/test-takeover
TESTS += tests/unit/test-takeover
tests_unit_test_takeover_SOURCES = tests/unit/test-takeover.c
tests_unit_test_takeover_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_unit_test_takeover_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_takeover_LDADD = src/hubd/libhubdcore.a $(HUBD_LIBS) $(CHECK_LIBS)

# The net sync fails closed: forwarding only once the table is in place.
check_PROGRAMS += tests/unit/test-net-sync
TESTS += tests/unit/test-net-sync
tests_unit_test_net_sync_SOURCES = tests/unit/test-net-sync.c
tests_unit_test_net_sync_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_unit_test_net_sync_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_net_sync_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=hubd_addr_sync,--wrap=hubd_route_sync,--wrap=hubd_forwarding_sync \
	-Wl,--wrap=hubd_nft_sync
tests_unit_test_net_sync_LDADD = src/hubd/libhubdcore.a $(HUBD_LIBS) $(CHECK_LIBS)

# What keeps a big hub cheap: the health timer's spacing, a few peers' own routes, the
# filter that keeps hubd's own rtnetlink echoes out of its monitor socket.
check_PROGRAMS += tests/unit/test-scale
TESTS += tests/unit/test-scale
tests_unit_test_scale_SOURCES = tests/unit/test-scale.c
tests_unit_test_scale_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_unit_test_scale_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_scale_LDADD = src/hubd/libhubdcore.a $(HUBD_LIBS) $(CHECK_LIBS)

# The state record: who held what, for incumbency after a reboot.
check_PROGRAMS += tests/unit/test-record
TESTS += tests/unit/test-record
tests_unit_test_record_SOURCES = tests/unit/test-record.c
tests_unit_test_record_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_unit_test_record_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_record_LDADD = src/hubd/libhubdcore.a $(HUBD_LIBS) $(CHECK_LIBS)

if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz-control
TESTS += tests/fuzz/control.fuzz
# The parser is compiled into the harness, so that libFuzzer sees its coverage.
tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz-control.c src/hubd/control-request.c \
	src/hubd/control.h
tests_fuzz_fuzz_control_CPPFLAGS = $(HUBD_CPPFLAGS)
tests_fuzz_fuzz_control_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_control_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_control_LDADD = src/hubd/libhubd.a $(JSONC_LIBS)
endif
