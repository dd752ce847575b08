# U-Boot boot script for QEMU -M virt, aarch64 and armv7 (qemu-armv7 uses
# this file too): the tftpboot developer loop.
#
# Compile:  mkimage -A arm64 -O linux -T script -C none -d boot.cmd boot.scr
# (-A arm for armv7; a qemu-aarch64 or qemu-armv7 build makes it:
# BR2_PACKAGE_HOST_UBOOT_TOOLS_BOOT_SCRIPT)
# At the U-Boot prompt (serverip: the TFTP server; ipaddr: this board):
#   setenv ipaddr 10.0.2.15; setenv serverip 10.0.2.2
#   tftpboot ${loadaddr} boot.scr; source ${loadaddr}
#
# extra_bootargs: appended to the kernel command line (e.g. panic=-1).
#
# The TFTP directory holds (the build makes them in images/):
#   uImage           the kernel: aarch64, an LZMA uImage of the arm64
#                    Image, load and entry 0x40400000; armv7, the zImage
#                    (which decompresses itself) in a uImage at 0x41000000
#                    (the boards' post-image.sh)
#   rootfs.squashfs  the root file system
# No DTB is loaded: QEMU hands U-Boot the machine's device tree (at
# ${fdtcontroladdr}), and this script passes a copy of it to the kernel.
#
# The rootfs is loaded into RAM at rootfs_addr and stays there. arm64
# refuses to ioremap RAM, so it is not given to phram with phram.phram=
# (as on MIPS) but as a /reserved-memory node with compatible "phram" in
# the copied tree: the kernel keeps the range out of its allocator, maps it
# cached and phram makes it the MTD device mtd0 ("rootfs"), whose mtdblock
# is the root. mtd0 because no other MTD driver of these kernels probes at
# boot (qemu-armv7's kernel leaves out the NOR driver that would take the
# virt machine's firmware flash first: its linux.fragment).
# RAM: from 0x40000000, 256 MiB or more; U-Boot relocates itself to the
# top. The arm64 kernel decompresses to 0x40400000 (about 40 MiB), the
# armv7 zImage to 0x40008000.

setenv kernel_addr 0x44000000
setenv rootfs_addr 0x46000000
setenv dtb_addr 0x4a000000

# A failed transfer ends the script before bootm (`exit` does not end a
# sourced script in this U-Boot, hence the if).
echo "== loading uImage and rootfs.squashfs from ${serverip}"
if tftpboot ${kernel_addr} uImage && tftpboot ${rootfs_addr} rootfs.squashfs; then
	# Reserve the rootfs rounded up to 1 MiB (whole erase blocks for phram).
	setexpr rootfs_size ${filesize} + 0xfffff
	setexpr rootfs_size ${rootfs_size} / 0x100000
	setexpr rootfs_size ${rootfs_size} * 0x100000
	# A copy of QEMU's tree with 1 MiB to grow in, and the phram node.
	fdt addr ${fdtcontroladdr}
	fdt move ${fdtcontroladdr} ${dtb_addr} 0x100000
	fdt addr ${dtb_addr}
	fdt mknode / reserved-memory
	fdt set /reserved-memory '#address-cells' <2>
	fdt set /reserved-memory '#size-cells' <2>
	fdt set /reserved-memory ranges
	fdt mknode /reserved-memory rootfs
	fdt set /reserved-memory/rootfs compatible phram
	fdt set /reserved-memory/rootfs reg <0 ${rootfs_addr} 0 0x${rootfs_size}>
	fdt set /reserved-memory/rootfs label rootfs
	fdt print /reserved-memory
	setenv bootargs console=ttyAMA0 root=/dev/mtdblock0 rootfstype=squashfs ro ${extra_bootargs}
	echo "== bootargs: ${bootargs}"
	bootm ${kernel_addr} - ${dtb_addr}
else
	echo "== boot.scr: a TFTP transfer failed, not booting"
fi
