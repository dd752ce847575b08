//! `limina-host`: the build machine's side of Limina, one binary with a
//! subcommand per host feature.
//!
//! - `git` (`git-export`, `git-verify`): a commit's tree written out as
//!   `git archive` would, and a directory checked against a pinned commit
//!   by blob ids, on gix.
//! - `router` (`router check`, `render`, `graph`): router.toml into an
//!   s6-rc source tree, on `limina-services`.
//! - `sign` (`sign keygen`, `sign sign`, `sign verify`): minisign-compatible
//!   image signatures, on `limina-sign`.
//! - `tftpd`: the TFTP boot server for U-Boot's `tftpboot`.
//! - [`kconfig_check`]: did every option of the kernel config fragments
//!   land in `.config`, and why not ([`kconfig`] reads the Kconfig tree).
//!
//! A new feature is a module with an `Args` struct (clap) and a `run`
//! function, and one variant of [`cli::Command`].

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "cli")]
pub mod git;
pub mod kconfig;
pub mod kconfig_check;
#[cfg(feature = "cli")]
pub mod router;
#[cfg(feature = "cli")]
pub mod sign;
#[cfg(feature = "cli")]
pub mod tftpd;
#[cfg(feature = "cli")]
pub mod upgrade;
