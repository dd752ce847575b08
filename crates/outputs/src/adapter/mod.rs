//! Hook-script adapters: DHCP and PPP clients' environments to output sets.
//!
//! Each client calls a script with the facts in environment variables and
//! arguments. The parsers here are pure functions from that environment to
//! an [`OutputSet`](crate::OutputSet) (or "remove"), so that they are tested
//! on recorded environments without a client; the applets in the `limina`
//! binary add the store and readiness around them.
//!
//! Everything is validated before anything is published: a missing field or
//! a garbage address is an error naming the variable, and the previous
//! outputs stay as they were.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::name::NameError;

pub mod odhcp6c;
pub mod ppp;
pub mod udhcpc;

/// Errors of the adapters: a client handed us something unusable.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdapterError {
    /// A required variable or argument is absent or empty.
    #[error("{client}: missing {name}")]
    Missing {
        /// The client whose script this is (`udhcpc`, `odhcp6c`, `pppd`).
        client: &'static str,
        /// The variable or argument.
        name: &'static str,
    },
    /// A variable does not parse.
    #[error("{client}: bad {name} {value:?}: expected {expected}")]
    Invalid {
        /// The client whose script this is.
        client: &'static str,
        /// The variable.
        name: String,
        /// What it held.
        value: String,
        /// What it should hold.
        expected: &'static str,
    },
    /// The event or state argument is not one the client sends.
    #[error("{client}: unknown event {event:?}")]
    UnknownEvent {
        /// The client whose script this is.
        client: &'static str,
        /// The argument given.
        event: String,
    },
    /// A value could not be stored (e.g. an interface name with `/`).
    #[error(transparent)]
    Name(#[from] NameError),
}

/// The environment as a map, for the parsers.
pub(crate) struct Env {
    client: &'static str,
    vars: HashMap<String, String>,
}

impl Env {
    pub(crate) fn new(
        client: &'static str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        Self {
            client,
            vars: vars.into_iter().collect(),
        }
    }

    /// A variable, `None` if unset or empty (clients export empty ones).
    pub(crate) fn opt(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn req(&self, name: &'static str) -> Result<&str, AdapterError> {
        self.opt(name).ok_or(AdapterError::Missing {
            client: self.client,
            name,
        })
    }

    pub(crate) fn invalid(&self, name: &str, value: &str, expected: &'static str) -> AdapterError {
        AdapterError::Invalid {
            client: self.client,
            name: name.to_owned(),
            value: value.to_owned(),
            expected,
        }
    }

    /// A required interface name, as the kernel allows them.
    pub(crate) fn ifname(&self, name: &'static str) -> Result<&str, AdapterError> {
        let v = self.req(name)?;
        if v.len() > 15 || v.contains(['/', ':']) || v.contains(char::is_whitespace) {
            return Err(self.invalid(name, v, "a network interface name"));
        }
        Ok(v)
    }

    pub(crate) fn ipv4(&self, name: &str, value: &str) -> Result<Ipv4Addr, AdapterError> {
        value
            .parse()
            .map_err(|_| self.invalid(name, value, "an IPv4 address"))
    }

    pub(crate) fn ipv6(&self, name: &str, value: &str) -> Result<Ipv6Addr, AdapterError> {
        value
            .parse()
            .map_err(|_| self.invalid(name, value, "an IPv6 address"))
    }

    pub(crate) fn number(&self, name: &str, value: &str) -> Result<u32, AdapterError> {
        value
            .parse()
            .map_err(|_| self.invalid(name, value, "a decimal number"))
    }

    /// A space-separated list of IPv4 addresses, normalised.
    pub(crate) fn ipv4_list(&self, name: &str) -> Result<Vec<String>, AdapterError> {
        let Some(v) = self.opt(name) else {
            return Ok(Vec::new());
        };
        v.split_whitespace()
            .map(|a| self.ipv4(name, a).map(|a| a.to_string()))
            .collect()
    }

    /// A space-separated list of IPv6 addresses, normalised.
    pub(crate) fn ipv6_list(&self, name: &str) -> Result<Vec<String>, AdapterError> {
        let Some(v) = self.opt(name) else {
            return Ok(Vec::new());
        };
        v.split_whitespace()
            .map(|a| self.ipv6(name, a).map(|a| a.to_string()))
            .collect()
    }
}

/// A stable id for a table row, derived from what identifies the entry (an
/// address and its length, not its lifetimes): the same address keeps the
/// same id across renewals, so subscribers see additions and removals.
///
/// 64-bit FNV-1a, as 16 hex digits.
pub fn stable_id(content: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in content.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_id_is_fnv1a() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(stable_id(""), "cbf29ce484222325");
        assert_eq!(stable_id("a"), "af63dc4c8601ec8c");
        assert_ne!(stable_id("2001:db8::1/64"), stable_id("2001:db8::2/64"));
    }
}
