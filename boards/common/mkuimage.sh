#!/bin/sh
# Makes an LZMA-compressed U-Boot kernel uImage, as `bootm` wants it, for
# the tftpboot developer loop (docs/getting-started.md "TFTP boot"):
#   mkuimage.sh ARCH LOAD ENTRY NAME INPUT OUTPUT
# ARCH is mkimage's (-A: mips, arm, arm64), LOAD and ENTRY the addresses
# the kernel runs at, INPUT the raw kernel (vmlinux.bin, Image, ...).
# Run by the boards' post-image hooks; mkimage is host-uboot-tools'.
set -eu

if [ $# -ne 6 ]; then
	echo "usage: mkuimage.sh ARCH LOAD ENTRY NAME INPUT OUTPUT" >&2
	exit 2
fi
arch=$1 load=$2 entry=$3 name=$4 input=$5 output=$6
[ -f "$input" ] || { echo "mkuimage: no kernel at $input" >&2; exit 1; }
command -v mkimage > /dev/null ||
	{ echo "mkuimage: no mkimage on PATH (BR2_PACKAGE_HOST_UBOOT_TOOLS)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
xz --format=lzma -6 -c "$input" > "$tmp/kernel.lzma"
mkimage -A "$arch" -O linux -T kernel -C lzma -a "$load" -e "$entry" \
	-n "$name" -d "$tmp/kernel.lzma" "$output.tmp" > /dev/null
mv "$output.tmp" "$output"
