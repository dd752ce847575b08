//! `limina-host`: see the library documentation.
//!
//! Exit status: 0 success, 1 the check found problems, 2 bad usage or
//! input (clap's own errors included).

use std::process::ExitCode;

use clap::Parser as _;
use limina_host::{cli, kconfig_check};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::KconfigCheck(args) => kconfig_check::run(args).map(|outcome| match outcome {
            kconfig_check::Outcome::Holds => ExitCode::SUCCESS,
            kconfig_check::Outcome::Mismatches(_) => ExitCode::from(1),
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("limina-host: {e:#}");
            ExitCode::from(2)
        }
    }
}
