//! `watch-outputs`: act when outputs change.
//!
//! ```text
//! watch-outputs [-d DIR] [-1] -r SERVICEDIR           WATCH...
//! watch-outputs [-d DIR] [-1] -s SIGNAL (-p PID | -P PIDFILE) WATCH...
//! watch-outputs [-d DIR] [-1] WATCH... -- COMMAND [ARG...]
//! watch-outputs [-d DIR] -n FD WATCH... [ACTION]
//! ```
//!
//! WATCH is `SERVICE/KEY` (one value) or `SERVICE` (the whole set). Blocks
//! until a watched value differs from the one read at start (or at the last
//! action), then restarts the s6 service (`s6-svc -r SERVICEDIR`), sends
//! SIGNAL, or runs COMMAND (no shell), and goes on watching. `-1` exits after
//! the first action. Re-publishing the same values, or other keys
//! changing, does not trigger.
//!
//! `-n FD` (readiness for s6, whose `notification-fd` a hook run by pppd
//! cannot reach): once every WATCH has a value (at once if they already
//! do), write a newline to FD; without an action, then exit 0.
//!
//! Exit codes: 0 after the action with `-1`, 1 the action failed with `-1`
//! or the watch itself failed, 2 usage. Without `-1` a failed action is
//! logged and watching goes on.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use limina_outputs::watch::{parse_signal, Action, PidSource, Watched, Watcher};

use super::outputs_cli::{fail, notify_fd, store_and_args, EXIT_USAGE};

pub(crate) const USAGE: &str =
    "usage: watch-outputs [-d DIR] [-1] [-n FD] (-r SERVICEDIR | -s SIGNAL (-p PID | -P PIDFILE)) \
WATCH... | watch-outputs [-d DIR] [-1] [-n FD] WATCH... -- COMMAND [ARG...] | \
watch-outputs [-d DIR] -n FD WATCH...";

struct Opts {
    once: bool,
    ready_fd: Option<u32>,
    action: Option<Action>,
    watched: Vec<Watched>,
}

fn parse(rest: Vec<OsString>) -> Result<Opts, String> {
    let mut once = false;
    let mut ready_fd = None;
    let mut restart = None;
    let mut signal = None;
    let mut target = None;
    let mut command = None;
    let mut watched = Vec::new();
    let mut it = rest.into_iter();
    while let Some(a) = it.next() {
        let s = a
            .to_str()
            .ok_or_else(|| format!("argument {a:?} is not UTF-8"))?;
        let mut value = |flag: &str| -> Result<String, String> {
            it.next()
                .and_then(|v| v.into_string().ok())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match s {
            "-1" | "--once" => once = true,
            "-n" | "--ready-fd" => {
                let v = value(s)?;
                ready_fd = Some(v.parse().map_err(|_| format!("bad fd {v:?}"))?);
            }
            "-r" | "--restart" => restart = Some(PathBuf::from(value(s)?)),
            "-s" | "--signal" => {
                let v = value(s)?;
                signal = Some(parse_signal(&v).ok_or_else(|| format!("unknown signal {v:?}"))?);
            }
            "-p" | "--pid" => {
                let v = value(s)?;
                let pid = v.parse().map_err(|_| format!("bad pid {v:?}"))?;
                target = Some(PidSource::Pid(pid));
            }
            "-P" | "--pidfile" => target = Some(PidSource::File(value(s)?.into())),
            "--" => {
                command = Some(it.by_ref().collect::<Vec<_>>());
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            w => watched.push(w.parse().map_err(|e| format!("{e}"))?),
        }
    }
    let action = match (restart, signal, target, command) {
        (Some(dir), None, None, None) => Some(Action::Restart(dir)),
        (None, Some(signal), Some(target), None) => Some(Action::Signal { signal, target }),
        (None, None, None, Some(cmd)) if !cmd.is_empty() => Some(Action::Command(cmd)),
        (None, None, None, None) if ready_fd.is_some() => None,
        _ => {
            return Err("give exactly one action: -r DIR, -s SIG with -p/-P, or -- COMMAND".into())
        }
    };
    if watched.is_empty() {
        return Err("nothing to watch".into());
    }
    Ok(Opts {
        once,
        ready_fd,
        action,
        watched,
    })
}

/// Runs the applet.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let opts = store_and_args(args).and_then(|(store, rest)| Ok((store, parse(rest)?)));
    let (store, opts) = match opts {
        Ok(p) => p,
        Err(e) => return fail("watch-outputs", format!("{e}\n{USAGE}"), EXIT_USAGE),
    };
    let mut watcher = match Watcher::new(store, opts.watched) {
        Ok(w) => w,
        Err(e) => return fail("watch-outputs", e, 1),
    };
    if let Some(fd) = opts.ready_fd {
        while !watcher.values().iter().all(Option::is_some) {
            if let Err(e) = watcher.wait() {
                return fail("watch-outputs", e, 1);
            }
        }
        notify_fd("watch-outputs", fd);
    }
    let Some(action) = opts.action else {
        return ExitCode::SUCCESS;
    };
    loop {
        if let Err(e) = watcher.wait() {
            return fail("watch-outputs", e, 1);
        }
        let result = action.run();
        match (result, opts.once) {
            (Ok(()), true) => return ExitCode::SUCCESS,
            (Err(e), true) => return fail("watch-outputs", e, 1),
            (Ok(()), false) => {}
            (Err(e), false) => eprintln!("watch-outputs: {e}"),
        }
    }
}
