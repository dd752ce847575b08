# U-Boot boot script for QEMU malta, big-endian: the tftpboot developer loop.
#
# Compile:  mkimage -A mips -O linux -T script -C none -d boot.cmd boot.scr
# At the U-Boot prompt (serverip: the TFTP server; ipaddr: this board):
#   setenv ipaddr 10.0.2.15; setenv serverip 10.0.2.2
#   tftpboot ${loadaddr} boot.scr; source ${loadaddr}
#
# extra_bootargs: appended to the kernel command line (e.g. panic=-1).
#
# The TFTP directory holds (a qemu-mips build makes them in images/:
# boards/qemu/mips-malta/post-image.sh and host-uboot-tools' boot script):
#   uImage           the kernel: an LZMA uImage of vmlinux, with load and
#                    entry addresses from the ELF (malta: 0x80100000 and
#                    e_entry); malta's kernel has its device tree built in,
#                    so no DTB is loaded
#   rootfs.squashfs  the root file system
#
# The rootfs is loaded into RAM at rootfs_phys and stays there: memmap=
# reserves it from the kernel's allocator (arch/mips/kernel/setup.c:
# "memmap=SIZE$ADDR" adds and reserves the range), phram makes it the MTD
# device mtd0 and the kernel mounts its mtdblock.
# RAM: 256 MiB at physical 0, seen by U-Boot through KSEG0 (0x80000000 +
# physical). U-Boot relocates itself to the top 2 MiB; the kernel
# decompresses to 0x80100000 (about 11 MiB).

setenv kernel_addr 0x82000000
setenv rootfs_addr 0x8c000000
setenv rootfs_phys 0x0c000000

# A failed transfer ends the script before bootm (`exit` does not end a
# sourced script in this U-Boot, hence the if).
echo "== loading uImage and rootfs.squashfs from ${serverip}"
if tftpboot ${kernel_addr} uImage && tftpboot ${rootfs_addr} rootfs.squashfs; then
	# Reserve the rootfs rounded up to 1 MiB (phram wants whole erase blocks).
	setexpr rootfs_size ${filesize} + 0xfffff
	setexpr rootfs_size ${rootfs_size} / 0x100000
	setexpr rootfs_size ${rootfs_size} * 0x100000
	setenv bootargs console=ttyS0 memmap=0x${rootfs_size}\$${rootfs_phys} phram.phram=rootfs,${rootfs_phys},0x${rootfs_size} root=/dev/mtdblock0 rootfstype=squashfs ro ${extra_bootargs}
	echo "== bootargs: ${bootargs}"
	bootm ${kernel_addr}
else
	echo "== boot.scr: a TFTP transfer failed, not booting"
fi
