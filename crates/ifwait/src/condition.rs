//! What to wait for, and interface-name validation.

use std::str::FromStr;

/// A condition on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Condition {
    /// The interface exists.
    Present,
    /// Administratively up (`IFF_UP`).
    Up,
    /// Up and operational (`IFF_RUNNING`).
    Running,
    /// The lower layer is up: carrier (`IFF_LOWER_UP`).
    Carrier,
    /// Has an IPv4 address (of global scope, if `global`).
    Ipv4 {
        /// Only scope `global` (universe) counts, not `host` or `link`.
        global: bool,
    },
    /// Has a usable IPv6 address: not tentative (DAD done), not
    /// DAD-failed (of global scope, if `global`).
    Ipv6 {
        /// Only scope `global` counts, not link-local.
        global: bool,
    },
}

impl Condition {
    /// Whether the condition needs address information (an address dump
    /// and the address multicast groups).
    pub fn needs_addresses(self) -> bool {
        matches!(self, Condition::Ipv4 { .. } | Condition::Ipv6 { .. })
    }

    /// The name, as accepted by [`FromStr`] (without `--global`).
    pub fn name(self) -> &'static str {
        match self {
            Condition::Present => "present",
            Condition::Up => "up",
            Condition::Running => "running",
            Condition::Carrier => "carrier",
            Condition::Ipv4 { .. } => "ipv4",
            Condition::Ipv6 { .. } => "ipv6",
        }
    }
}

/// The condition name is not one we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ifwait: unknown condition {0:?} (expected present, up, running, carrier, ipv4 or ipv6)")]
pub struct UnknownCondition(pub String);

impl FromStr for Condition {
    type Err = UnknownCondition;

    /// Parses `present`, `up`, `running`, `carrier`, `ipv4`, `ipv6` (any
    /// address scope; set `global` afterwards for `--global`).
    fn from_str(s: &str) -> Result<Condition, UnknownCondition> {
        Ok(match s {
            "present" => Condition::Present,
            "up" => Condition::Up,
            "running" => Condition::Running,
            "carrier" => Condition::Carrier,
            "ipv4" => Condition::Ipv4 { global: false },
            "ipv6" => Condition::Ipv6 { global: false },
            other => return Err(UnknownCondition(other.to_owned())),
        })
    }
}

/// `IFNAMSIZ` from `<linux/if.h>`, including the NUL.
const IFNAMSIZ: usize = 16;

/// Why an interface name is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadIfName {
    /// Empty.
    #[error("ifwait: empty interface name")]
    Empty,
    /// Longer than 15 bytes (`IFNAMSIZ` - 1).
    #[error("ifwait: interface name {0:?} is longer than 15 bytes")]
    TooLong(String),
    /// Contains `/`, whitespace, `:` or a NUL, or is `.` or `..`; the
    /// kernel's `dev_valid_name()` rejects these.
    #[error("ifwait: interface name {0:?} contains '/', ':', whitespace or NUL, or is . or ..")]
    BadChar(String),
}

/// Checks a name the way the kernel's `dev_valid_name()` does, so that a
/// wait for a name no interface can ever have fails at once.
pub fn validate_ifname(name: &str) -> Result<(), BadIfName> {
    if name.is_empty() {
        return Err(BadIfName::Empty);
    }
    if name.len() >= IFNAMSIZ {
        return Err(BadIfName::TooLong(name.to_owned()));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
    {
        return Err(BadIfName::BadChar(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_ones_are_rejected() {
        for n in ["present", "up", "running", "carrier", "ipv4", "ipv6"] {
            assert_eq!(n.parse::<Condition>().expect("known").name(), n);
        }
        let e = "lowerup".parse::<Condition>().expect_err("unknown");
        assert!(e.to_string().contains("\"lowerup\""), "{e}");
    }

    #[test]
    fn interface_names_like_the_kernel() {
        assert_eq!(validate_ifname("eth0"), Ok(()));
        assert_eq!(validate_ifname("abcdefghijklmno"), Ok(()), "15 bytes");
        assert!(matches!(
            validate_ifname("abcdefghijklmnop"),
            Err(BadIfName::TooLong(_))
        ));
        for bad in ["a/b", "a b", "a:1", ".", ".."] {
            assert!(
                matches!(validate_ifname(bad), Err(BadIfName::BadChar(_))),
                "{bad}"
            );
        }
        assert_eq!(validate_ifname(""), Err(BadIfName::Empty));
    }
}
