# lib/: libwgnl, our WireGuard generic netlink client on libmnl.
noinst_LIBRARIES += lib/libwgnl.a
lib_libwgnl_a_SOURCES = \
	include/hubd/wgnl.h \
	lib/key.c
lib_libwgnl_a_CFLAGS = $(AM_CFLAGS) $(LIBMNL_CFLAGS) $(LIBSODIUM_CFLAGS)
