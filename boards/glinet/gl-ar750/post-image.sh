#!/bin/sh
# GL-AR750 images, from vmlinux.bin, the board's DTB and rootfs.squashfs:
#   uImage        lzma-compressed kernel with the DTB appended, for U-Boot
#                 (load and entry address 0x80060000)
#   firmware.bin  uImage padded to the 64 KiB erase block, then the
#                 squashfs: what goes into the "firmware" partition
#                 (0xfa0000 bytes at 0x60000); refused if it does not fit
#   boot.scr      the TFTP boot script, from boot.cmd
#   vmlinux       the ELF kernel, copied from the kernel build: what
#                 `limina trial-boot vmlinux rootfs.squashfs` loads from a
#                 running Limina (docs/trial-boot.md); it is faster and
#                 lighter than `limina trial-boot firmware.bin`
# Usage: post-image.sh BINARIES_DIR BOARD_DIR
set -eu

binaries_dir=$(cd "$1" && pwd)
board_dir=$(cd "$2" && pwd)
firmware_max=$((0xfa0000))
load_addr=0x80060000

# mkimage and genimage: the build machine's (scripts/setup --firmware
# installs u-boot-tools and genimage), unless Buildroot built its own.
export PATH="${HOST_DIR:+$HOST_DIR/bin:}$PATH"
cd "$binaries_dir"

cat vmlinux.bin qca9531_glinet_gl-ar750.dtb > vmlinux-dtb.bin
# The lzma_alone format U-Boot's decompressor reads, with OpenWrt's
# lc/lp/pb for MIPS code.
xz --format=lzma --lzma1=preset=9,lc=1,lp=2,pb=2 --stdout vmlinux-dtb.bin > vmlinux-dtb.bin.lzma
mkimage -A mips -O linux -T kernel -C lzma -a "$load_addr" -e "$load_addr" \
	-n "Limina GL-AR750" -d vmlinux-dtb.bin.lzma uImage > /dev/null

# The TFTP boot script (boot.cmd), for U-Boot's source command.
mkimage -A mips -O linux -T script -C none -n "Limina GL-AR750 TFTP boot" \
	-d "$board_dir/boot.cmd" boot.scr > /dev/null

rm -f firmware.bin
genimage \
	--rootpath "${TARGET_DIR:-/nonexistent}" \
	--tmppath "${BUILD_DIR:-/tmp}/genimage-gl-ar750.tmp" \
	--inputpath "$binaries_dir" \
	--outputpath "$binaries_dir" \
	--config "$board_dir/genimage.cfg"

size=$(stat -c %s firmware.bin)
if [ "$size" -gt "$firmware_max" ]; then
	rm -f firmware.bin
	echo "post-image: firmware.bin is $size bytes, the firmware partition holds $firmware_max: not written" >&2
	exit 1
fi
printf 'post-image: firmware.bin %d bytes of %d (%d%%)\n' "$size" "$firmware_max" $((size * 100 / firmware_max))

# The kernel's build directory is linux-<version>, or linux-custom when its
# source is a local tree (LINUX_OVERRIDE_SRCDIR).
for elf in "${BUILD_DIR:-/nonexistent}"/linux-[0-9]*/vmlinux "${BUILD_DIR:-/nonexistent}"/linux-custom/vmlinux; do
	if [ -f "$elf" ]; then
		cp "$elf" vmlinux
		echo "post-image: vmlinux (ELF, for trial-boot) from $elf"
		break
	fi
done
