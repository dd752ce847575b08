//! `limina-host`: see the library documentation.
//!
//! Exit status: 0 success, 1 the check found problems, 2 bad usage or
//! input (clap's own errors included).

use std::error::Error as _;
use std::process::ExitCode;

use clap::Parser as _;
use limina_host::{cli, kconfig_check};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match &cli.command {
        cli::Command::KconfigCheck(args) => match kconfig_check::check(args) {
            Ok(report) => {
                eprint!("{report}");
                if report.problems.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                // The error and its causes on one line.
                let mut line = e.to_string();
                let mut cause = e.source();
                while let Some(c) = cause {
                    line.push_str(": ");
                    line.push_str(&c.to_string());
                    cause = c.source();
                }
                eprintln!("limina-host: {line}");
                ExitCode::from(2)
            }
        },
    }
}
