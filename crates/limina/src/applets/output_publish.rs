//! `output-publish`, `output-unpublish`: outputs from shell services.
//!
//! ```text
//! output-publish [-d DIR] [-n FD] SERVICE KEY=VALUE...
//! output-publish [-d DIR] [-n FD] SERVICE -f FILE [--watch]
//! output-unpublish [-d DIR] SERVICE
//! ```
//!
//! A generation of the store is a directory behind a symlink (decision
//! 0030), which a shell script cannot build safely by hand; these applets
//! are how it publishes. `output-publish` replaces SERVICE's whole set
//! with the given one, atomically (`Store::publish`): keys absent from the
//! new set are gone afterwards. KEY may hold `/` for tables
//! (`address/1/address=192.0.2.1`); a value is one line. With `-f` the set
//! is the file's `KEY=VALUE` lines (`#` comments and blank lines skipped,
//! values kept verbatim). Any malformed argument or line is one error
//! naming it, and nothing is published.
//!
//! `--watch` stays running: it re-publishes whenever the file's content
//! changes (an inotify watch on its directory, so editors that rename a new
//! file over it and files that do not exist yet both work), withdraws the
//! outputs while the file does not exist, and keeps the last good set when
//! the file becomes malformed (one line on stderr). `-n FD` writes s6's
//! readiness newline to FD once the first state is settled: published, or
//! withdrawn because the file does not exist.
//!
//! Exit codes: 0 published (or removed: `output-unpublish` of a service
//! without outputs is fine), 1 the file is malformed, 2 usage (including a
//! malformed KEY=VALUE argument or service name), 4 the file could not be
//! read or the store failed. `--watch` exits only on 2 or 4.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use limina_outputs::file_watch::FileWatch;
use limina_outputs::{assign, check_service, OutputSet, Store};

use super::outputs_cli::{fail, notify_fd, store_and_args, utf8, EXIT_ERROR, EXIT_USAGE};

const NAME: &str = "output-publish";
const UNPUBLISH: &str = "output-unpublish";

/// Exit code of a malformed file.
const EXIT_BAD_FILE: u8 = 1;

pub(crate) const USAGE: &str = "usage: output-publish [-d DIR] [-n FD] SERVICE KEY=VALUE... | \
output-publish [-d DIR] [-n FD] SERVICE -f FILE [--watch]";
pub(crate) const UNPUBLISH_USAGE: &str = "usage: output-unpublish [-d DIR] SERVICE";

/// Where the set comes from.
#[derive(Debug, PartialEq)]
enum Source {
    /// `KEY=VALUE` arguments, already parsed.
    Args(OutputSet),
    /// A file, read once or watched.
    File { path: PathBuf, watch: bool },
}

#[derive(Debug, PartialEq)]
struct Opts {
    service: String,
    ready_fd: Option<u32>,
    source: Source,
}

fn parse(rest: &[String]) -> Result<Opts, String> {
    let mut ready_fd = None;
    let mut file = None;
    let mut watch = false;
    let mut positional = Vec::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match a.as_str() {
            "-n" | "--ready-fd" => {
                let v = value(a)?;
                ready_fd = Some(
                    v.parse()
                        .map_err(|_| format!("-n: {v:?} is not a file descriptor"))?,
                );
            }
            "-f" | "--file" => file = Some(PathBuf::from(value(a)?)),
            "-w" | "--watch" => watch = true,
            "--" => {
                positional.extend(it.by_ref());
                break;
            }
            s if s.starts_with('-') && !s.contains('=') => {
                return Err(format!("unknown option {s:?}"))
            }
            _ => positional.push(a),
        }
    }
    let Some((service, assignments)) = positional.split_first() else {
        return Err("no SERVICE given".into());
    };
    check_service(service).map_err(|e| e.to_string())?;
    let source = match (file, assignments.is_empty()) {
        (Some(_), false) => {
            return Err(format!(
                "give KEY=VALUE arguments or -f FILE, not both (got {:?} with -f)",
                assignments[0]
            ))
        }
        (Some(path), true) => Source::File { path, watch },
        (None, _) if watch => return Err("--watch needs -f FILE".into()),
        (None, true) => return Err("nothing to publish: give KEY=VALUE... or -f FILE".into()),
        (None, false) => Source::Args(assign::parse_args(assignments).map_err(|e| e.to_string())?),
    };
    Ok(Opts {
        service: (*service).clone(),
        ready_fd,
        source,
    })
}

/// Runs `output-publish`.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let opts = store_and_args(args).and_then(|(store, rest)| Ok((store, parse(&utf8(&rest)?)?)));
    let (store, opts) = match opts {
        Ok(p) => p,
        Err(e) => return fail(NAME, format!("{e}\n{USAGE}"), EXIT_USAGE),
    };
    match &opts.source {
        Source::Args(set) => publish_once(&store, &opts, set),
        Source::File { path, watch: false } => match read_file(path) {
            Ok(Some(text)) => match assign::parse_text(&text, &path.to_string_lossy()) {
                Ok(set) => publish_once(&store, &opts, &set),
                Err(e) => fail(NAME, e, EXIT_BAD_FILE),
            },
            Ok(None) => fail(
                NAME,
                format!("cannot read {}: no such file", path.display()),
                EXIT_ERROR,
            ),
            Err(e) => fail(NAME, &e, e.code),
        },
        Source::File { path, watch: true } => watch(&store, &opts, path),
    }
}

