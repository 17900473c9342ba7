# hubctl: the CLI, one file per verb (see src/hubctl.h), and its tests.
bin_PROGRAMS += src/hubctl
src_hubctl_SOURCES = \
	src/hubctl.h \
	src/hubctl-internal.h \
	src/hubctl.c \
	src/hubctl-client.c \
	src/hubctl-reload.c \
	src/hubctl-diff.c \
	src/hubctl-check.c \
	src/hubctl-status.c \
	src/hubctl-metrics.c \
	src/hubctl-peer.c \
	src/alloc.c src/alloc.h \
	src/render.c src/render.h \
	src/format.c src/format.h \
	src/qr.c src/qr.h
HUBCTL_CFLAGS = $(AM_CFLAGS) $(LIBMNL_CFLAGS) $(LIBSODIUM_CFLAGS) $(JSONC_CFLAGS) \
	$(LIBQRENCODE_CFLAGS) $(LIBPNG_CFLAGS)
src_hubctl_CPPFLAGS = $(AM_CPPFLAGS) -DHUBCTL_VERSION='"$(PACKAGE_VERSION)"'
src_hubctl_CFLAGS = $(HUBCTL_CFLAGS)
src_hubctl_LDADD = src/libhubconf.a lib/libwgnl.a $(LIBMNL_LIBS) $(LIBSODIUM_LIBS) $(JSONC_LIBS) \
	$(LIBQRENCODE_LIBS) $(LIBPNG_LIBS)

# The pure helpers, table-driven.
check_PROGRAMS += tests/unit/test-hubctl
TESTS += tests/unit/test-hubctl
tests_unit_test_hubctl_SOURCES = tests/unit/test-hubctl.c \
	src/alloc.c src/render.c src/format.c src/qr.c
tests_unit_test_hubctl_CFLAGS = $(HUBCTL_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_hubctl_LDADD = $(LIBSODIUM_LIBS) $(LIBQRENCODE_LIBS) $(LIBPNG_LIBS) $(CHECK_LIBS)

# The CLI end to end: peer files and outputs, and the verbs against a fake daemon.
check_PROGRAMS += tests/cli/fake-hubd
tests_cli_fake_hubd_SOURCES = tests/cli/fake-hubd.c
tests_cli_fake_hubd_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_cli_fake_hubd_LDADD = $(JSONC_LIBS)
TESTS += tests/cli/peer.sh tests/cli/daemon.sh

bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = contrib/bash-completion/hubctl
