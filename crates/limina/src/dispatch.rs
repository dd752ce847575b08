//! Applet lookup and the multi-call command line.
//!
//! The table is a plain sorted slice so that `--list` and lookup cost nothing
//! at start-up (no registration, no allocation before the applet runs).
//!
//! `APPLET --help` and `APPLET --version` are answered here, for every
//! applet, before the applet sees its arguments: no applet can forget them,
//! and none can take them for an operand (`output-path --help` would
//! otherwise look for a service named `--help`). As in busybox, only a
//! lone `--help` or `--version` counts: `output wan mtu --help` still
//! prints the default `--help`, and applets that take `-h`/`--help` among
//! other options keep doing so in their own parsers.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

pub use crate::applet::Applet;
pub use crate::applets::APPLETS;

/// Exit status when the applet does not exist, as busybox and shells use.
const EXIT_NOT_FOUND: u8 = 127;
/// Exit status for a malformed `limina` command line.
const EXIT_USAGE: u8 = 2;

/// Looks an applet up by name.
pub fn find(name: &OsStr) -> Option<&'static Applet> {
    let name = name.to_str()?;
    APPLETS
        .binary_search_by(|a| a.name.cmp(name))
        .ok()
        .map(|i| &APPLETS[i])
}

/// The multi-call entry point: dispatch on argv\[0\], else on argv\[1\].
pub fn run(args: Vec<OsString>) -> ExitCode {
    let argv0 = args.first().cloned().unwrap_or_else(|| "limina".into());
    let base = Path::new(&argv0)
        .file_name()
        .map(OsStr::to_os_string)
        .unwrap_or_else(|| argv0.clone());
    if let Some(applet) = find(&base) {
        return run_applet(applet, args);
    }
    let mut rest = args.into_iter().skip(1);
    match rest.next() {
        None => {
            usage(&mut std::io::stderr());
            ExitCode::from(EXIT_USAGE)
        }
        Some(a) if a == "--list" || a == "-l" => {
            let mut out = std::io::stdout().lock();
            for applet in APPLETS {
                if writeln!(out, "{}", applet.name).is_err() {
                    // Broken pipe (`limina --list | head`): nothing to report.
                    break;
                }
            }
            ExitCode::SUCCESS
        }
        Some(a) if a == "--help" || a == "-h" => {
            usage(&mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Some(a) if a == "--version" || a == "-V" => {
            println!("limina {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(name) => match find(&name) {
            Some(applet) => {
                let mut argv = vec![name];
                argv.extend(rest);
                run_applet(applet, argv)
            }
            None => {
                eprintln!("limina: applet not found: {}", name.to_string_lossy());
                ExitCode::from(EXIT_NOT_FOUND)
            }
        },
    }
}

/// Runs an applet with its argv (argv\[0\] its name), answering a lone
/// `--help` or `--version` itself.
fn run_applet(applet: &Applet, args: Vec<OsString>) -> ExitCode {
    if let [_, flag] = args.as_slice() {
        if flag == "--help" {
            let mut out = std::io::stdout().lock();
            // A closed stdout (`APPLET --help | head -1`) is no error.
            let _ = writeln!(
                out,
                "{}: {}\n{}",
                applet.name,
                applet.summary,
                applet.usage.trim_end()
            );
            return ExitCode::SUCCESS;
        }
        if flag == "--version" {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{} (limina) {}",
                applet.name,
                env!("CARGO_PKG_VERSION")
            );
            return ExitCode::SUCCESS;
        }
    }
    (applet.main)(args)
}

fn usage(out: &mut dyn Write) {
    let _ = writeln!(
        out,
        "limina {}: multi-call binary for Limina routers\n\n\
         Usage: limina APPLET [ARGS...]   or   APPLET [ARGS...] via a symlink\n       \
         limina --list | --help | --version\n\nApplets:",
        env!("CARGO_PKG_VERSION")
    );
    if APPLETS.is_empty() {
        let _ = writeln!(out, "  (none built in)");
    }
    for a in APPLETS {
        let _ = writeln!(out, "  {:<14} {}", a.name, a.summary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applet_table_is_sorted_and_unique() {
        // `find` relies on binary search.
        assert!(APPLETS.windows(2).all(|w| w[0].name < w[1].name));
    }

    #[test]
    fn unknown_applet_is_not_found() {
        assert!(find(OsStr::new("no-such-applet")).is_none());
    }
}
