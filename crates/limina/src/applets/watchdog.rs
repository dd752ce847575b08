//! `watchdog`: the watchdog ratchet daemon.
//!
//! ```text
//! watchdog [-c CONFIG.toml] [-d DEVICE] [-t TIMEOUT] [-i INTERVAL] [-H HEAD_START]
//!          [--service DIR]... [--ready DIR]... [--interface IF]...
//!          [--file PATH]... [--command CMD]... [--command-deadline SECS]
//!          [--hand-off-exec CMD]
//! watchdog --info [-d DEVICE]
//! ```
//!
//! Settings come from flags and/or a TOML file (`-c`, see
//! `limina_watchdog::Config`); a flag after `-c` overrides the file, and
//! checks from both are kept.
//!
//! Feeds DEVICE (default `/dev/watchdog`, or the fd named by
//! `LIMINA_WATCHDOG_FD` when a predecessor handed one down) every INTERVAL
//! seconds (default: a third of the timeout): unconditionally for
//! HEAD_START seconds (default 60), then only while every check passes.
//! The first failing check is logged and feeding stops for good.
//!
//! Signals: SIGTERM/SIGINT stop cleanly (magic close 'V' if the driver
//! supports it; refused once a check has failed, so the reset still
//! happens); SIGUSR1 execs `/bin/sh -c CMD` from `--hand-off-exec` with the
//! watchdog fd inherited (also refused once a check has failed).
//!
//! Exit codes: 0 stopped cleanly or `--info` done, 1 device error, 2 bad
//! arguments.

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use limina_watchdog::{flags, run_checks, Action, Check, Config, Ratchet, Watchdog};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

pub(crate) const USAGE: &str =
    "usage: watchdog [-c CONFIG] [-d DEVICE] [-t TIMEOUT] [-i INTERVAL] [-H HEAD_START] \
[--service DIR] [--ready DIR] [--interface IF] [--file PATH] [--command CMD] \
[--command-deadline SECS] [--hand-off-exec CMD] | --info [-d DEVICE]";

#[derive(Debug)]
struct Opts {
    device: PathBuf,
    timeout: Option<u64>,
    interval: Option<u64>,
    head_start: u64,
    checks: Vec<Check>,
    hand_off_exec: Option<String>,
    info: bool,
}

fn parse(args: Vec<OsString>) -> Result<Opts, String> {
    let mut o = Opts {
        device: "/dev/watchdog".into(),
        timeout: None,
        interval: None,
        head_start: 60,
        checks: Vec::new(),
        hand_off_exec: None,
        info: false,
    };
    let mut deadline = Duration::from_secs(10);
    let mut commands = Vec::new();
    let mut it = args.into_iter().skip(1);
    while let Some(arg) = it.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {a:?} is not UTF-8"))?;
        if arg == "--info" {
            o.info = true;
            continue;
        }
        if arg == "-h" || arg == "--help" {
            return Err(USAGE.into());
        }
        let mut value = || {
            it.next()
                .and_then(|v| v.into_string().ok())
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        let secs = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{arg}: {v:?} is not a number of seconds"))
        };
        match arg.as_str() {
            "-d" | "--device" => o.device = value()?.into(),
            "-t" | "--timeout" => o.timeout = Some(secs(value()?)?),
            "-i" | "--interval" => o.interval = Some(secs(value()?)?),
            "-H" | "--head-start" => o.head_start = secs(value()?)?,
            "--service" => o.checks.push(Check::S6Service {
                dir: value()?.into(),
                ready: false,
            }),
            "--ready" => o.checks.push(Check::S6Service {
                dir: value()?.into(),
                ready: true,
            }),
            "--interface" => o.checks.push(Check::Interface { name: value()? }),
            "--file" => o.checks.push(Check::FileExists {
                path: value()?.into(),
            }),
            "--command" => commands.push(value()?),
            "--command-deadline" => deadline = Duration::from_secs(secs(value()?)?),
            "--hand-off-exec" => o.hand_off_exec = Some(value()?),
            "-c" | "--config" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {path}: {e}"))?;
                let c = Config::from_toml(&text).map_err(|e| {
                    format!("{path}: {}", e.to_string().trim_start_matches("watchdog: "))
                })?;
                if let Some(d) = c.device {
                    o.device = d;
                }
                o.timeout = c.timeout.map(|t| t.as_secs()).or(o.timeout);
                o.interval = c.interval.map(|t| t.as_secs()).or(o.interval);
                o.head_start = c.head_start.map_or(o.head_start, |t| t.as_secs());
                o.checks.extend(c.checks);
            }
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    o.checks.extend(
        commands
            .into_iter()
            .map(|command| Check::Command { command, deadline }),
    );
    if o.interval == Some(0) {
        return Err("-i: the interval must be at least 1 second".into());
    }
    Ok(o)
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("watchdog: {e}");
            return ExitCode::from(crate::applet::Family::Limina.usage_exit());
        }
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watchdog: {e:#}");
            ExitCode::from(crate::applet::Family::Limina.failure_exit())
        }
    }
}

