# The VM scenarios (real in-kernel WireGuard, under qemu when the host kernel lacks it)
# run as one automake test: tests/vm/run boots once for all of them.
# --disable-vm-tests (distcheck, fuzz builds) leaves them out.
if VM_TESTS
TESTS += tests/vm/suite.sh
endif
