#!/bin/sh
# The secret key the build signs images with (docs/signing.md):
#   signing-key.sh LIMINA_HOST [PUB]
# Prints the secret key's path on stdout. The path is
# BR2_PACKAGE_LIMINA_SIGN_KEY of the configuration ($BR2_CONFIG), or, when
# that is empty, ${XDG_CONFIG_HOME:-$HOME/.config}/limina/signing/limina.key,
# made (with limina.pub beside it) by `limina-host sign keygen -W` when it
# is not there yet. With PUB, also writes the public key of that secret
# key to PUB (`limina-host sign pubkey`) and says on stderr, in one line,
# which key the build signs with. Run by limina.mk's target-finalize hook
# (PUB: the image's /etc/limina/signing.pub) and by
# boards/common/post-image.sh (the path only).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: signing-key.sh LIMINA_HOST [PUB]" >&2
	exit 2
fi
limina_host=$1
pub=${2:-}
option=BR2_PACKAGE_LIMINA_SIGN_KEY

# Kconfig writes strings quoted, with \" and \\ escaped.
key=$(sed -n "s/^$option=\"\(.*\)\"\$/\1/p" "${BR2_CONFIG:-/dev/null}" |
	sed 's/\\\(.\)/\1/g')
origin="set by $option"
if [ -z "$key" ]; then
	dir=${XDG_CONFIG_HOME:-${HOME:?}/.config}/limina/signing
	key=$dir/limina.key
	origin="made by an earlier build; $option is empty"
	if [ ! -e "$key" ]; then
		(umask 077 && mkdir -p "$dir")
		# limina-host's own line is for people at a terminal; ours follows.
		if ! out=$("$limina_host" sign keygen -W -p "$dir/limina.pub" -s "$key" 2>&1); then
			echo "signing-key: cannot make a key pair in $dir: $out" >&2
			exit 1
		fi
		origin="made now, as $option is empty: back it up, routers accept only images it signs"
	fi
fi
case $key in
/*) ;;
*)
	echo "signing-key: $option=\"$key\" is not an absolute path" >&2
	exit 1
	;;
esac
if [ ! -f "$key" ]; then
	echo "signing-key: no secret key at $key ($option)" >&2
	exit 1
fi

if [ -n "$pub" ]; then
	# No password prompt in a build: an encrypted key fails here, with
	# limina-host's "use -W" line.
	if ! out=$("$limina_host" sign pubkey -s "$key" -p "$pub" < /dev/null 2>&1); then
		echo "signing-key: $key: $out" >&2
		exit 1
	fi
	id=$(sed -n '1s/^untrusted comment: minisign public key //p' "$pub")
	echo "limina: signing images with key ${id:-?}, secret key $key ($origin)" >&2
fi
echo "$key"
