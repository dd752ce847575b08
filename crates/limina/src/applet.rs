//! The skeleton every applet runs in: argument decoding, `--help` and
//! `--version`, the exit code of a usage error and of a failure, one line
//! on stderr per error.
//!
//! Users script against the tools Limina's applets imitate, so the exit
//! codes are those tools' (docs/cli.md has the table): each applet names
//! its [`Family`] once and this module applies it. Errors are printed as
//! `NAME: message`, the message being the error's chain with each cause
//! that the previous message already quotes left out (library errors
//! include their OS error in their text, as mtd-rs and limina-kexec do),
//! and a library's own prefix (`kexec: `, `mtd: `) dropped where it would
//! repeat the applet's.
//!
//! The module depends on no applet: [`crate::applets`] holds the table and
//! [`crate::dispatch`] looks names up in it.

#![cfg_attr(
    not(all(
        feature = "mtd",
        feature = "kexec",
        feature = "ubi",
        feature = "outputs",
        feature = "ifwait",
        feature = "watchdog"
    )),
    allow(
        dead_code,
        reason = "parts of the skeleton serve applets of features not built"
    )
)]

use std::ffi::OsString;
use std::process::ExitCode;

/// One tool inside the multi-call binary.
pub struct Applet {
    /// The name it is called by (argv\[0\] or `limina <name>`).
    pub name: &'static str,
    /// One line for `limina --help` and `APPLET --help`.
    pub summary: &'static str,
    /// The usage, printed for `APPLET --help` (see [`crate::dispatch`]).
    pub usage: &'static str,
    /// Runs the applet; receives its own argv, argv\[0\] being the applet name.
    pub main: fn(Vec<OsString>) -> ExitCode,
}

/// Whose conventions an applet keeps for its exit codes: the tool it
/// imitates, measured against Debian 12's mtd-utils 2.1.5 and kexec-tools
/// 2.0.25 (docs/cli.md has the table and how it was measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// mtd-utils' `flashcp`: `exit(EXIT_FAILURE)`, 1, for usage errors
    /// and failures alike.
    Flashcp,
    /// mtd-utils' `flash_erase`: 255 for a usage error (`return errmsg()`
    /// from `main`), 1 for a failure (`errmsg_die`).
    FlashErase,
    /// mtd-utils' ubi-utils (`mtdinfo`, `ubiattach`, `ubinfo`, ...):
    /// `return -1` from `main`, 255, for every error.
    UbiUtils,
    /// kexec-tools' `kexec` (and `trial-boot`, which takes its flags): 1
    /// for a bad option and for failures.
    KexecTools,
    /// Limina's own tools (`ifwait`, `watchdog`, the outputs applets): 2
    /// for a usage error, as POSIX utilities and busybox's getopt32 do;
    /// 1 for a failure (each documents any further codes).
    Limina,
}

impl Family {
    /// The exit code of a malformed command line.
    pub(crate) const fn usage_exit(self) -> u8 {
        match self {
            Family::Flashcp | Family::KexecTools => 1,
            Family::FlashErase | Family::UbiUtils => 255,
            Family::Limina => 2,
        }
    }

    /// The exit code of a failure.
    pub(crate) const fn failure_exit(self) -> u8 {
        match self {
            Family::Flashcp | Family::FlashErase | Family::KexecTools | Family::Limina => 1,
            Family::UbiUtils => 255,
        }
    }
}

/// What a command line asks for.
pub(crate) enum Parsed<A> {
    /// Run with these arguments.
    Run(A),
    /// `-h`/`--help`: the usage on stdout, exit 0.
    Help,
    /// `--version`: `NAME (limina) VERSION` on stdout, exit 0.
    Version,
}

/// An applet's fixed facts.
pub(crate) struct Tool {
    /// The applet's name, the prefix of its messages.
    pub name: &'static str,
    /// The usage line(s), printed after a usage error and for `--help`.
    pub usage: &'static str,
    /// Whose exit codes it keeps.
    pub family: Family,
    /// Prefixes of library messages to drop (e.g. `kexec: `).
    pub strip: &'static [&'static str],
}

impl Tool {
    /// Runs an applet: decodes `args` as UTF-8, parses them with `parse`
    /// (an `Err` is a usage error), runs `run`, and maps the outcome to
    /// the family's exit code.
    pub(crate) fn main<A>(
        &self,
        args: Vec<OsString>,
        parse: impl FnOnce(Vec<String>) -> Result<Parsed<A>, String>,
        run: impl FnOnce(A) -> anyhow::Result<()>,
    ) -> ExitCode {
        let parsed = match utf8(args).and_then(parse) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{}: {e}\n{}", self.name, self.usage);
                return ExitCode::from(self.family.usage_exit());
            }
        };
        match parsed {
            Parsed::Help => {
                println!("{}", self.usage);
                ExitCode::SUCCESS
            }
            Parsed::Version => {
                println!("{} (limina) {}", self.name, env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
            Parsed::Run(a) => self.finish(run(a)),
        }
    }

    /// The end of every applet run: 0, or the error on stderr as one line
    /// and the family's failure code. For applets whose flags a shared
    /// parser of their own reads (the UBI tools' `ubi_args::run`).
    pub(crate) fn finish(&self, result: anyhow::Result<()>) -> ExitCode {
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{}: {}", self.name, self.message(&e));
                ExitCode::from(self.family.failure_exit())
            }
        }
    }

    /// The one-line message for `e`: its chain, each cause that the text
    /// so far already quotes left out, library prefixes dropped.
    pub(crate) fn message(&self, e: &anyhow::Error) -> String {
        let mut out = String::new();
        for cause in e.chain() {
            let text = cause.to_string();
            let mut text = text.as_str();
            for p in self.strip {
                text = text.strip_prefix(p).unwrap_or(text);
            }
            if text.is_empty() || out.contains(text) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(text);
        }
        out
    }
}

/// The arguments as UTF-8 strings (argv\[0\] included), or an error naming
/// the first that is not: device names, paths and keys on a router are.
pub(crate) fn utf8(args: Vec<OsString>) -> Result<Vec<String>, String> {
    args.into_iter()
        .map(|a| {
            a.into_string()
                .map_err(|a| format!("argument {a:?} is not UTF-8"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Lib(std::io::Error);

    impl std::fmt::Display for Lib {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "kexec: cannot read /x: {}", self.0)
        }
    }

    impl std::error::Error for Lib {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn messages_keep_the_chain_once() {
        let tool = Tool {
            name: "kexec",
            usage: "usage: kexec",
            family: Family::KexecTools,
            strip: &["kexec: "],
        };
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = anyhow::Error::new(Lib(io)).context("loading the kernel");
        assert_eq!(
            tool.message(&e),
            "loading the kernel: cannot read /x: entity not found"
        );
    }

    #[test]
    fn usage_errors_exit_as_the_family_does() {
        let tool = Tool {
            name: "t",
            usage: "usage: t",
            family: Family::Flashcp,
            strip: &[],
        };
        let bad = tool.main(
            vec!["t".into()],
            |_| Err::<Parsed<()>, _>("nope".into()),
            |()| Ok(()),
        );
        assert_eq!(bad, ExitCode::from(1));
        let help = tool.main(vec!["t".into()], |_| Ok(Parsed::<()>::Help), |()| Ok(()));
        assert_eq!(help, ExitCode::SUCCESS);
        let fail = tool.main(
            vec!["t".into()],
            |_| Ok(Parsed::Run(())),
            |()| Err(anyhow::anyhow!("broken")),
        );
        assert_eq!(fail, ExitCode::from(1));
    }
}
