# Shared helpers for Limina's scripts (sourced, not executed).
#
# Caches live outside the work tree, keyed on their inputs:
#   $LIMINA_CACHE (default: ${XDG_CACHE_HOME:-$HOME/.cache}/limina)

limina_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
limina_cache=${LIMINA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/limina}
limina_build=${LIMINA_BUILD_DIR:-$limina_root/build}
# The crates whose tests compile a C probe of the kernel ABI for the target
# (see scripts/gen-uapi): scripts/check and scripts/cross-test turn them on.
abi_probe_features="mtd-rs/abi-probe limina-ubi/abi-probe limina-watchdog/abi-probe limina-kexec/abi-probe"

say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# The Debian mirrors this machine already uses (never edited, only read).
debian_mirror() {
  awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
    || true
}
debian_security_mirror() {
  awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
    || true
}

# iso_apt ARCH [deb|deb-src] [apt-get|apt-cache] ARGS...
#
# Runs apt-get against a private configuration under the cache: its own
# sources list, package lists and architecture. The system's apt sources and
# state are never touched, so foreign-architecture and source downloads leave
# no sources file behind.
iso_apt() {
  local arch=$1 kind=$2 tool=$3; shift 3
  local root=$limina_cache/apt/$arch-$kind
  local mirror sec
  mirror=$(debian_mirror); [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  sec=$(debian_security_mirror); [ -n "$sec" ] || sec=http://deb.debian.org/debian-security
  mkdir -p "$root/lists/partial" "$root/cache/archives/partial" "$root/etc/preferences.d"
  {
    echo "$kind [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main"
    echo "$kind [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $sec bookworm-security main"
  } >"$root/etc/sources.list"
  "$tool" \
    -o Dir::Etc::SourceList="$root/etc/sources.list" \
    -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::Etc::Preferences="$root/etc/preferences" \
    -o Dir::Etc::PreferencesParts="$root/etc/preferences.d" \
    -o Dir::State::Lists="$root/lists" \
    -o Dir::State::status=/dev/null \
    -o Dir::Cache="$root/cache" \
    -o APT::Architecture="$arch" \
    -o APT::Architectures::="$arch" \
    -o Debug::NoLocking=1 \
    -o APT::Sandbox::User=root \
    "$@"
}

# iso_apt_update ARCH KIND: refresh the private lists at most once per run.
iso_apt_update() {
  local stamp=$limina_cache/apt/$1-$2/.updated-$$
  if [ ! -e "$stamp" ]; then
    iso_apt "$1" "$2" apt-get update -qq >/dev/null || die "apt-get update for $1 ($2) failed"
    rm -f "$limina_cache/apt/$1-$2"/.updated-*
    touch "$stamp"
  fi
}

# iso_apt_version ARCH PKG: candidate version of PKG for ARCH.
iso_apt_version() {
  iso_apt "$1" deb apt-cache policy "$2" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

# sha256 of stdin, first 16 hex digits (used as a cache key).
key16() { sha256sum | cut -c1-16; }