fn run(opts: Opts) -> anyhow::Result<()> {
    // Block the signals we handle before anything else, so that none is
    // lost between start-up and the first poll.
    let mut sigs = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGUSR1] {
        sigs.add(s);
    }
    sigs.thread_block()?;
    // Close-on-exec: a hand-off successor inherits only the watchdog fd.
    let sfd = SignalFd::with_flags(&sigs, SfdFlags::SFD_CLOEXEC)?;

    let dog = match Watchdog::from_env()? {
        Some(dog) => dog,
        None => Watchdog::open(&opts.device)?,
    };
    let support = dog.support()?;
    if dog.boot_status()? & flags::WDIOF_CARDRESET != 0 {
        eprintln!(
            "watchdog: the last reboot was a watchdog reset (WDIOF_CARDRESET from {})",
            dog.name()
        );
    }
    if let Some(t) = opts.timeout {
        if support.options & flags::WDIOF_SETTIMEOUT == 0 {
            anyhow::bail!(
                "{} ({}) cannot set its timeout",
                dog.name(),
                support.identity
            );
        }
        dog.set_timeout(Duration::from_secs(t))?;
    }
    let timeout = dog.timeout()?;
    dog.keepalive()?;
    if opts.info {
        println!("identity: {}", support.identity);
        println!("options: {:#06x}", support.options);
        println!("firmware_version: {}", support.firmware_version);
        println!("timeout: {}", timeout.as_secs());
        println!("bootstatus: {:#06x}", dog.boot_status()?);
        return stop(dog, &support);
    }
    let interval = match opts.interval {
        Some(i) => Duration::from_secs(i),
        None => (timeout / 3).max(Duration::from_secs(1)),
    };
    if interval >= timeout {
        eprintln!(
            "watchdog: warning: interval {}s is not shorter than the timeout {}s",
            interval.as_secs(),
            timeout.as_secs()
        );
    }

    // Start-up is over: let go of the start-up code's pages (see
    // limina_watchdog::startup); the loop faults in what it runs.
    if let Err(e) = limina_watchdog::startup::release_startup_pages() {
        eprintln!("watchdog: warning: could not release start-up pages: {e}");
    }
    let start = Instant::now();
    let mut ratchet = Ratchet::new(Duration::from_secs(opts.head_start));
    let mut next = start;
    loop {
        match ratchet.tick(start.elapsed(), || run_checks(&opts.checks)) {
            Action::Feed => dog.keepalive()?,
            Action::StarveNow { check, reason } => {
                let what = opts
                    .checks
                    .get(check)
                    .map_or_else(|| format!("check {check}"), ToString::to_string);
                eprintln!(
                    "watchdog: check failed: {what}: {reason}; no longer feeding {}, \
                     the board resets within {}s",
                    dog.name(),
                    timeout.as_secs()
                );
            }
            Action::Starving => {}
        }
        // One wake-up per interval, on a fixed grid so that slow checks do
        // not stretch it.
        next += interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
        let wait = next - now;
        // Round up: waking a millisecond early would cost a second tick.
        let wait =
            PollTimeout::try_from(wait + Duration::from_micros(999)).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, wait) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(info) = sfd.read_signal()? else {
            continue;
        };
        let signo = i32::try_from(info.ssi_signo).unwrap_or(0);
        if signo == Signal::SIGUSR1 as i32 {
            let Some(cmd) = &opts.hand_off_exec else {
                eprintln!("watchdog: SIGUSR1 without --hand-off-exec: ignored");
                continue;
            };
            if ratchet.starved() {
                // A successor would feed again: the ratchet must not reopen.
                eprintln!("watchdog: a check failed: no hand-off, the board resets");
                continue;
            }
            let mut command = Command::new("/bin/sh");
            command.arg("-c").arg(cmd);
            let _dup = dog.hand_off_to(&mut command)?;
            // exec only returns on failure; std unblocks all signals in the
            // new image.
            let e = command.exec();
            anyhow::bail!("hand-off: cannot exec /bin/sh -c {cmd:?}: {e}");
        }
        if ratchet.starved() {
            eprintln!("watchdog: a check failed: not stopping the watchdog, the board resets");
            // Keep holding the device so that the reset happens.
            continue;
        }
        return stop(dog, &support);
    }
}

