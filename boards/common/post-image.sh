#!/bin/sh
# Buildroot post-image script of every Limina board:
#   post-image.sh BINARIES_DIR BOARD_DIR
# Writes start-qemu.sh from the QEMU line tagged with the defconfig name in
# BOARD_DIR/readme.txt (when there is one), then runs the board's own
# BOARD_DIR/post-image.sh hook.
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
