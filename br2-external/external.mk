# The packages live in the repository's top-level package/ directory (see
# Config.in), beside the Rust workspace the limina package builds.
include $(sort $(wildcard $(BR2_EXTERNAL_LIMINA_PATH)/../package/*/*.mk))

# Kconfig drops fragment options it cannot satisfy without a word: fail
# right after the kernel is configured when one of the board's fragment
# options is not in the final .config, and say why (limina-host
# kconfig-check, package/limina-host). linux.mk is evaluated before this
# file, so the dependency also goes on the configure step's stamp: the
# rule's prerequisites were fixed when linux.mk was read, while
# LINUX_DEPENDENCIES is still read later (per-package directories,
# show-info, graph-depends).
ifeq ($(BR2_PACKAGE_HOST_LIMINA_HOST),y)
define LIMINA_EXTERNAL_CHECK_KCONFIG
	$(HOST_DIR)/bin/limina-host kconfig-check --arch $(KERNEL_ARCH) \
		$(LINUX_DIR) $(LINUX_KCONFIG_FRAGMENT_FILES)
endef
LINUX_POST_CONFIGURE_HOOKS += LIMINA_EXTERNAL_CHECK_KCONFIG
LINUX_DEPENDENCIES += host-limina-host
$(LINUX_TARGET_CONFIGURE): | host-limina-host
endif

# OpenWrt's ath79 patches and files go into the kernel before Buildroot's
# own patches (package/openwrt-ath79). linux.mk is evaluated before the
# BR2_EXTERNAL packages, so adding to LINUX_DEPENDENCIES here would come too
# late for its rules: order the kernel's patch step after our extraction.
# A kernel from a local tree (LINUX_OVERRIDE_SRCDIR, e.g. scripts/fill-dl)
# has no patch step: there the files go in right after the rsync.
ifeq ($(BR2_PACKAGE_OPENWRT_ATH79),y)
ifeq ($(LINUX_OVERRIDE_SRCDIR),)
LINUX_PRE_PATCH_HOOKS += OPENWRT_ATH79_LINUX_PREPARE
$(LINUX_TARGET_PATCH): | openwrt-ath79-extract
else
LINUX_POST_RSYNC_HOOKS += OPENWRT_ATH79_LINUX_PREPARE
$(LINUX_TARGET_RSYNC): | openwrt-ath79-extract
endif
endif

# Buildroot builds host-s6-rc with --libexecdir=/usr/libexec, so the
# databases s6-rc-compile makes on the host run
# /usr/libexec/s6-rc-fdholder-filler and s6-rc-oneshot-run; the target
# s6-rc installs them in /libexec by default (skarnet's empty prefix).
# Install them where the compiled database looks.
ifeq ($(BR2_PACKAGE_LIMINA_INIT),y)
S6_RC_CONF_OPTS += --libexecdir=/usr/libexec
endif
