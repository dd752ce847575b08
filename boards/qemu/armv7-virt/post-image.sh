#!/bin/sh
# QEMU armv7 virt post-image hook (run by boards/common/post-image.sh):
#   post-image.sh BINARIES_DIR BOARD_DIR
# The tftpboot developer loop (boards/qemu/aarch64-virt/boot.cmd, shared
# by both virt boards; docs/getting-started.md "TFTP boot"): uImage, the
# zImage in a uImage at 0x41000000 (16 MiB into RAM, clear of where it
# decompresses the kernel, 0x40008000). The zImage is compressed already
# (and decompresses itself), so the uImage is not. boot.scr is
# Buildroot's (BR2_PACKAGE_HOST_UBOOT_TOOLS_BOOT_SCRIPT).
set -eu

binaries_dir=$1
if [ -f "$binaries_dir/zImage" ]; then
	command -v mkimage > /dev/null ||
		{ echo "post-image: no mkimage on PATH (BR2_PACKAGE_HOST_UBOOT_TOOLS)" >&2; exit 1; }
	mkimage -A arm -O linux -T kernel -C none -a 0x41000000 -e 0x41000000 \
		-n "Limina qemu-armv7" -d "$binaries_dir/zImage" "$binaries_dir/uImage.tmp" > /dev/null
	mv "$binaries_dir/uImage.tmp" "$binaries_dir/uImage"
fi
