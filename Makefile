# Limina's top-level Makefile.
#
# Firmware (Buildroot 2026.02.3, run out of tree in output/<board>):
#   make list-defconfigs  the boards (configs/<board>_defconfig)
#   make <board>_defconfig  configure output/<board>; it becomes the current board
#   make                  build the current board (BOARD=<board> to pick another)
#   make <target>         any other target goes to Buildroot for the current
#                         board: menuconfig, savedefconfig, linux-menuconfig, ...
#   make vendor           fetch the crates limina builds from into BR2_DL_DIR
#                         (needs cargo and network; then builds run offline)
#   make fill-dl          fill BR2_DL_DIR for the current board from the copies
#                         reachable here (scripts/fill-dl; SOURCES=DIR names
#                         a directory of git mirrors OWNER+NAME/repo,
#                         SOURCE_TREES=NAME=DIR the trees fill-dl.toml names)
#   make firmware-check   configure, fill, build and board-test FIRMWARE_BOARDS
#                         (default qemu-mips); skipped without BUILDROOT=
#   BUILDROOT=/path       use this Buildroot tree instead of downloading one
#   BR2_DL_DIR=/path      source downloads (default: dl/)
#   LIMINA_OUTPUT=/path   where output/<board> goes (default: output/)
#
# Test targets (each a stage of `make check`, so CI and laptops run the same
# commands):
#   make check          the whole suite: setup, fmt, clippy, host tests,
#                       cross tests under qemu-user, VM tests, size report
#   make setup          install the tools the tests need (root, Debian 12)
#   make fmt clippy test
#   make docs           every shell command of docs/ run or covered (scripts/docs-check)
#   make host-root      host tests needing root (netns, dnsmasq)
#   make br2-tree       offline checks of the Buildroot tree
#   make cross-test     library tests for mips, mipsel, armv7, aarch64
#   make vm-assets      fetch/build the kernels and busybox the VMs boot
#   make vm-tests       the board-tests VM suite
#   make size-report    stripped size of `limina` per target

CHECK := scripts/check
CROSS_TARGETS := mips-unknown-linux-gnu mipsel-unknown-linux-gnu \
	armv7-unknown-linux-gnueabihf aarch64-unknown-linux-musl

.PHONY: help check setup fmt docs clippy test host-root br2-tree cross-test vm-assets vm-tests size-report

help:
	@sed -n '3,/^[^#]/{/^#/p}' Makefile | sed 's/^# \{0,1\}//'
	@echo
	@echo 'Boards:'
	@$(foreach b,$(BOARDS),echo '  $(b)_defconfig';)

check:
	$(CHECK)

setup:
	scripts/setup

fmt docs clippy test host-root br2-tree vm-assets vm-tests size-report:
	$(CHECK) $@

cross-test:
	$(CHECK) $(addprefix cross:,$(CROSS_TARGETS))

################################################################################
# Buildroot wrapper (the Home Assistant OS / Nerves pattern)
################################################################################

# The LTS release we pin. The sha256 is transcribed from the release's
# signed buildroot-2026.02.3.tar.xz.sign file (GPG-signed by the Buildroot
# release manager); several independent projects pinning this release carry
# the same value.
BR_VERSION := 2026.02.3
BR_TARBALL := buildroot-$(BR_VERSION).tar.xz
BR_URL := https://buildroot.org/downloads/$(BR_TARBALL)
BR_SHA256 := 5a59e7501b0b4ec52c41f4bfa79412320e0b37eae5f719605a258e8d0c6fc7fb

BR2_DL_DIR ?= $(CURDIR)/dl
export BR2_DL_DIR

ifeq ($(BUILDROOT),)
BR_DIR := $(CURDIR)/build/buildroot-$(BR_VERSION)
BR_STAMP := $(BR_DIR)/.stamp_limina_ready
else
BR_DIR := $(BUILDROOT)
BR_STAMP :=
endif

