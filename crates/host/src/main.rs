//! `limina-host`: see the library documentation.
//!
//! Exit status: 0 success, 1 the check found problems, 2 bad usage or
//! input (clap's own errors included).

use std::error::Error as _;
use std::process::ExitCode;

use clap::Parser as _;
use limina_host::{cli, git, kconfig_check, router, sign, tftpd, upgrade};

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
        cli::Command::GitExport(args) => anyhow_exit(git::export(args).map(|()| ExitCode::SUCCESS)),
        cli::Command::GitVerify(args) => {
            anyhow_exit(git::verify(args).map(|outcome| match outcome {
                git::Outcome::Matches(n) => {
                    eprintln!("limina-host: git-verify: {n} paths match {}", args.rev);
                    ExitCode::SUCCESS
                }
                git::Outcome::Differs(lines) => {
                    for l in lines {
                        println!("{l}");
                    }
                    ExitCode::from(1)
                }
            }))
        }
        cli::Command::Tftpd(args) => anyhow_exit(tftpd::run(args).map(|()| ExitCode::SUCCESS)),
        cli::Command::Sign(args) => sign::run(args),
        cli::Command::Upgrade(args) => anyhow_exit(upgrade::run(args)),
        cli::Command::Router(args) => match router::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                // A router file's mistakes are already one line each.
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
    }
}

/// The exit status of a subcommand reporting with anyhow: its error, with
/// every cause, on one line, and 2.
fn anyhow_exit(r: anyhow::Result<ExitCode>) -> ExitCode {
    r.unwrap_or_else(|e| {
        eprintln!("limina-host: {e:#}");
        ExitCode::from(2)
    })
}
