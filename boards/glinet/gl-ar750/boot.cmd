# TFTP boot of Limina on the GL-AR750, without writing the flash.
# The root file system is loaded into the top 32 MiB of RAM, which the
# kernel is told not to use (mem=96M) and which phram turns into an MTD
# device: mtd6, after the four flash partitions and the two that
# "firmware" is split into.
tftpboot 0x86000000 rootfs.squashfs
setenv rootfs_size 0x${filesize}
setenv bootargs mem=96M phram.phram=tftproot,0x6000000,${rootfs_size} root=/dev/mtdblock6
tftpboot 0x81000000 uImage
bootm 0x81000000