BOARDS := $(sort $(patsubst configs/%_defconfig,%,$(wildcard configs/*_defconfig)))

LIMINA_OUTPUT ?= $(CURDIR)/output
# The current board: BOARD=..., else the last one configured.
BOARD ?= $(shell cat $(LIMINA_OUTPUT)/.board 2>/dev/null)
BR_OUT = $(LIMINA_OUTPUT)/$(BOARD)
BR_MAKE = $(MAKE) -C $(BR_DIR) O=$(BR_OUT) BR2_EXTERNAL=$(CURDIR)/br2-external

# GNU tar's configure (Buildroot's host-tar) refuses to run as root unless
# told; CI and the build machines build as root.
ifeq ($(shell id -u),0)
export FORCE_UNSAFE_CONFIGURE := 1
endif

# Buildroot's host dependencies, checked (and installed, as root) before the
# first configuration: on a bare Debian 12 Buildroot would stop at the first
# missing one ("You must install 'rsync'").
FIRMWARE_SETUP_STAMP := $(CURDIR)/build/.stamp_firmware_setup
$(FIRMWARE_SETUP_STAMP): scripts/setup
	scripts/setup --firmware
	@mkdir -p $(@D) && touch $@

.DEFAULT_GOAL := all
.PHONY: all list-defconfigs buildroot vendor fill-dl firmware-check

all:
	@test -n "$(BOARD)" || { \
		echo "No board configured: run 'make <board>_defconfig' first (make list-defconfigs)." >&2; \
		exit 1; }
	$(if $(BR_STAMP),$(MAKE) buildroot)
	@$(BR_MAKE) || { scripts/build-failed-hint $(BR_OUT) $(BR2_DL_DIR); exit 1; }

list-defconfigs:
	@:
	@$(foreach b,$(BOARDS),echo '$(b)_defconfig';)

buildroot: $(BR_STAMP)

$(addsuffix _defconfig,$(BOARDS)): %_defconfig: $(FIRMWARE_SETUP_STAMP) $(BR_STAMP)
	$(MAKE) -C $(BR_DIR) O=$(LIMINA_OUTPUT)/$* BR2_EXTERNAL=$(CURDIR)/br2-external \
		BR2_DEFCONFIG=$(CURDIR)/configs/$*_defconfig defconfig
	echo $* > $(LIMINA_OUTPUT)/.board

# Fill BR2_DL_DIR for the current board (see scripts/fill-dl).
# SOURCE_TREES: NAME=DIR pairs for fill-dl.toml's tree entries, e.g.
# openwrt=DIR (the OpenWrt files package/openwrt-ath79 uses).
SOURCES ?=
SOURCE_TREES ?=
fill-dl:
	@test -n "$(BOARD)" || { echo "No board configured: run 'make <board>_defconfig' first." >&2; exit 1; }
	scripts/fill-dl $(addprefix --git ,$(SOURCES)) $(addprefix --tree ,$(SOURCE_TREES)) $(BR_OUT)

# The real firmware build and its board tests, board by board.
FIRMWARE_BOARDS ?= qemu-mips
firmware-check:
ifeq ($(BUILDROOT),)
	@echo "firmware-check: skipped: pass BUILDROOT=/path/to/buildroot-$(BR_VERSION) (and SOURCES=/path/to/git-mirrors offline)"
else
	@set -e; for b in $(FIRMWARE_BOARDS); do \
		$(MAKE) --no-print-directory $${b}_defconfig; \
		$(MAKE) --no-print-directory BOARD=$$b fill-dl; \
		$(MAKE) --no-print-directory BOARD=$$b; \
	done
	LIMINA_BR_OUTPUT=$(LIMINA_OUTPUT) cargo test --locked -p limina-board-tests \
		--features vm --test all -- buildroot::
endif

# The crates of the workspace, and for MIPS boards (-Zbuild-std) those of
# Rust 1.88.0's standard library too, vendored where package/limina looks
# for them; rust-src is fetched and checked against limina-rust.hash, and
# left in BR2_DL_DIR for the build.
RUST_SRC := rust-src-1.88.0.tar.xz
vendor:
	package/limina/vendor.sh cargo $(CURDIR) $(BR2_DL_DIR)/limina
	@mkdir -p $(BR2_DL_DIR)/limina-rust build
	@[ -f $(BR2_DL_DIR)/limina-rust/$(RUST_SRC) ] || \
		wget -nv -O $(BR2_DL_DIR)/limina-rust/$(RUST_SRC) https://static.rust-lang.org/dist/$(RUST_SRC)
	@cd $(BR2_DL_DIR)/limina-rust && grep ' $(RUST_SRC)$$' $(CURDIR)/package/limina-rust/limina-rust.hash | \
		sed 's/^sha256 *//' | sha256sum -c --quiet -
	rm -rf build/rust-src && mkdir -p build/rust-src
	tar -xJf $(BR2_DL_DIR)/limina-rust/$(RUST_SRC) -C build/rust-src --strip-components=1
	package/limina/vendor.sh cargo $(CURDIR) $(BR2_DL_DIR)/limina \
		build/rust-src/rust-src/lib/rustlib/src/rust/library
	rm -rf build/rust-src

# Download, verify, extract and patch Buildroot once; the stamp records the
# version, the tarball hash and the patches applied.
$(CURDIR)/build/buildroot-$(BR_VERSION)/.stamp_limina_ready: $(sort $(wildcard patches/buildroot/*.patch))
	@mkdir -p $(BR2_DL_DIR) build
	@if [ ! -f $(BR2_DL_DIR)/$(BR_TARBALL) ]; then \
		echo ">>> downloading $(BR_URL)"; \
		if ! wget -nv -O $(BR2_DL_DIR)/$(BR_TARBALL).tmp $(BR_URL); then \
			rm -f $(BR2_DL_DIR)/$(BR_TARBALL).tmp; \
			echo "error: cannot download $(BR_URL)." >&2; \
			echo "Offline? Either point BUILDROOT=/path/to/buildroot-$(BR_VERSION) at an extracted tree," >&2; \
			echo "or put $(BR_TARBALL) in BR2_DL_DIR (now $(BR2_DL_DIR));" >&2; \
			echo "package sources are read from BR2_DL_DIR too (BR2_DL_DIR=/path/to/dl);" >&2; \
			echo "where upstream sites do not answer, 'make fill-dl' fills it from Debian's" >&2; \
			echo "archive and git mirrors (docs/getting-started.md)." >&2; \
			exit 1; \
		fi; \
		mv $(BR2_DL_DIR)/$(BR_TARBALL).tmp $(BR2_DL_DIR)/$(BR_TARBALL); \
	fi
	@echo "$(BR_SHA256)  $(BR2_DL_DIR)/$(BR_TARBALL)" | sha256sum -c --quiet - || { \
		echo "error: $(BR2_DL_DIR)/$(BR_TARBALL) does not match sha256 $(BR_SHA256); delete it and retry." >&2; \
		exit 1; }
	rm -rf $(@D) $(@D).tmp
	mkdir -p $(@D).tmp
	tar -xJf $(BR2_DL_DIR)/$(BR_TARBALL) -C $(@D).tmp --strip-components=1
	@for p in $^; do \
		echo ">>> applying $$p"; \
		patch -d $(@D).tmp -p1 --forward --batch < $$p || exit 1; \
	done
	mv $(@D).tmp $(@D)
	{ echo "buildroot $(BR_VERSION) sha256 $(BR_SHA256)"; \
	  for p in $^; do sha256sum $$p; done; } > $@

# Make must not try to remake the Makefile through the catch-all below.
Makefile: ;

# Anything else is a Buildroot target for the current board.
%::
	@test -n "$(BOARD)" || { \
		echo "No board configured for '$@': run 'make <board>_defconfig' first (make list-defconfigs)." >&2; \
		exit 1; }
	$(if $(BR_STAMP),$(MAKE) buildroot)
	$(BR_MAKE) $@
