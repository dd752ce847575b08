# U-Boot boot script for QEMU aarch64 -M virt: the tftpboot developer loop.
#
# Compile:  mkimage -A arm64 -O linux -T script -C none -d boot.cmd boot.scr
# At the U-Boot prompt (serverip: the TFTP server; ipaddr: this board):
#   setenv ipaddr 10.0.2.15; setenv serverip 10.0.2.2
#   tftpboot ${loadaddr} boot.scr; source ${loadaddr}
#
# The TFTP directory holds:
#   uImage         the kernel: an LZMA uImage of the arm64 Image, load and
#                  entry 0x40400000 (2 MiB aligned; bootm decompresses it
#                  there, up to CONFIG_SYS_BOOTM_LEN = 64 MiB)
#   virt.dtb       the machine's device tree (qemu-system-aarch64
#                  -M virt,dumpdtb=virt.dtb with the board's options)
#   initrd.uImage  the root file system: a cpio initramfs as a uImage
#                  ramdisk (Debian's arm64 kernel has no phram, so the
#                  squashfs-on-phram flow of the MIPS boards is not used)
# RAM: 512 MiB at 0x40000000; U-Boot relocates itself to the top.

setenv kernel_addr 0x48000000
setenv initrd_addr 0x4c000000
setenv fdt_addr 0x4f000000

# A failed transfer ends the script before bootm (`exit` does not end a
# sourced script in this U-Boot, hence the if).
echo "== loading uImage, virt.dtb and initrd.uImage from ${serverip}"
if tftpboot ${kernel_addr} uImage && tftpboot ${fdt_addr} virt.dtb && tftpboot ${initrd_addr} initrd.uImage; then
	setenv bootargs console=ttyAMA0 rdinit=/init ${extra_bootargs}
	echo "== bootargs: ${bootargs}"
	bootm ${kernel_addr} ${initrd_addr} ${fdt_addr}
else
	echo "== boot.scr: a TFTP transfer failed, not booting"
fi
