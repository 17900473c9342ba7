# hubctl: the CLI, one file per verb (see src/hubctl/hubctl.h), and its tests.
HUBCTL_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/hubctl
bin_PROGRAMS += src/hubctl/hubctl
src_hubctl_hubctl_SOURCES = \
	src/hubctl/hubctl.h \
	src/hubctl/hubctl-internal.h \
	src/hubctl/hubctl.c \
	src/hubctl/client.c \
	src/hubctl/reload.c \
	src/hubctl/diff.c \
	src/hubctl/check.c \
	src/hubctl/status.c \
	src/hubctl/metrics.c \
	src/hubctl/peer.c \
	src/hubctl/endpoints.c \
	src/hubctl/takeover.c \
	src/hubctl/init.c \
	src/hubctl/confdir.c \
	src/hubctl/doctor.c src/hubctl/doctor.h \
	src/hubctl/doctor-firewall.c \
	src/hubctl/doctor-net.c \
	src/hubctl/doctor-peers.c \
	src/hubctl/addr-alloc.c src/hubctl/addr-alloc.h \
	src/hubctl/render.c src/hubctl/render.h \
	src/hubctl/format.c src/hubctl/format.h \
	src/hubctl/qr.c src/hubctl/qr.h
HUBCTL_CFLAGS = $(AM_CFLAGS) $(LIBMNL_CFLAGS) $(LIBSODIUM_CFLAGS) $(JSONC_CFLAGS) \
	$(LIBQRENCODE_CFLAGS) $(LIBPNG_CFLAGS) $(LIBNL_CFLAGS) $(LIBNFTABLES_CFLAGS)
src_hubctl_hubctl_CPPFLAGS = $(HUBCTL_CPPFLAGS) -DHUBCTL_VERSION='"$(PACKAGE_VERSION)"'
src_hubctl_hubctl_CFLAGS = $(HUBCTL_CFLAGS)
src_hubctl_hubctl_LDADD = $(HUBCONF_LIBS) $(HUBMETRICS_LIBS) $(JSONC_LIBS) $(LIBQRENCODE_LIBS) $(LIBPNG_LIBS) \
	$(LIBNL_LIBS) $(LIBNFTABLES_LIBS)

# doctor's rules on canned rulesets (tests/unit/doctor/, made in network namespaces by
# make-fixtures.sh there; the tests/ directory is distributed whole) and canned machine state.
check_PROGRAMS += tests/unit/test-doctor
TESTS += tests/unit/test-doctor
tests_unit_test_doctor_SOURCES = tests/unit/test-doctor.c src/hubctl/doctor-firewall.c \
	src/hubctl/doctor-net.c src/hubctl/doctor-peers.c src/hubctl/client.c src/hubctl/format.c
tests_unit_test_doctor_CPPFLAGS = $(HUBCTL_CPPFLAGS) -DDOCTOR_FIXTURES='"$(abs_top_srcdir)/tests/unit/doctor"'
tests_unit_test_doctor_CFLAGS = $(HUBCTL_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_doctor_LDADD = $(HUBCONF_LIBS) $(JSONC_LIBS) $(CHECK_LIBS)

# The pure helpers, table-driven.
check_PROGRAMS += tests/unit/test-hubctl
TESTS += tests/unit/test-hubctl
tests_unit_test_hubctl_SOURCES = tests/unit/test-hubctl.c \
	src/hubctl/addr-alloc.c src/hubctl/render.c src/hubctl/format.c src/hubctl/qr.c
tests_unit_test_hubctl_CPPFLAGS = $(HUBCTL_CPPFLAGS)
tests_unit_test_hubctl_CFLAGS = $(HUBCTL_CFLAGS) $(CHECK_CFLAGS)
# The prefix parser and helpers are the daemon's (src/common/prefix.c).
tests_unit_test_hubctl_LDADD = $(HUBCONF_LIBS) $(LIBQRENCODE_LIBS) $(LIBPNG_LIBS) $(CHECK_LIBS)

# The CLI end to end: peer files and outputs, and the verbs against a fake daemon.
check_PROGRAMS += tests/cli/fake-hubd
tests_cli_fake_hubd_SOURCES = tests/cli/fake-hubd.c
tests_cli_fake_hubd_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_cli_fake_hubd_LDADD = $(JSONC_LIBS)
TESTS += tests/cli/peer.sh tests/cli/daemon.sh tests/cli/init.sh tests/cli/doctor.sh tests/cli/site.sh
TESTS += tests/cli/ha.sh
TESTS += tests/cli/access.sh

bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = contrib/bash-completion/hubctl
