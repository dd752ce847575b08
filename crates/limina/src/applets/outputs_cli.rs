//! What the outputs applets share: `-d DIR`, exit codes, readiness.
//!
//! Exit codes of `output`, `output-path` and `output-word` (documented in
//! docs/outputs.md): 0 found, 1 no such key (or word), 2 usage, 3 the
//! service has no outputs, 4 any other error (I/O, a table where a value
//! was asked for).

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use limina_outputs::{Store, StoreError};

/// No such key (or word) in a service that has outputs.
pub const EXIT_NO_KEY: u8 = 1;
/// Bad command line.
pub const EXIT_USAGE: u8 = crate::applet::Family::Limina.usage_exit();
/// The service has no outputs (never published, or stopped).
pub const EXIT_NO_OUTPUTS: u8 = 3;
/// Anything else.
pub const EXIT_ERROR: u8 = 4;

/// The environment variable naming the service an adapter publishes as.
pub const SERVICE_ENV: &str = "LIMINA_OUTPUTS_SERVICE";
/// The environment variable naming an s6 readiness fd for adapters.
pub const READY_FD_ENV: &str = "LIMINA_READY_FD";

/// Splits off `-d DIR` / `--dir DIR` / `--dir=DIR` (anywhere before `--`)
/// and returns the store and the remaining arguments (without argv\[0\]).
pub fn store_and_args(args: Vec<OsString>) -> Result<(Store, Vec<OsString>), String> {
    let mut dir: Option<OsString> = None;
    let mut rest = Vec::new();
    let mut it = args.into_iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--" {
            rest.push(a);
            rest.extend(it.by_ref());
            break;
        }
        if a == "-d" || a == "--dir" {
            dir = Some(it.next().ok_or("-d needs a directory")?);
        } else if let Some(d) = a.to_str().and_then(|s| s.strip_prefix("--dir=")) {
            dir = Some(d.into());
        } else {
            rest.push(a);
        }
    }
    let store = match dir {
        Some(d) => Store::new(d),
        None => Store::from_env(),
    };
    Ok((store, rest))
}

/// Arguments as UTF-8 (service names and keys are ASCII anyway).
pub fn utf8(args: &[OsString]) -> Result<Vec<String>, String> {
    super::utf8(args.to_vec())
}

/// The exit code for a store error.
pub fn exit_for(e: &StoreError) -> u8 {
    match e {
        StoreError::NoKey { .. } => EXIT_NO_KEY,
        StoreError::NoOutputs { .. } => EXIT_NO_OUTPUTS,
        StoreError::Name(_) => EXIT_USAGE,
        _ => EXIT_ERROR,
    }
}

/// Prints `applet: message` and returns `code`.
pub fn fail(applet: &str, message: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("{applet}: {message}");
    ExitCode::from(code)
}

/// Prints a line to stdout; a closed stdout is not an error.
pub fn print_line(s: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    ExitCode::SUCCESS
}

/// The service to publish as: `$LIMINA_OUTPUTS_SERVICE` or `default`.
pub fn service_or(default: String) -> String {
    match std::env::var(SERVICE_ENV) {
        Ok(s) if !s.is_empty() => s,
        _ => default,
    }
}

/// Tells s6 the service is ready: a newline on the fd named by
/// `$LIMINA_READY_FD` (s6's `notification-fd`). Reopened through
/// `/proc/self/fd` so that no unsafe fd juggling is needed; a supervisor
/// that already got its line has closed the pipe, which is fine.
pub fn notify_ready(applet: &str) {
    let Ok(fd) = std::env::var(READY_FD_ENV) else {
        return;
    };
    let Ok(fd) = fd.trim().parse::<u32>() else {
        eprintln!("{applet}: {READY_FD_ENV}={fd:?} is not a file descriptor");
        return;
    };
    notify_fd(applet, fd);
}

/// Writes the readiness newline to fd `fd` (reopened through
/// `/proc/self/fd`, so no unsafe fd adoption), then lets it go: a
/// supervisor that already got its line has closed the pipe, which is
/// fine.
pub fn notify_fd(applet: &str, fd: u32) {
    let path = format!("/proc/self/fd/{fd}");
    match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(mut f) => {
            let _ = f.write_all(b"\n");
        }
        Err(e) => eprintln!("{applet}: cannot signal readiness on fd {fd}: {e}"),
    }
}
