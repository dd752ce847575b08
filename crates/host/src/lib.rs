//! `limina-host`: the build machine's side of Limina, one binary with a
//! subcommand per host feature.
//!
//! - [`kconfig_check`]: did every option of the kernel config fragments
//!   land in `.config`, and why not ([`kconfig`] reads the Kconfig tree).
//!
//! A new feature is a module with an `Args` struct (clap) and a `run`
//! function, and one variant of [`cli::Command`].

#[cfg(feature = "cli")]
pub mod cli;
pub mod kconfig;
pub mod kconfig_check;
