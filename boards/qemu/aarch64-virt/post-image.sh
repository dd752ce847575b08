#!/bin/sh
# QEMU aarch64 virt post-image hook (run by boards/common/post-image.sh):
#   post-image.sh BINARIES_DIR BOARD_DIR
# The tftpboot developer loop (boot.cmd, docs/getting-started.md "TFTP
# boot"): uImage, an LZMA uImage of the arm64 Image at 0x40400000 (the
# first 2 MiB-aligned address after the 4 MiB U-Boot keeps for QEMU's
# device tree and its scripts; the Image's text_offset is 0). boot.scr is
# Buildroot's (BR2_PACKAGE_HOST_UBOOT_TOOLS_BOOT_SCRIPT).
set -eu

binaries_dir=$1
board_dir=$2
if [ -f "$binaries_dir/Image" ]; then
	"$board_dir/../../common/mkuimage.sh" arm64 0x40400000 0x40400000 \
		"Limina qemu-aarch64" "$binaries_dir/Image" "$binaries_dir/uImage"
fi
