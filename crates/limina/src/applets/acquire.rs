//! `acquire-wan-address`, `acquire-delegated-prefix`: apply a service's
//! outputs to interfaces over rtnetlink.
//!
//! ```text
//! acquire-wan-address [-d DIR] [-w] [-x] [-i IFNAME] [-R] [-m METRIC] [-o STATE] [-n FD] SERVICE
//! acquire-delegated-prefix [-d DIR] [-w] [-x] -i LANIF [-s SUBNET] [-o STATE] [-n FD] SERVICE
//! ```
//!
//! Reads SERVICE's outputs, adds the addresses (and default routes) they
//! call for, and removes what this applet added earlier that they no
//! longer call for; addresses and routes it did not add are never
//! removed. What it added is recorded as the outputs of STATE (default
//! `acquired-SERVICE`, or `delegated-SERVICE-LANIF`). `-w` keeps watching
//! SERVICE and re-applies on each change; `-x` removes everything recorded
//! and exits (for a finish script). `-n FD` writes a newline to FD (s6's
//! notification-fd) once the outputs' addresses are all in place.
//!
//! `acquire-wan-address`: `ip`/`prefixlen` (or `mask`, or `peer` for PPP),
//! `address/<id>/{address,len}`, a default route via `router` or out of a
//! point-to-point interface, and `route/<id>/…`; `-i` overrides the
//! `ifname` output, `-R` adds no routes, `-m` sets their metric.
//! `acquire-delegated-prefix`: for each `prefix/<id>/{prefix,len}`, the
//! address `<prefix>:<SUBNET>::1/64` on LANIF (SUBNET in hex, as it
//! appears in the address; default 0).
//!
//! Exit codes: 0 everything applied, 1 something could not be applied or
//! removed (each logged; the rest is applied), 2 usage, 4 the outputs or
//! the store could not be read or written.

use std::ffi::OsString;
use std::process::ExitCode;

use limina_outputs::acquire::{
    plan_delegated_prefix, plan_wan, AcquireError, Acquirer, Item, PlanError, Report, WanOptions,
};
use limina_outputs::watch::Watcher;
use limina_outputs::{OutputSet, Store, StoreError};

use super::outputs_cli::{fail, notify_fd, store_and_args, utf8, EXIT_ERROR, EXIT_USAGE};

pub(crate) const WAN_USAGE: &str =
    "usage: acquire-wan-address [-d DIR] [-w] [-x] [-i IFNAME] [-R] \
[-m METRIC] [-o STATE] [-n FD] SERVICE";
pub(crate) const PREFIX_USAGE: &str =
    "usage: acquire-delegated-prefix [-d DIR] [-w] [-x] -i LANIF \
[-s SUBNET] [-o STATE] [-n FD] SERVICE";

enum Kind {
    Wan(WanOptions),
    Prefix { lan: String, subnet: u64 },
}

struct Opts {
    watch: bool,
    release: bool,
    state: Option<String>,
    ready_fd: Option<u32>,
    service: String,
    kind: Kind,
}

fn parse(wan: bool, rest: Vec<OsString>) -> Result<Opts, String> {
    let args = utf8(&rest)?;
    let mut it = args.into_iter();
    let (mut watch, mut release, mut state, mut ready_fd) = (false, false, None, None);
    let (mut ifname, mut no_routes, mut metric, mut subnet) = (None, false, 0u32, 0u64);
    let mut service = None;
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match a.as_str() {
            "-w" | "--watch" => watch = true,
            "-x" | "--release" => release = true,
            "-i" | "--interface" => ifname = Some(value(&a)?),
            "-o" | "--state" => state = Some(value(&a)?),
            "-n" | "--ready-fd" => {
                let v = value(&a)?;
                ready_fd = Some(v.parse().map_err(|_| format!("bad fd {v:?}"))?);
            }
            "-R" | "--no-routes" if wan => no_routes = true,
            "-m" | "--metric" if wan => {
                let v = value(&a)?;
                metric = v.parse().map_err(|_| format!("bad metric {v:?}"))?;
            }
            "-s" | "--subnet" if !wan => {
                let v = value(&a)?;
                subnet = u64::from_str_radix(&v, 16)
                    .map_err(|_| format!("bad subnet {v:?}: expected hex digits"))?;
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            s if service.is_none() => service = Some(s.to_owned()),
            s => return Err(format!("unexpected argument {s:?}")),
        }
    }
    let service = service.ok_or("no SERVICE given")?;
    limina_outputs::check_service(&service).map_err(|e| e.to_string())?;
    if watch && release {
        return Err("-w and -x exclude each other".into());
    }
    let kind = if wan {
        Kind::Wan(WanOptions {
            ifname,
            no_routes,
            metric,
        })
    } else {
        Kind::Prefix {
            lan: ifname.ok_or("-i LANIF is required")?,
            subnet,
        }
    };
    Ok(Opts {
        watch,
        release,
        state,
        ready_fd,
        service,
        kind,
    })
}

