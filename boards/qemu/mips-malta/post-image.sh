#!/bin/sh
# QEMU malta post-image hook (run by boards/common/post-image.sh):
#   post-image.sh BINARIES_DIR BOARD_DIR
# Makes the 4 MiB parallel flash image QEMU maps at 0x1e000000, erased
# (0xff), when there is none: its "User FS" partition holds the persistent
# /data (UBI, created on first boot). An existing image is kept, so that
# /data survives rebuilds.
set -eu

binaries_dir=$1
flash=$binaries_dir/flash.img
if [ ! -f "$flash" ]; then
	tr '\000' '\377' < /dev/zero | head -c 4194304 > "$flash.tmp"
	mv "$flash.tmp" "$flash"
fi
