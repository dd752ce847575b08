################################################################################
#
# limina
#
################################################################################

LIMINA_VERSION = 0.1.0
LIMINA_SITE = $(BR2_EXTERNAL_LIMINA_PATH)/..
LIMINA_SITE_METHOD = local
LIMINA_LICENSE = MIT or Apache-2.0
LIMINA_LICENSE_FILES = LICENSE-MIT LICENSE-APACHE

# The repository is the source: leave out build products and the
# developers' cargo configuration (cross linkers, qemu runners).
LIMINA_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/target --exclude=/build --exclude=/output \
	--exclude=/dl --exclude=/.cargo

# Install after busybox, so that our applet links replace its ones.
LIMINA_DEPENDENCIES = $(if $(BR2_PACKAGE_BUSYBOX),busybox)

# One cargo feature of crates/limina per applet group.
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_IFWAIT) += ifwait
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_HOTPLUG) += hotplug
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_KEXEC) += kexec
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_MTD) += mtd
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_OUTPUTS) += outputs
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_SIGN) += sign
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_UBI) += ubi
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_UPGRADE) += upgrade
LIMINA_APPLETS_$(BR2_PACKAGE_LIMINA_WATCHDOG) += watchdog

LIMINA_CARGO_HOME = $(@D)/.br-cargo-home
LIMINA_CARGO_OPTS = \
	--offline \
	--locked \
	--release \
	--package limina \
	--no-default-features \
	--features "$(LIMINA_APPLETS_y)"

ifeq ($(BR2_PACKAGE_HOST_RUSTC_TARGET_ARCH_SUPPORTS),y)
# Buildroot's Rust (host-rust-bin or host-rust) with its prebuilt std.
LIMINA_DEPENDENCIES += host-rustc
LIMINA_RUST_TARGET = $(RUSTC_TARGET_NAME)
LIMINA_CARGO = $(HOST_DIR)/bin/cargo
LIMINA_STD_LIBRARY =
# PKG_CARGO_ENV sets the release profile from Buildroot's optimisation
# options (opt-level 2, no LTO, 16 codegen units by default): put back the
# workspace's, built for size as on MIPS (docs/decisions/0067).
LIMINA_CARGO_ENV = \
	$(PKG_CARGO_ENV) \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
	CARGO_PROFILE_RELEASE_LTO=true \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_HOME=$(LIMINA_CARGO_HOME)
else
# MIPS: no Rust in Buildroot. host-limina-rust brings rustc, cargo and
# rust-src; std is built for the target (RUSTC_BOOTSTRAP allows -Z on a
# stable toolchain) and linked by Buildroot's cross compiler, dynamically
# against the target's musl: Rust ships no self-contained crt objects or
# libunwind for this tier-3 target, and a static std would need both
# (the unwinder is then the toolchain's libgcc_s).
LIMINA_DEPENDENCIES += host-limina-rust
LIMINA_RUST_TARGET = $(call qstrip,$(BR2_ARCH))-unknown-linux-$(LIBC)
LIMINA_CARGO = $(HOST_LIMINA_RUST_ROOT)/bin/cargo
LIMINA_STD_LIBRARY = $(HOST_LIMINA_RUST_ROOT)/lib/rustlib/src/rust/library
LIMINA_CARGO_ENV = \
	PATH=$(HOST_LIMINA_RUST_ROOT)/bin:$(BR_PATH) \
	CARGO_HOME=$(LIMINA_CARGO_HOME) \
	RUSTC_BOOTSTRAP=1 \
	CARGO_PROFILE_RELEASE_PANIC=abort \
	CARGO_TARGET_$(call UPPERCASE,$(LIMINA_RUST_TARGET))_LINKER=$(TARGET_CC) \
	CARGO_TARGET_$(call UPPERCASE,$(LIMINA_RUST_TARGET))_RUSTFLAGS="-C target-feature=-crt-static -Zlocation-detail=none"
# Size (docs/decisions/0067): std built for size, without the backtrace
# symbolizer (panic = "abort" prints no backtrace worth it), and panics
# without file:line. Panic messages themselves stay.
LIMINA_CARGO_OPTS += \
	-Zbuild-std=std,panic_abort \
	-Zbuild-std-features=optimize_for_size \
	--target $(LIMINA_RUST_TARGET)
endif

# Crates come from a vendor directory in the download directory, keyed on
# Cargo.lock (and on std's Cargo.lock for -Zbuild-std): vendor.sh fills it
# with `cargo vendor` when it is missing, which is the only step that needs
# the network; cargo checks every vendored crate against the checksums in
# the lock files. See docs/decisions/0051-limina-cargo-vendoring.md.
define LIMINA_CONFIGURE_CMDS
	mkdir -p $(LIMINA_CARGO_HOME)
	vendor=$$(PATH=$(dir $(LIMINA_CARGO)):$(BR_PATH) \
		CARGO_HOME=$(LIMINA_CARGO_HOME) \
		$(LIMINA_PKGDIR)/vendor.sh $(LIMINA_CARGO) $(@D) \
		$(LIMINA_DL_DIR) $(LIMINA_STD_LIBRARY)) && \
	printf '[source.crates-io]\nreplace-with = "vendored"\n\n[source.vendored]\ndirectory = "%s"\n' \
		"$$vendor" > $(LIMINA_CARGO_HOME)/config.toml
endef

define LIMINA_BUILD_CMDS
	cd $(@D) && \
	$(TARGET_MAKE_ENV) \
		$(TARGET_CONFIGURE_OPTS) \
		$(LIMINA_CARGO_ENV) \
		$(LIMINA_CARGO) build $(LIMINA_CARGO_OPTS)
endef

# Signed images (docs/signing.md): the image carries the public key of
# the build's signing key, written from the secret key on every build so
# that the two match; boards/common/post-image.sh signs the images with it.
ifeq ($(BR2_PACKAGE_LIMINA_SIGN),y)
LIMINA_DEPENDENCIES += host-limina-host
define LIMINA_INSTALL_SIGNING_PUB
	mkdir -p $(TARGET_DIR)/etc/limina
	$(LIMINA_PKGDIR)/signing-key.sh $(HOST_DIR)/bin/limina-host \
		$(TARGET_DIR)/etc/limina/signing.pub > /dev/null
endef
else
define LIMINA_INSTALL_SIGNING_PUB
	rm -f $(TARGET_DIR)/etc/limina/signing.pub
endef
endif
LIMINA_TARGET_FINALIZE_HOOKS += LIMINA_INSTALL_SIGNING_PUB

# The applet links follow the applet table, filtered by the features built.
define LIMINA_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/target/$(LIMINA_RUST_TARGET)/release/limina \
		$(TARGET_DIR)/usr/bin/limina
	for applet in $$($(LIMINA_PKGDIR)/applets.sh \
		$(@D)/crates/limina/src/applets/mod.rs $(LIMINA_APPLETS_y)); do \
		ln -sf limina $(TARGET_DIR)/usr/bin/$$applet || exit 1; \
	done
endef

$(eval $(generic-package))