fn publish_once(store: &Store, opts: &Opts, set: &OutputSet) -> ExitCode {
    if let Err(e) = store.publish(&opts.service, set) {
        return fail(NAME, e, EXIT_ERROR);
    }
    if let Some(fd) = opts.ready_fd {
        notify_fd(NAME, fd);
    }
    ExitCode::SUCCESS
}

/// A file that could not be read, with the exit code it earns.
struct ReadError {
    message: String,
    code: u8,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The file's text, `None` if it (or its directory) does not exist.
fn read_file(path: &Path) -> Result<Option<String>, ReadError> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| ReadError {
            message: format!("{}: not UTF-8 text", path.display()),
            code: EXIT_BAD_FILE,
        }),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(ReadError {
            message: format!("cannot read {}: {e}", path.display()),
            code: EXIT_ERROR,
        }),
    }
}

/// `--watch`: publish what the file holds, then again on every change.
fn watch(store: &Store, opts: &Opts, path: &Path) -> ExitCode {
    let service = &opts.service;
    let name = path.to_string_lossy();
    // Armed before the first read, so that no change falls between them.
    let mut watcher = match FileWatch::new(path) {
        Ok(w) => w,
        Err(e) => return fail(NAME, e, EXIT_ERROR),
    };
    // What the store holds for us: unknown at start, then the last set
    // published (`Some(Some(set))`) or withdrawn (`Some(None)`).
    let mut held: Option<Option<OutputSet>> = None;
    let mut ready = opts.ready_fd;
    loop {
        let wanted = match read_file(path) {
            Ok(None) => Some(None),
            Ok(Some(text)) => match assign::parse_text(&text, &name) {
                Ok(set) => Some(Some(set)),
                Err(e) => {
                    eprintln!("{NAME}: {e} (outputs of {service} left as they were)");
                    None
                }
            },
            Err(e) => {
                eprintln!("{NAME}: {e} (outputs of {service} left as they were)");
                None
            }
        };
        if let Some(wanted) = wanted.filter(|w| held.as_ref() != Some(w)) {
            let result = match &wanted {
                Some(set) => store.publish(service, set).map(|()| {
                    eprintln!(
                        "{NAME}: published {} value(s) of {service} from {name}",
                        set.flatten().len()
                    );
                }),
                None => store.remove(service).map(|had| {
                    if had || held.is_some() {
                        eprintln!("{NAME}: {name} does not exist: outputs of {service} withdrawn");
                    }
                }),
            };
            if let Err(e) = result {
                return fail(NAME, e, EXIT_ERROR);
            }
            held = Some(wanted);
        }
        // Ready once the first state is settled, published or withdrawn:
        // a missing file (a router's first boot) must not hold up every
        // service that depends on this one; those that need a value wait
        // for it (`watch-outputs -n`).
        if held.is_some() {
            if let Some(fd) = ready.take() {
                notify_fd(NAME, fd);
            }
        }
        if let Err(e) = watcher.wait() {
            return fail(NAME, e, EXIT_ERROR);
        }
    }
}

/// Runs `output-unpublish`.
pub fn unpublish(args: Vec<OsString>) -> ExitCode {
    let parsed = store_and_args(args).and_then(|(s, rest)| Ok((s, utf8(&rest)?)));
    let (store, rest) = match parsed {
        Ok(p) => p,
        Err(e) => return fail(UNPUBLISH, format!("{e}\n{UNPUBLISH_USAGE}"), EXIT_USAGE),
    };
    let [service] = rest.as_slice() else {
        return fail(UNPUBLISH, UNPUBLISH_USAGE, EXIT_USAGE);
    };
    if let Err(e) = check_service(service) {
        return fail(UNPUBLISH, format!("{e}\n{UNPUBLISH_USAGE}"), EXIT_USAGE);
    }
    match store.remove(service) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(UNPUBLISH, e, EXIT_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Opts, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn command_lines() {
        let o = p(&["wan", "ip=192.0.2.1", "address/1/len=24"]).expect("valid");
        assert_eq!(o.service, "wan");
        let Source::Args(set) = &o.source else {
            panic!("{o:?}")
        };
        assert_eq!(set.get("address/1/len"), Some("24"));
        let o = p(&["-n", "3", "secrets", "-f", "/data/secrets", "--watch"]).expect("valid");
        assert_eq!(o.ready_fd, Some(3));
        assert_eq!(
            o.source,
            Source::File {
                path: "/data/secrets".into(),
                watch: true
            }
        );
        // `--` ends the options: a key may start with `-`.
        let o = p(&["svc", "--", "-x=1"]).expect("valid");
        let Source::Args(set) = &o.source else {
            panic!("{o:?}")
        };
        assert_eq!(set.get("-x"), Some("1"));
        // So may a value.
        p(&["svc", "k=-1"]).expect("valid");
    }

    #[test]
    fn usage_errors_name_the_argument() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "no SERVICE given"),
            (&["wan"], "nothing to publish"),
            (&["wan", "ip"], "argument \"ip\": expected KEY=VALUE"),
            (&["wan", "ip=1", "ip=2"], "key \"ip\" already given"),
            (&["wan", "-f", "x", "ip=1"], "not both (got \"ip=1\""),
            (&["wan", "ip=1", "--watch"], "--watch needs -f FILE"),
            (&["wan", "-x"], "unknown option \"-x\""),
            (&["wan", "-n", "three", "a=1"], "-n: \"three\""),
            (&["../x", "a=1"], "invalid service name \"../x\""),
        ];
        for (args, want) in cases {
            let e = p(args).expect_err("invalid");
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }
}
