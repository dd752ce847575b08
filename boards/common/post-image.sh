#!/bin/sh
# Buildroot post-image script of every Limina board:
#   post-image.sh BINARIES_DIR BOARD_DIR
# Writes start-qemu.sh from the QEMU line tagged with the defconfig name in
# BOARD_DIR/readme.txt (when there is one), runs the board's own
# BOARD_DIR/post-image.sh hook, then signs the images (docs/signing.md).
set -eu

binaries_dir=$1
board_dir=$2
# The defconfig the build was configured from, as Buildroot records it.
defconfig=${BR2_DEFCONFIG:-$(sed -n 's/^BR2_DEFCONFIG="\(.*\)"$/\1/p' "${BR2_CONFIG:-/dev/null}")}
defconfig=$(basename "${defconfig:-unknown_defconfig}")

if [ -f "$board_dir/readme.txt" ]; then
	line=$(sed -n "s/^ *\(qemu-system-.* # ${defconfig}\)\$/\1/p" "$board_dir/readme.txt")
	if [ -n "$line" ]; then
		{
			echo '#!/bin/sh'
			echo '# Generated from readme.txt by boards/common/post-image.sh.'
			# shellcheck disable=SC2016 # expanded by the generated script
			echo 'cd "$(dirname "$0")" || exit 1'
			echo "exec ${line%% #*} \"\$@\""
		} | sed 's|output/images/||g' > "$binaries_dir/start-qemu.sh"
		chmod 0755 "$binaries_dir/start-qemu.sh"
	fi
fi

if [ -x "$board_dir/post-image.sh" ]; then
	"$board_dir/post-image.sh" "$binaries_dir" "$board_dir"
fi

# Signed images (BR2_PACKAGE_LIMINA_SIGN, docs/signing.md): each image a
# router may be upgraded with gets FILE.minisig beside it, signed with the
# build's secret key (package/limina/signing-key.sh), its trusted comment
# naming the board by its device-tree compatible string (BOARD_DIR/meta),
# which `limina upgrade` compares with the running device tree. Each
# signature is then checked against the public key the image carries.
images="firmware.bin uImage rootfs.squashfs"
for f in "$binaries_dir"/*.ubi "$binaries_dir"/*.ubifs; do
	[ -f "$f" ] && images="$images ${f##*/}"
done
if ! grep -qx 'BR2_PACKAGE_LIMINA_SIGN=y' "${BR2_CONFIG:-/dev/null}"; then
	# Signatures of an earlier build would not match these images.
	for name in $images; do
		rm -f "$binaries_dir/$name.minisig"
	done
	exit 0
fi

limina_host=$HOST_DIR/bin/limina-host
pub=$TARGET_DIR/etc/limina/signing.pub
key=$("$(dirname "$0")/../../package/limina/signing-key.sh" "$limina_host")
[ -f "$pub" ] || { echo "post-image: no $pub to check the signatures against (limina's target-finalize hook writes it: run make again)" >&2; exit 1; }
compatible=$(sed -n 's/^compatible: *//p' "$board_dir/meta" 2> /dev/null)
if [ -z "$compatible" ]; then
	echo "post-image: no 'compatible:' line in $board_dir/meta: the signatures need the board" >&2
	exit 1
fi
timestamp=${SOURCE_DATE_EPOCH:-$(date +%s)}
signed=
for name in $images; do
	file=$binaries_dir/$name
	[ -f "$file" ] || continue
	comment=$(printf 'timestamp:%s\tfile:%s\tboard:%s' "$timestamp" "$name" "$compatible")
	if ! out=$("$limina_host" sign sign -s "$key" -t "$comment" "$file" < /dev/null 2>&1); then
		echo "post-image: cannot sign $name: $out" >&2
		exit 1
	fi
	if ! out=$("$limina_host" sign verify -p "$pub" "$file" 2>&1); then
		echo "post-image: $name: its signature does not verify against the image's /etc/limina/signing.pub: $out" >&2
		exit 1
	fi
	case $out in
	*"Trusted comment: $comment") ;;
	*)
		echo "post-image: $name: the signature's trusted comment is not '$comment': $out" >&2
		exit 1
		;;
	esac
	signed="$signed $name"
done
echo "post-image: signed and checked against the image's /etc/limina/signing.pub (board:$compatible):${signed:- nothing}"
