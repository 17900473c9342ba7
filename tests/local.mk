# Shared test plumbing. Unit tests (check) are programs in TESTS; shell
# scenarios end in .sh; libFuzzer runs are X.fuzz files run by run-fuzzer.
TEST_EXTENSIONS = .sh .fuzz
SH_LOG_COMPILER = $(SHELL)
FUZZ_LOG_COMPILER = $(top_srcdir)/tests/fuzz/run-fuzzer
AM_TESTS_ENVIRONMENT = \
	HUBD_BUILDDIR='$(abs_top_builddir)'; export HUBD_BUILDDIR; \
	HUBD_SRCDIR='$(abs_top_srcdir)'; export HUBD_SRCDIR; \
	CK_VERBOSITY=$${CK_VERBOSITY:-normal}; export CK_VERBOSITY;
EXTRA_DIST += tests

if FUZZERS
FUZZ_CFLAGS = -fsanitize=fuzzer
endif
