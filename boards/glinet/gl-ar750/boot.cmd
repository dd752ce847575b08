# TFTP boot of Limina on the GL-AR750, without writing the flash.
# The root file system is loaded into the top 32 MiB of RAM, which the
# kernel is told not to use (mem=96M) and which phram turns into an MTD
# device. phram registers it at its initcall, before the SPI controller
# probes and the flash partitions appear (drivers/mtd is linked before
# drivers/spi), so it is mtd0 and the flash's nine partitions follow as
# mtd1-mtd9. This root= comes after the device tree's root=/dev/mtdblock5
# and wins.
tftpboot 0x86000000 rootfs.squashfs
setenv rootfs_size 0x${filesize}
setenv bootargs mem=96M phram.phram=tftproot,0x6000000,${rootfs_size} root=/dev/mtdblock0
tftpboot 0x81000000 uImage
bootm 0x81000000
