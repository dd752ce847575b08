#!/bin/sh
# Usage: vendor.sh CARGO WORKSPACE DL_DIR [STD_LIBRARY]
#
# Print the directory holding the vendored crates of WORKSPACE (and of the
# Rust standard library sources in STD_LIBRARY, for -Zbuild-std), creating
# it with `cargo vendor` when it does not exist yet. The directory name is
# keyed on the Cargo.lock files, so a changed lock file gets a fresh one.
# Used by limina.mk and by the top-level Makefile's `make vendor`.
set -eu

cargo=$1
workspace=$2
dl_dir=$3
std_library=${4:-}

key=$(sha256sum "$workspace/Cargo.lock" | cut -c1-16)
if [ -n "$std_library" ]; then
	key="$key-std-$(sha256sum "$std_library/Cargo.lock" | cut -c1-16)"
fi
dir="$dl_dir/vendor-$key"

if [ ! -d "$dir" ]; then
	mkdir -p "$dl_dir"
	rm -rf "$dir.tmp"
	# std's manifests use unstable cargo features: RUSTC_BOOTSTRAP lets a
	# stable cargo read them, as it lets rustc build std (-Zbuild-std).
	if ! RUSTC_BOOTSTRAP=1 "$cargo" vendor --quiet --locked --versioned-dirs \
		--manifest-path "$workspace/Cargo.toml" \
		${std_library:+--sync "$std_library/Cargo.toml"} \
		"$dir.tmp" >/dev/null; then
		rm -rf "$dir.tmp"
		echo "limina: cannot vendor the crates of $workspace into $dir." >&2
		echo "Offline? Run 'make vendor' (or this build) once with network access" >&2
		echo "and copy $dir here, or set BR2_DL_DIR to a download directory that has it." >&2
		exit 1
	fi
	mv "$dir.tmp" "$dir"
fi
echo "$dir"
