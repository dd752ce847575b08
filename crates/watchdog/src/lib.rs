//! A watchdog ratchet for Linux firmware.
//!
//! A hardware watchdog resets the board unless it is fed. This crate feeds
//! it the way a router wants: unconditionally for a *head start* after
//! boot (services are still coming up), then only while every health
//! [`Check`] passes. On the first failure it stops feeding for good — the
//! [`Ratchet`] never goes back — and the board resets within the watchdog
//! timeout.
//!
//! - [`Watchdog`]: the Linux watchdog API (`/dev/watchdog`): support,
//!   timeout, keepalive, boot status (`WDIOF_CARDRESET`), magic close, and
//!   a hand-off of the open fd to a successor process via [`HAND_OFF_ENV`].
//! - [`Ratchet`]: the decision logic, pure and clock-free.
//! - [`Check`]: s6 service up/ready (reading `supervise/status` directly,
//!   see [`s6`]), interface running, command exits 0 within a deadline,
//!   file exists.
//! - [`Config`] (feature `config`, on by default): the same settings from a
//!   small TOML file.
//!
//! The `watchdog` applet of the `limina` binary is the daemon loop around
//! these: one wake-up per feed interval.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use limina_watchdog::{run_checks, Action, Check, Ratchet};
//!
//! let checks = [Check::FileExists { path: "/".into() }];
//! let mut ratchet = Ratchet::new(Duration::from_secs(60));
//! // Normally `now` is the time since the daemon started.
//! let action = ratchet.tick(Duration::from_secs(61), || run_checks(&checks));
//! assert_eq!(action, Action::Feed);
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod check;
#[cfg(feature = "config")]
mod config;
mod device;
mod ratchet;
pub mod s6;
pub mod startup;
mod sys;

pub use check::Check;
#[cfg(feature = "config")]
pub use config::{Config, ConfigError};
pub use device::{flags, DeviceError, Support, Watchdog, HAND_OFF_ENV};
pub use ratchet::{Action, Ratchet};

/// Runs `checks` in order and stops at the first failure, returning its
/// index and reason (the shape [`Ratchet::tick`] takes).
pub fn run_checks(checks: &[Check]) -> Result<(), (usize, String)> {
    for (i, check) in checks.iter().enumerate() {
        check.run().map_err(|reason| (i, reason))?;
    }
    Ok(())
}
