################################################################################
#
# openwrt-ath79
#
################################################################################

# An OpenWrt tree whose include/kernel-6.6 names Linux 6.6.47: the kernel
# version configs/gl-ar750_defconfig builds, and whose hash that board's
# linux.hash carries. Pinned by commit, downloaded with git (see the .hash
# file for why there is no sha256 yet).
OPENWRT_ATH79_VERSION = 00aa9017fa7c1150438d607119e8ebe3437ea908
OPENWRT_ATH79_SITE = https://github.com/openwrt/openwrt.git
OPENWRT_ATH79_SITE_METHOD = git
OPENWRT_ATH79_LICENSE = GPL-2.0
OPENWRT_ATH79_LICENSE_FILES = COPYING
OPENWRT_ATH79_INSTALL_TARGET = NO
OPENWRT_ATH79_KERNEL_SERIES = 6.6

# The generated tarball of a git commit is reproducible, but its sha256 can
# only be recorded on a machine that reached github.com; until then the
# content is pinned by the commit id alone, as Buildroot does for a custom
# kernel from git.
BR_NO_CHECK_HASH_FOR += $(OPENWRT_ATH79_SOURCE)

OPENWRT_ATH79_TARGET_DIR = $(OPENWRT_ATH79_DIR)/target/linux

# What OpenWrt's kernel build does before Buildroot's own patches: copy the
# generic and ath79 files, then apply the generic backport, pending and
# hack patches and the ath79 patches, in that order. The ath79 .dtsi files
# go where our board's DTS includes them from ("qca/qca953x.dtsi").
define OPENWRT_ATH79_LINUX_PREPARE
	cp -a $(OPENWRT_ATH79_TARGET_DIR)/generic/files/. $(LINUX_DIR)/
	cp -a $(OPENWRT_ATH79_TARGET_DIR)/ath79/files/. $(LINUX_DIR)/
	mkdir -p $(LINUX_DIR)/arch/mips/boot/dts/qca
	cp $(OPENWRT_ATH79_TARGET_DIR)/ath79/dts/*.dtsi \
		$(LINUX_DIR)/arch/mips/boot/dts/qca/
	for dir in generic/backport-$(OPENWRT_ATH79_KERNEL_SERIES) \
		generic/pending-$(OPENWRT_ATH79_KERNEL_SERIES) \
		generic/hack-$(OPENWRT_ATH79_KERNEL_SERIES) \
		ath79/patches-$(OPENWRT_ATH79_KERNEL_SERIES); do \
		$(APPLY_PATCHES) $(LINUX_DIR) \
			$(OPENWRT_ATH79_TARGET_DIR)/$$dir \*.patch || exit 1; \
	done
endef

# The kernel runs OPENWRT_ATH79_LINUX_PREPARE as a pre-patch hook
# (br2-external/external.mk).

$(eval $(generic-package))
