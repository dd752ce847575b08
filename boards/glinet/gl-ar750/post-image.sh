#!/bin/sh
# GL-AR750 images, from vmlinux.bin, the board's DTB and rootfs.squashfs:
#   uImage        lzma-compressed kernel with the DTB appended, for U-Boot
#                 (load and entry address 0x80060000)
#   firmware.bin  what goes into one firmware slot ("firmware" at 0x60000
#                 or "firmware-b" at 0x830000, 0x7d0000 bytes each): the
#                 uImage, 0xff up to 0x340000 (the slot's "kernel"
#                 partition), then the squashfs (its "rootfs" partition).
#                 Refused, with the part that is too big named, when the
#                 uImage or the squashfs does not fit its partition
#   boot.scr      the TFTP boot script, from boot.cmd
#   vmlinux       the ELF kernel, copied from the kernel build: what
#                 `limina trial-boot vmlinux rootfs.squashfs` loads from a
#                 running Limina (docs/trial-boot.md); it is faster and
#                 lighter than `limina trial-boot firmware.bin`
# Usage: post-image.sh BINARIES_DIR BOARD_DIR
set -eu

binaries_dir=$(cd "$1" && pwd)
board_dir=$(cd "$2" && pwd)
# The slot layout of qca9531_glinet_gl-ar750.dts (docs/decisions/0102);
# board-tests' buildroot::gl_ar750 test checks the built DTB against it.
slot_size=$((0x7d0000))
kernel_size=$((0x340000))
rootfs_size=$((0x490000))
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

rm -f firmware.bin uImage.slot
# fits FILE SIZE PARTITION: FILE is at most SIZE bytes, else say so.
fits() {
	size=$(stat -c %s "$1")
	if [ "$size" -gt "$2" ]; then
		printf 'post-image: %s is %d bytes, more than the %d (%#x) of a slot'"'"'s "%s" partition (qca9531_glinet_gl-ar750.dts): firmware.bin not written\n' \
			"$1" "$size" "$2" "$2" "$3" >&2
		return 1
	fi
	printf 'post-image: %s %d bytes of %d (%d%%) in "%s"\n' "$1" "$size" "$2" $((size * 100 / $2)) "$3"
}
fits uImage "$kernel_size" kernel
fits rootfs.squashfs "$rootfs_size" rootfs

# The uImage padded with 0xff (erased NOR) to the rootfs partition:
# genimage fills gaps with zeros, which NOR would have to program.
uimage_size=$(stat -c %s uImage)
{
	cat uImage
	head -c $((kernel_size - uimage_size)) /dev/zero | tr '\000' '\377'
} > uImage.slot
genimage \
	--rootpath "${TARGET_DIR:-/nonexistent}" \
	--tmppath "${BUILD_DIR:-/tmp}/genimage-gl-ar750.tmp" \
	--inputpath "$binaries_dir" \
	--outputpath "$binaries_dir" \
	--config "$board_dir/genimage.cfg"
rm -f uImage.slot

size=$(stat -c %s firmware.bin)
if [ "$size" -gt "$slot_size" ]; then
	rm -f firmware.bin
	echo "post-image: firmware.bin is $size bytes, a firmware slot holds $slot_size: not written" >&2
	exit 1
fi
printf 'post-image: firmware.bin %d bytes of the %d of a slot (%d%%)\n' "$size" "$slot_size" $((size * 100 / slot_size))

# The kernel's build directory is linux-<version>, or linux-custom when its
# source is a local tree (LINUX_OVERRIDE_SRCDIR).
for elf in "${BUILD_DIR:-/nonexistent}"/linux-[0-9]*/vmlinux "${BUILD_DIR:-/nonexistent}"/linux-custom/vmlinux; do
	if [ -f "$elf" ]; then
		cp "$elf" vmlinux
		echo "post-image: vmlinux (ELF, for trial-boot) from $elf"
		break
	fi
done
