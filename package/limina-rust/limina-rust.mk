################################################################################
#
# limina-rust
#
################################################################################

# Buildroot 2026.02 has no Rust for MIPS (tier 3 upstream: no prebuilt std).
# This is the same official release as Buildroot's host-rust-bin, plus the
# standard library sources, so that packages build std for the target with
# -Zbuild-std (see package/limina/limina.mk).
LIMINA_RUST_VERSION = 1.88.0
LIMINA_RUST_SITE = https://static.rust-lang.org/dist
LIMINA_RUST_LICENSE = Apache-2.0 or MIT
LIMINA_RUST_LICENSE_FILES = LICENSE-APACHE LICENSE-MIT

HOST_LIMINA_RUST_SOURCE = rust-$(LIMINA_RUST_VERSION)-$(RUSTC_HOST_NAME).tar.xz
HOST_LIMINA_RUST_EXTRA_DOWNLOADS = rust-src-$(LIMINA_RUST_VERSION).tar.xz

define HOST_LIMINA_RUST_EXTRACT_SRC
	mkdir -p $(@D)/rust-src
	$(call suitable-extractor,rust-src-$(LIMINA_RUST_VERSION).tar.xz) \
		$(HOST_LIMINA_RUST_DL_DIR)/rust-src-$(LIMINA_RUST_VERSION).tar.xz | \
		$(TAR) -C $(@D)/rust-src --strip-components=1 $(TAR_OPTIONS) -
endef
HOST_LIMINA_RUST_POST_EXTRACT_HOOKS += HOST_LIMINA_RUST_EXTRACT_SRC

# Installed in a directory of its own, so that it never shadows a
# host-rust-bin in $(HOST_DIR)/bin.
HOST_LIMINA_RUST_ROOT = $(HOST_DIR)/lib/limina-rust

define HOST_LIMINA_RUST_INSTALL_CMDS
	cd $(@D) && ./install.sh \
		--prefix=$(HOST_LIMINA_RUST_ROOT) \
		--disable-ldconfig \
		--components=rustc,cargo,rust-std-$(RUSTC_HOST_NAME)
	cd $(@D)/rust-src && ./install.sh \
		--prefix=$(HOST_LIMINA_RUST_ROOT) \
		--disable-ldconfig
endef

$(eval $(host-generic-package))
