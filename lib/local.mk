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
