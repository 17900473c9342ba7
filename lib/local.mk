# lib/: libwgnl, our WireGuard generic netlink client on libmnl.
noinst_LIBRARIES += lib/libwgnl.a
lib_libwgnl_a_SOURCES = \
	include/hubd/wgnl.h \
	lib/wgnl-internal.h \
	lib/key.c \
	lib/device.c \
	lib/build.c \
	lib/parse.c \
	lib/genl.c \
	lib/list.c
lib_libwgnl_a_CFLAGS = $(AM_CFLAGS) $(LIBMNL_CFLAGS) $(LIBSODIUM_CFLAGS)

check_PROGRAMS += tests/unit/test-wgnl
TESTS += tests/unit/test-wgnl
tests_unit_test_wgnl_SOURCES = tests/unit/test-wgnl.c \
	tests/unit/fake-kernel.c tests/unit/fake-kernel.h
tests_unit_test_wgnl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBMNL_CFLAGS)
tests_unit_test_wgnl_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS) $(CHECK_LIBS)
# libwgnl.a's socket calls go to the fake kernel (fake-kernel.c's __wrap_ functions), which
# passes them on to libmnl (__real_) when no test has it answering.
tests_unit_test_wgnl_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=mnl_socket_open2,--wrap=mnl_socket_bind,--wrap=mnl_socket_get_portid \
	-Wl,--wrap=mnl_socket_setsockopt,--wrap=mnl_socket_sendto,--wrap=mnl_socket_recvfrom \
	-Wl,--wrap=mnl_socket_close

# A CLI over the library for the VM scenarios and the benchmark.
noinst_PROGRAMS += tests/tools/wgnl-tool
tests_tools_wgnl_tool_SOURCES = tests/tools/wgnl-tool.c
tests_tools_wgnl_tool_CFLAGS = $(AM_CFLAGS) $(LIBSODIUM_CFLAGS)
tests_tools_wgnl_tool_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)

if FUZZERS
check_PROGRAMS += tests/fuzz/fuzz-dump
TESTS += tests/fuzz/dump.fuzz
# The parser is compiled into the harness, so that libFuzzer sees its coverage.
tests_fuzz_fuzz_dump_SOURCES = tests/fuzz/fuzz-dump.c lib/parse.c
tests_fuzz_fuzz_dump_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) $(LIBMNL_CFLAGS) $(LIBSODIUM_CFLAGS)
tests_fuzz_fuzz_dump_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_dump_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS)
endif
EXTRA_DIST += tests/fuzz/dump.fuzz tests/fuzz/corpus/dump
