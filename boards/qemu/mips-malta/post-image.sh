#!/bin/sh
# QEMU malta post-image hook (run by boards/common/post-image.sh):
#   post-image.sh BINARIES_DIR BOARD_DIR
# Makes data.img, the 16 MiB second IDE disk that the kernel turns into the
# MTD device "data" (block2mtd) holding the persistent /data (UBI, created
# on first boot), erased (0xff) like new flash, when there is none. An
# existing image is kept, so that /data survives rebuilds.
set -eu

binaries_dir=$1
data=$binaries_dir/data.img
if [ ! -f "$data" ]; then
	tr '\000' '\377' < /dev/zero | head -c 16777216 > "$data.tmp"
	mv "$data.tmp" "$data"
fi
