//! Service outputs: what one service learned, published for the others.
//!
//! In a Limina router, services publish what they learned — a DHCP lease, a
//! PPP session's addresses, a delegated IPv6 prefix — as *outputs* that other
//! services read and react to. This crate is that contract:
//!
//! - [`Store`]: one directory per service under `/run/services/outputs`
//!   (or `$LIMINA_OUTPUTS_DIR`); a value is a file whose first line is the
//!   value, a subdirectory is a table. Whole sets are replaced atomically
//!   ([`Store::publish`]) and read consistently ([`Store::read`]).
//! - [`watch`]: block until chosen keys change value, across removal and
//!   re-creation of the directories.
//! - [`template`]: render user config files that reference outputs
//!   (`{{ output("wan", "ifname") }}`).
//! - [`adapter`]: turn the environment of busybox `udhcpc`, `odhcp6c` and
//!   pppd hook scripts into output sets.
//! - [`assign`] and [`file_watch`]: sets written as `KEY=VALUE` arguments
//!   or files, for shell services (`output-publish`), and waiting for such
//!   a file to change.
//! - [`acquire`]: apply a service's addresses, routes and delegated
//!   prefixes to interfaces over rtnetlink, removing only what it added.
//!
//! # Example: publish a lease, read it back
//!
//! ```
//! use limina_outputs::{adapter::udhcpc, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("outputs-crate-doc-{}", std::process::id()));
//! let env = [("interface", "eth1"), ("ip", "192.0.2.50"), ("subnet", "255.255.255.0"),
//!            ("router", "192.0.2.1"), ("dns", "192.0.2.1 198.51.100.53"),
//!            ("lease", "3600"), ("serverid", "192.0.2.1")];
//! let event = udhcpc::parse("bound", env.iter().map(|(k, v)| (k.to_string(), v.to_string())))?;
//! let store = Store::new(&dir);
//! if let udhcpc::Event::Lease(set) = event {
//!     store.publish("wan", &set)?;
//! }
//! assert_eq!(store.get("wan", "router")?, "192.0.2.1");
//! assert_eq!(store.get("wan", "prefixlen")?, "24");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod acquire;
pub mod adapter;
pub mod assign;
pub mod file_watch;
mod name;
mod set;
mod store;
pub mod template;
#[cfg(test)]
mod testutil;
pub mod watch;

pub use name::{check_key, check_service, NameError};
pub use set::{Entry, OutputSet};
pub use store::{Store, StoreError, BASE_ENV, DEFAULT_BASE, DIR_MODE, FILE_MODE};
