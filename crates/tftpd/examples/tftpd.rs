//! A minimal TFTP server command: `tftpd [--port N] [--address A] DIR`.
//!
//! Serves DIR read-only on A:N (default 0.0.0.0:69), logging one line per
//! event to stderr. The first line, `tftpd: serving DIR on ADDR`, names the
//! port actually bound, so `--port 0` can be used by scripts. Exit codes:
//! 0 never (it serves until killed), 1 if the server fails, 2 on bad usage.
//!
//! The tests and `scripts/bench-tftpd` run it; the user-facing command is
//! `limina-host tftpd`.

use std::process::ExitCode;
use std::time::Duration;

use limina_tftpd::{Options, Server};

const USAGE: &str =
    "usage: tftpd [--port N] [--address A] [--max-blksize N] [--retransmit-ms N] DIR";

/// Prints each log record as one line on stderr.
struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("{}", r.args());
        }
    }
    fn flush(&self) {}
}

fn main() -> ExitCode {
    let mut port: u16 = 69;
    let mut address = String::from("0.0.0.0");
    let mut options = Options::default();
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| match args.next() {
            Some(v) => Ok(v),
            None => Err(format!("tftpd: {name} needs a value")),
        };
        let parsed: Result<(), String> = match arg.as_str() {
            "--port" | "-p" => value("--port").and_then(|v| {
                port = v.parse().map_err(|e| format!("tftpd: --port {v}: {e}"))?;
                Ok(())
            }),
            "--address" | "-a" => value("--address").map(|v| address = v),
            "--max-blksize" => value("--max-blksize").and_then(|v| {
                options.max_blksize = v
                    .parse()
                    .map_err(|e| format!("tftpd: --max-blksize {v}: {e}"))?;
                Ok(())
            }),
            "--retransmit-ms" => value("--retransmit-ms").and_then(|v| {
                let ms: u64 = v
                    .parse()
                    .map_err(|e| format!("tftpd: --retransmit-ms {v}: {e}"))?;
                options.retransmit = Duration::from_millis(ms);
                Ok(())
            }),
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            a if a.starts_with('-') => Err(format!("tftpd: unknown option {a}")),
            _ if dir.is_some() => Err("tftpd: only one directory can be served".into()),
            _ => {
                dir = Some(arg);
                Ok(())
            }
        };
        if let Err(msg) = parsed {
            eprintln!("{msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let Some(dir) = dir else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    // An IPv6 literal needs brackets before the port.
    let addr = if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    };
    match Server::bind(addr.as_str(), &dir, options).and_then(|s| s.serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