/// Stops cleanly: magic close where the driver supports it.
fn stop(dog: Watchdog, support: &limina_watchdog::Support) -> anyhow::Result<()> {
    if support.magic_close() {
        dog.magic_close()?;
    } else {
        // Without magic close, the kernel stops the watchdog on close (unless
        // built with nowayout).
        drop(dog);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Opts, String> {
        parse(
            std::iter::once("watchdog")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect(),
        )
    }

    #[test]
    fn arguments() {
        let o = p(&[
            "-t",
            "15",
            "--command",
            "true",
            "--command-deadline",
            "3",
            "--file",
            "/x",
            "--ready",
            "/run/service/a",
        ])
        .expect("valid");
        assert_eq!(o.timeout, Some(15));
        assert_eq!(o.head_start, 60);
        // Commands run last (they are the expensive checks), with the deadline.
        assert_eq!(
            o.checks,
            [
                Check::FileExists { path: "/x".into() },
                Check::S6Service {
                    dir: "/run/service/a".into(),
                    ready: true
                },
                Check::Command {
                    command: "true".into(),
                    deadline: Duration::from_secs(3)
                },
            ]
        );
        assert!(p(&["-i", "0"]).is_err());
        assert!(p(&["-t", "x"]).expect_err("not a number").contains("-t"));
        assert!(p(&["--bogus"])
            .expect_err("unknown")
            .contains("unknown option"));
        assert!(p(&["--file"])
            .expect_err("missing")
            .contains("needs a value"));
    }
    #[test]
    fn config_file_then_flags() {
        let path = std::env::temp_dir().join(format!("limina-wd-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "timeout = 15\nhead_start = 120\n[[check]]\ninterface = \"eth0\"\n",
        )
        .expect("write temp file");
        let path_s = path.to_str().expect("temp paths are UTF-8");
        let o = p(&["-c", path_s, "-t", "20", "--file", "/x"]).expect("valid");
        assert_eq!(o.timeout, Some(20), "the flag after -c wins");
        assert_eq!(o.head_start, 120);
        assert_eq!(
            o.checks,
            [
                Check::Interface {
                    name: "eth0".into()
                },
                Check::FileExists { path: "/x".into() }
            ]
        );
        std::fs::write(&path, "[[check]]\nfiel = \"/x\"\n").expect("write temp file");
        let e = p(&["-c", path_s]).expect_err("typo");
        assert!(e.contains("fiel"), "{e}");
        let _ = std::fs::remove_file(&path);
    }
}
