#!/bin/sh
# Buildroot post-build script of every Limina board:
#   post-build.sh TARGET_DIR BOARD_DIR
# (BR2_ROOTFS_POST_SCRIPT_ARGS is the board directory). Runs the board's own
# BOARD_DIR/post-build.sh hook when there is one.
set -eu

target_dir=$1
board_dir=$2

# The init is s6-linux-init (package/limina-init); make sure it was
# generated and nothing else claims /sbin/init.
if [ ! -x "$target_dir/etc/s6-linux-init/current/bin/init" ]; then
	echo "post-build: no s6-linux-init in $target_dir (BR2_PACKAGE_LIMINA_INIT?)" >&2
	exit 1
fi

if [ -x "$board_dir/post-build.sh" ]; then
	"$board_dir/post-build.sh" "$target_dir" "$board_dir"
fi
