//! The command line: one subcommand per host feature.
//!
//! A new feature is a module with an `Args` struct and a `run`, and one
//! variant here.

use clap::{Parser, Subcommand};

/// Limina's build-machine tool.
#[derive(Debug, Parser)]
#[command(name = "limina-host", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that every option of the config fragments is in the kernel's
    /// .config, and say why for each one that is not.
    ///
    /// Exit status: 0 all options hold, 1 some do not, 2 bad input.
    KconfigCheck(crate::kconfig_check::Args),
}
