//! `ifwait`: wait for a network interface condition, or supervise it.
//!
//! ```text
//! ifwait [--timeout SECONDS] [--global] IFNAME CONDITION
//! ifwait --supervise CMD [--debounce MS] [--global] IFNAME CONDITION
//! ```
//!
//! CONDITION: `present`, `up`, `running`, `carrier`, `ipv4`, `ipv6`
//! (`--global`: only a global-scope address counts).
//!
//! Exit codes: 0 the condition holds, 124 timeout (as `timeout(1)`), 2 bad
//! arguments, 1 netlink error. Supervise mode runs until killed; on each
//! debounced transition (and once for the initial state) it runs
//! `/bin/sh -c CMD` with `IFWAIT_IFNAME`, `IFWAIT_CONDITION` and
//! `IFWAIT_STATE` (`up` when the condition holds, `down` when not) set.

use std::ffi::OsString;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use limina_ifwait::{validate_ifname, Condition, IfWatch, Supervisor};

pub(crate) const USAGE: &str =
    "usage: ifwait [--timeout SECONDS] [--supervise CMD [--debounce MS]] \
[--global] IFNAME present|up|running|carrier|ipv4|ipv6";

const EXIT_ERROR: u8 = crate::applet::Family::Limina.failure_exit();
const EXIT_USAGE: u8 = crate::applet::Family::Limina.usage_exit();
const EXIT_TIMEOUT: u8 = 124;

#[derive(Debug)]
struct Opts {
    timeout: Option<Duration>,
    supervise: Option<String>,
    debounce: Duration,
    ifname: String,
    cond: Condition,
}

fn parse(args: Vec<OsString>) -> Result<Opts, String> {
    let mut timeout = None;
    let mut supervise = None;
    let mut debounce = Duration::from_millis(500);
    let mut global = false;
    let mut pos = Vec::new();
    let mut it = args.into_iter().skip(1);
    while let Some(arg) = it.next() {
        let arg = arg
            .into_string()
            .map_err(|a| format!("argument {a:?} is not UTF-8"))?;
        let mut value = || {
            it.next()
                .and_then(|v| v.into_string().ok())
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "-t" | "--timeout" => {
                let v = value()?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| format!("--timeout: {v:?} is not a number of seconds"))?;
                timeout = Some(Duration::from_secs_f64(secs));
            }
            "-s" | "--supervise" => supervise = Some(value()?),
            "--debounce" => {
                let v = value()?;
                debounce =
                    Duration::from_millis(v.parse().map_err(|_| {
                        format!("--debounce: {v:?} is not a number of milliseconds")
                    })?);
            }
            "-g" | "--global" => global = true,
            "-h" | "--help" => return Err(USAGE.into()),
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unknown option {s:?}\n{USAGE}"))
            }
            _ => pos.push(arg),
        }
    }
    let [ifname, cond] = <[String; 2]>::try_from(pos)
        .map_err(|_| format!("expected IFNAME and CONDITION\n{USAGE}"))?;
    validate_ifname(&ifname).map_err(|e| e.to_string())?;
    let mut cond: Condition = cond
        .parse()
        .map_err(|e: limina_ifwait::UnknownCondition| e.to_string())?;
    match &mut cond {
        Condition::Ipv4 { global: g } | Condition::Ipv6 { global: g } => *g = global,
        _ if global => return Err("--global only applies to ipv4 and ipv6".into()),
        _ => {}
    }
    if supervise.is_some() && timeout.is_some() {
        return Err("--timeout and --supervise exclude each other".into());
    }
    Ok(Opts {
        timeout,
        supervise,
        debounce,
        ifname,
        cond,
    })
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ifwait: {}", e.trim_start_matches("ifwait: "));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut watch = match IfWatch::new(&opts.ifname, opts.cond.needs_addresses()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = match &opts.supervise {
        None => watch.wait_for(opts.cond, opts.timeout).map(|held| {
            if held {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_TIMEOUT)
            }
        }),
        Some(cmd) => supervise(&mut watch, &opts, cmd),
    };
    result.unwrap_or_else(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_ERROR)
    })
}

fn supervise(
    watch: &mut IfWatch,
    opts: &Opts,
    cmd: &str,
) -> Result<ExitCode, limina_ifwait::Error> {
    let mut sup = Supervisor::new(opts.debounce);
    loop {
        let holds = watch.state().holds(opts.cond);
        if let Some(now_holds) = sup.observe(holds, Instant::now()) {
            let state = if now_holds { "up" } else { "down" };
            let status = Command::new("/bin/sh")
                .arg("-c")
                .arg(cmd)
                .env("IFWAIT_IFNAME", &opts.ifname)
                .env("IFWAIT_CONDITION", opts.cond.name())
                .env("IFWAIT_STATE", state)
                .status();
            match status {
                Ok(s) if s.success() => {}
                Ok(s) => eprintln!("ifwait: {cmd:?} ({} {state}) failed: {s}", opts.ifname),
                Err(e) => eprintln!("ifwait: cannot run /bin/sh -c {cmd:?}: {e}"),
            }
        }
        // Sleep until the kernel reports something, or a debounce ends.
        watch.next_events(sup.deadline())?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Opts, String> {
        parse(
            std::iter::once("ifwait")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect(),
        )
    }

    #[test]
    fn arguments() {
        let o = p(&["--timeout", "1.5", "--global", "eth0", "ipv6"]).expect("valid");
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(o.cond, Condition::Ipv6 { global: true });
        assert!(p(&["eth0", "sideways"])
            .expect_err("bad condition")
            .contains("unknown condition"));
        assert!(p(&["a/b", "up"]).expect_err("bad name").contains("'/'"));
        assert!(p(&["--global", "eth0", "up"]).is_err());
        assert!(p(&["eth0"]).is_err());
        assert!(p(&["--timeout", "-1", "eth0", "up"]).is_err());
        assert!(p(&["--timeout", "1", "--supervise", "true", "eth0", "up"]).is_err());
        let o = p(&["--supervise", "echo", "--debounce", "0", "eth0", "running"]).expect("ok");
        assert_eq!(o.debounce, Duration::ZERO);
        assert_eq!(o.supervise.as_deref(), Some("echo"));
    }
}
