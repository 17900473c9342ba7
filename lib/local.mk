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
tests_unit_test_wgnl_SOURCES = tests/unit/test-wgnl.c
tests_unit_test_wgnl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBMNL_CFLAGS)
tests_unit_test_wgnl_LDADD = lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS) $(CHECK_LIBS)
