//! Wait for a Linux network interface by listening to the kernel.
//!
//! Boot scripts that `sleep 1` in a loop until `eth0` has carrier are slow
//! (up to a whole sleep late) and wasteful (a wake-up per loop for ever, in
//! supervise mode). This crate subscribes to rtnetlink's link and address
//! multicast groups, then dumps the current state, so it sees the
//! condition the moment the kernel announces it and sleeps otherwise.
//! Parsing is netlink-packet-route's; the socket is netlink-sys's.
//!
//! - [`Condition`]: present, up, running, carrier, an IPv4 or IPv6 address.
//! - [`IfWatch`]: the live view of one interface.
//! - [`Supervisor`]: debounced transitions of a condition, for supervise
//!   mode.
//!
//! The `ifwait` applet of the `limina` binary is the command-line front end.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use limina_ifwait::{Condition, IfWatch};
//!
//! let cond: Condition = "carrier".parse()?;
//! let mut watch = IfWatch::new("eth0", cond.needs_addresses())?;
//! let held = watch.wait_for(cond, Some(Duration::from_secs(10)))?;
//! println!("eth0 carrier: {held}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod condition;
mod state;
mod supervise;
mod watch;

pub use condition::{validate_ifname, BadIfName, Condition, UnknownCondition};
pub use state::IfState;
pub use supervise::Supervisor;
pub use watch::IfWatch;

/// Errors of the watch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The interface name can never exist.
    #[error(transparent)]
    BadIfName(#[from] BadIfName),
    /// A netlink socket operation failed.
    #[error("ifwait: netlink {what}: {source}")]
    Netlink {
        /// The operation.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The kernel sent a message netlink-packet-route cannot parse.
    #[error("ifwait: cannot parse a netlink message: {0}")]
    Decode(String),
}
