# Limina's top-level Makefile.
#
# Test targets (each a stage of `make check`, so CI and laptops run the same
# commands):
#   make check          the whole suite: setup, fmt, clippy, host tests,
#                       cross tests under qemu-user, VM tests, size report
#   make setup          install the tools the tests need (root, Debian 12)
#   make fmt clippy test
#   make cross-test     library tests for mips, mipsel, armv7, aarch64
#   make vm-assets      fetch/build the kernels and busybox the VMs boot
#   make vm-tests       the board-tests VM suite
#   make size-report    stripped size of `limina` per target

CHECK := scripts/check
CROSS_TARGETS := mips-unknown-linux-gnu mipsel-unknown-linux-gnu \
	armv7-unknown-linux-gnueabihf aarch64-unknown-linux-musl

.PHONY: help check setup fmt clippy test cross-test vm-assets vm-tests size-report

help:
	@sed -n '3,13p' Makefile | sed 's/^# \{0,1\}//'

check:
	$(CHECK)

setup:
	scripts/setup

fmt clippy test vm-assets vm-tests size-report:
	$(CHECK) $@

cross-test:
	$(CHECK) $(addprefix cross:,$(CROSS_TARGETS))
