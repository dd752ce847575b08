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
    /// Write a commit's tree (or one file of it) out of a git repository,
    /// as `git archive | tar -x` would, and print the commit id.
    GitExport(crate::git::ExportArgs),
    /// Check that a directory holds exactly the files of a commit (by git
    /// blob id, kind and executable bit); print each difference.
    ///
    /// Exit status: 0 it does, 1 it does not, 2 bad input.
    GitVerify(crate::git::VerifyArgs),
    /// Serve a directory read-only over TFTP (RFC 1350, 2347-2349, 7440)
    /// for U-Boot's tftpboot.
    Tftpd(crate::tftpd::Args),
    /// Check a router file (router.toml), render it into an s6-rc source
    /// tree, or draw its service graph.
    ///
    /// Exit status: 0 fine, 1 the file has mistakes (one line each) or the
    /// tree could not be written, 2 bad usage.
    Router(crate::router::Args),
    /// Make a key pair, sign an image, or check a signature, in
    /// minisign's formats (docs/signing.md).
    ///
    /// Exit status: 0 done, 1 the signature does not verify, 2 anything
    /// else (as minisign).
    Sign(crate::sign::Args),
    /// Send a signed image to a router over ssh and run `limina upgrade`
    /// there (the .minisig, then the image, on one connection).
    ///
    /// Exit status: the router's (0 written, 1 refused or failed, 2 bad
    /// usage), 255 when ssh could not connect, 2 when the image cannot be
    /// read here.
    Upgrade(crate::upgrade::Args),
}
