################################################################################
#
# openwrt-ath79
#
################################################################################

# The few OpenWrt ath79 files and patches a QCA9531 board needs on top of
# mainline Linux 6.12 (docs/decisions/0065-gl-ar750-on-6.12.md): OpenWrt's
# ath79 device-tree includes, its uimage-fw firmware splitter (mtdsplit)
# and the ath79 watchdog on the watchdog core. Not the whole
# backport/pending/hack series: mainline 6.12 has the SoC, clock, irq,
# serial, SPI and flash support the board needs to boot.
OPENWRT_ATH79_VERSION = 01a1e21863aa30c7a2c252ff06b9aef0cf957970
OPENWRT_ATH79_SITE = https://github.com/openwrt/openwrt.git
OPENWRT_ATH79_SITE_METHOD = git
OPENWRT_ATH79_LICENSE = GPL-2.0
OPENWRT_ATH79_LICENSE_FILES = COPYING
OPENWRT_ATH79_INSTALL_TARGET = NO

# The generated tarball of a git commit is reproducible, but its sha256 can
# only be recorded on a machine that reached github.com; until then the
# content is pinned by the commit id alone, as Buildroot does for a custom
# kernel from git.
BR_NO_CHECK_HASH_FOR += $(OPENWRT_ATH79_SOURCE)

OPENWRT_ATH79_TARGET_DIR = $(OPENWRT_ATH79_DIR)/target/linux

# Files copied into the kernel tree (relative to target/linux/<dir>/files).
OPENWRT_ATH79_FILES = \
	generic/files/drivers/mtd/mtdsplit/Kconfig \
	generic/files/drivers/mtd/mtdsplit/Makefile \
	generic/files/drivers/mtd/mtdsplit/mtdsplit.c \
	generic/files/drivers/mtd/mtdsplit/mtdsplit.h \
	generic/files/drivers/mtd/mtdsplit/mtdsplit_uimage.c \
	generic/files/include/dt-bindings/mtd/partitions/uimage.h

# Patches applied after the files, in this order.
OPENWRT_ATH79_PATCHES = \
	generic/pending-6.12/400-mtd-mtdsplit-support.patch \
	ath79/patches-6.12/830-watchdog-ath79-convert-to-watchdog_device.patch

# The ath79 .dtsi files go where our board's DTS includes them from
# ("qca/qca953x.dtsi").
OPENWRT_ATH79_DTSI = ath79.dtsi qca953x.dtsi

define OPENWRT_ATH79_LINUX_PREPARE
	for f in $(OPENWRT_ATH79_FILES); do \
		$(INSTALL) -D -m 0644 $(OPENWRT_ATH79_TARGET_DIR)/$$f \
			$(LINUX_DIR)/$${f#*/files/} || exit 1; \
	done
	for p in $(OPENWRT_ATH79_PATCHES); do \
		$(APPLY_PATCHES) $(LINUX_DIR) $(OPENWRT_ATH79_TARGET_DIR)/$$(dirname $$p) \
			$$(basename $$p) || exit 1; \
	done
	mkdir -p $(LINUX_DIR)/arch/mips/boot/dts/qca
	for f in $(OPENWRT_ATH79_DTSI); do \
		$(INSTALL) -m 0644 $(OPENWRT_ATH79_TARGET_DIR)/ath79/dts/$$f \
			$(LINUX_DIR)/arch/mips/boot/dts/qca/ || exit 1; \
	done
endef

# The kernel runs OPENWRT_ATH79_LINUX_PREPARE before its patches, or after
# its rsync when its source is a local tree (br2-external/external.mk).

$(eval $(generic-package))
