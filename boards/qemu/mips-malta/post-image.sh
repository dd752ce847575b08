#!/bin/sh
# QEMU malta post-image hook (run by boards/common/post-image.sh):
#   post-image.sh BINARIES_DIR BOARD_DIR
# Makes data.img, the 48 MiB second IDE disk that stands in for the
# router's flash: the kernel turns it into the MTD device "flash"
# (block2mtd, 128 KiB erase blocks) split by mtdparts= into "data" (16 MiB,
# UBI holding the persistent /data, created on first boot), "firmware" and
# "firmware-b" (16 MiB each, the slots `limina upgrade` writes), erased
# (0xff) like new flash, when there is none. An existing image is kept, so
# that /data and the slots survive rebuilds; one of 16 MiB (made before the
# slots were there: /data only) is extended with two erased slots.
set -eu

binaries_dir=$1
data=$binaries_dir/data.img
flash_size=50331648
if [ ! -f "$data" ]; then
	tr '\000' '\377' < /dev/zero | head -c "$flash_size" > "$data.tmp"
	mv "$data.tmp" "$data"
elif [ "$(stat -c %s "$data")" -eq 16777216 ]; then
	tr '\000' '\377' < /dev/zero | head -c $((flash_size - 16777216)) >> "$data"
fi

# The tftpboot developer loop (boot.cmd, docs/getting-started.md "TFTP boot"): uImage, an LZMA
# uImage of vmlinux as U-Boot's bootm wants it, with the load address of the
# ELF's first PT_LOAD segment (where `objcopy -O binary` starts) and its
# entry point. boot.scr is Buildroot's (BR2_PACKAGE_HOST_UBOOT_TOOLS_BOOT_SCRIPT).
vmlinux=$binaries_dir/vmlinux
if [ -f "$vmlinux" ]; then
	objcopy=
	for tool in "$HOST_DIR"/bin/*-buildroot-linux-*-objcopy; do
		[ -x "$tool" ] && objcopy=$tool && break
	done
	[ -n "$objcopy" ] || { echo "post-image: no cross objcopy in $HOST_DIR/bin" >&2; exit 1; }
	load=$(LC_ALL=C readelf -lW "$vmlinux" | awk '$1 == "LOAD" { print $4; exit }')
	entry=$(LC_ALL=C readelf -hW "$vmlinux" | awk '/Entry point address:/ { print $4 }')
	if [ -z "$load" ] || [ -z "$entry" ]; then
		echo "post-image: no load/entry address in $vmlinux" >&2
		exit 1
	fi
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	"$objcopy" -O binary "$vmlinux" "$tmp/vmlinux.bin"
	"$(dirname "$0")/../../common/mkuimage.sh" mips "$load" "$entry" "Limina qemu-mips" \
		"$tmp/vmlinux.bin" "$binaries_dir/uImage"
fi

# firmware.bin, the image `limina upgrade` and `limina trial-boot` take
# (docs/upgrading.md): the uImage, padded with 0xff to the next 128 KiB
# (the erase block of this board's flash, data.img above), then the
# squashfs, as OpenWrt's ath79 images are laid out.
if [ -f "$binaries_dir/uImage" ] && [ -f "$binaries_dir/rootfs.squashfs" ]; then
	erase=131072
	size=$(stat -c %s "$binaries_dir/uImage")
	pad=$(( (erase - size % erase) % erase ))
	{
		cat "$binaries_dir/uImage"
		head -c "$pad" /dev/zero | tr '\000' '\377'
		cat "$binaries_dir/rootfs.squashfs"
	} > "$binaries_dir/firmware.bin.tmp"
	mv "$binaries_dir/firmware.bin.tmp" "$binaries_dir/firmware.bin"
fi