fn plan(opts: &Opts, set: &OutputSet) -> Result<Vec<Item>, PlanError> {
    match &opts.kind {
        Kind::Wan(w) => plan_wan(&opts.service, set, w),
        Kind::Prefix { lan, subnet } => plan_delegated_prefix(&opts.service, set, lan, *subnet),
    }
}

/// The service's outputs; none (stopped, never published) is an empty set.
fn read(store: &Store, service: &str) -> Result<OutputSet, StoreError> {
    match store.read(service) {
        Ok(s) => Ok(s),
        Err(StoreError::NoOutputs { .. }) => Ok(OutputSet::new()),
        Err(e) => Err(e),
    }
}

/// One line per change; a foreign item once, not at every re-sync.
fn print_report(applet: &str, service: &str, r: &Report, told: &mut Vec<Item>) {
    for i in &r.added {
        eprintln!("{applet}: {service}: added {i}");
    }
    for i in &r.removed {
        eprintln!("{applet}: {service}: removed {i}");
    }
    for i in &r.foreign {
        if !told.contains(i) {
            eprintln!("{applet}: {service}: {i} already present, not ours: left alone");
        }
    }
    *told = r.foreign.clone();
    for i in &r.disowned {
        eprintln!("{applet}: {service}: {i} was re-added by somebody else: left alone");
    }
    for (i, e) in &r.failed {
        eprintln!("{applet}: {service}: {i}: {e}");
    }
}

/// One pass: read, plan (nothing with `-x`), sync; the plan and what the
/// sync did. Unusable outputs are an error and change nothing.
fn pass(
    applet: &str,
    opts: &Opts,
    store: &Store,
    acq: &mut Acquirer,
    told: &mut Vec<Item>,
) -> Result<(Vec<Item>, Report), AcquireError> {
    let set = read(store, &opts.service)?;
    let items = if opts.release {
        Vec::new()
    } else {
        plan(opts, &set)?
    };
    let report = acq.sync(&opts.service, &items)?;
    print_report(applet, &opts.service, &report, told);
    Ok((items, report))
}

fn run(applet: &str, wan: bool, args: Vec<OsString>) -> ExitCode {
    let usage = if wan { WAN_USAGE } else { PREFIX_USAGE };
    let parsed = store_and_args(args).and_then(|(store, rest)| Ok((store, parse(wan, rest)?)));
    let (store, opts) = match parsed {
        Ok(p) => p,
        Err(e) => return fail(applet, format!("{e}\n{usage}"), EXIT_USAGE),
    };
    let state = opts.state.clone().unwrap_or_else(|| match &opts.kind {
        Kind::Wan(_) => format!("acquired-{}", opts.service),
        Kind::Prefix { lan, .. } => format!("delegated-{}-{lan}", opts.service),
    });
    let mut acq = match Acquirer::new(store.clone(), &state) {
        Ok(a) => a,
        Err(e) => return fail(applet, format!("{e} (choose one with -o)"), EXIT_USAGE),
    };
    let mut watcher = if opts.watch {
        match Watcher::new(store.clone(), vec![opts.service.parse().expect("checked")]) {
            Ok(w) => Some(w),
            Err(e) => return fail(applet, e, EXIT_ERROR),
        }
    } else {
        None
    };
    let mut ready = opts.ready_fd;
    let mut told = Vec::new();
    loop {
        let code = match pass(applet, &opts, &store, &mut acq, &mut told) {
            Ok((items, report)) => {
                if !items.is_empty() && report.complete() {
                    if let Some(fd) = ready.take() {
                        notify_fd(applet, fd);
                    }
                }
                if report.complete() {
                    0
                } else {
                    1
                }
            }
            Err(e @ AcquireError::Plan(_)) => {
                eprintln!("{applet}: {e}; nothing changed");
                1
            }
            Err(e) => {
                eprintln!("{applet}: {e}");
                EXIT_ERROR
            }
        };
        let Some(w) = watcher.as_mut() else {
            return ExitCode::from(code);
        };
        if let Err(e) = w.wait() {
            return fail(applet, e, EXIT_ERROR);
        }
    }
}

/// `acquire-wan-address`.
pub fn wan_address(args: Vec<OsString>) -> ExitCode {
    run("acquire-wan-address", true, args)
}

/// `acquire-delegated-prefix`.
pub fn delegated_prefix(args: Vec<OsString>) -> ExitCode {
    run("acquire-delegated-prefix", false, args)
}
