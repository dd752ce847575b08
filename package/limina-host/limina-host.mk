################################################################################
#
# limina-host
#
################################################################################

LIMINA_HOST_VERSION = 0.1.0
LIMINA_HOST_SITE = $(BR2_EXTERNAL_LIMINA_PATH)/..
LIMINA_HOST_SITE_METHOD = local
LIMINA_HOST_LICENSE = MIT or Apache-2.0
LIMINA_HOST_LICENSE_FILES = LICENSE-MIT LICENSE-APACHE

# The repository is the source, as for package/limina: leave out build
# products and the developers' cargo configuration.
HOST_LIMINA_HOST_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/target --exclude=/build --exclude=/output \
	--exclude=/dl --exclude=/.cargo

HOST_LIMINA_HOST_CARGO_HOME = $(@D)/.br-cargo-home
# A build-machine tool: built for speed of building, not for size (the
# workspace's release profile is tuned for the router's flash).
HOST_LIMINA_HOST_CARGO_ENV = \
	CARGO_HOME=$(HOST_LIMINA_HOST_CARGO_HOME) \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=2 \
	CARGO_PROFILE_RELEASE_LTO=false \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
	CARGO_PROFILE_RELEASE_PANIC=unwind

ifeq ($(BR2_PACKAGE_HOST_LIMINA_RUST_ARCH_SUPPORTS),y)
# MIPS: Buildroot has no Rust; host-limina-rust (which package/limina
# uses) has the build machine's std too. Vendored with std's crates, so
# the vendor directory is the one package/limina uses.
HOST_LIMINA_HOST_DEPENDENCIES += host-limina-rust
HOST_LIMINA_HOST_CARGO = $(HOST_LIMINA_RUST_ROOT)/bin/cargo
HOST_LIMINA_HOST_STD_LIBRARY = $(HOST_LIMINA_RUST_ROOT)/lib/rustlib/src/rust/library
HOST_LIMINA_HOST_CARGO_ENV += PATH=$(HOST_LIMINA_RUST_ROOT)/bin:$(BR_PATH)
else
HOST_LIMINA_HOST_DEPENDENCIES += host-rustc
HOST_LIMINA_HOST_CARGO = $(HOST_DIR)/bin/cargo
HOST_LIMINA_HOST_STD_LIBRARY =
endif

# Crates come from the vendor directory package/limina fills in its
# download directory (package/limina/vendor.sh, keyed on Cargo.lock;
# docs/decisions/0051-limina-cargo-vendoring.md): one cargo vendor for
# both packages, and the build itself offline.
define HOST_LIMINA_HOST_CONFIGURE_CMDS
	mkdir -p $(HOST_LIMINA_HOST_CARGO_HOME)
	vendor=$$(PATH=$(dir $(HOST_LIMINA_HOST_CARGO)):$(BR_PATH) \
		CARGO_HOME=$(HOST_LIMINA_HOST_CARGO_HOME) \
		$(BR2_EXTERNAL_LIMINA_PATH)/../package/limina/vendor.sh \
		$(HOST_LIMINA_HOST_CARGO) $(@D) $(LIMINA_DL_DIR) \
		$(HOST_LIMINA_HOST_STD_LIBRARY)) && \
	printf '[source.crates-io]\nreplace-with = "vendored"\n\n[source.vendored]\ndirectory = "%s"\n' \
		"$$vendor" > $(HOST_LIMINA_HOST_CARGO_HOME)/config.toml
endef

define HOST_LIMINA_HOST_BUILD_CMDS
	cd $(@D) && \
	$(HOST_MAKE_ENV) \
		$(HOST_CONFIGURE_OPTS) \
		$(HOST_LIMINA_HOST_CARGO_ENV) \
		$(HOST_LIMINA_HOST_CARGO) build \
			--offline --locked --release --package limina-host
endef

define HOST_LIMINA_HOST_INSTALL_CMDS
	$(INSTALL) -D -m 0755 $(@D)/target/release/limina-host \
		$(HOST_DIR)/bin/limina-host
endef

$(eval $(host-generic-package))
