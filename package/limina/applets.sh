#!/bin/sh
# Usage: applets.sh APPLETS_MOD_RS FEATURE...
#
# Print the applet names of the table in crates/limina/src/applets/mod.rs
# that are built with the given cargo features: each table entry is
#     #[cfg(feature = "mtd")]
#     Applet { name: "flashcp", ... },
# on one line or as rustfmt splits it; an entry without a cfg is always
# built.
set -eu

table=$1
shift

awk -v features=" $* " '
	/#\[cfg\(feature = "/ {
		split($0, part, "\"")
		feature = part[2]
		next
	}
	/Applet [{]/ { in_applet = 1 }
	in_applet && /name: *"/ {
		split(substr($0, index($0, "name:")), part, "\"")
		if (feature == "" || index(features, " " feature " "))
			print part[2]
		feature = ""
		in_applet = 0
		next
	}
	!in_applet { feature = "" }
' "$table"
