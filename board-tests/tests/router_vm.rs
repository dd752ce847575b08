//! What the rendered-router VM tests (`router_pppoe`, `router_l2tp`)
//! share: reading the rendered tree's service definitions, starting order,
//! the guest-side timeline of outputs/routes, polling and s6 status.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use limina_board_tests::Vm;
use limina_services::render::Tree;

use crate::common::{Check, CheckSome};

/// Debian's iproute2, for `ip netns` (busybox's `ip` has none); kept off
/// the PATH so that the services use busybox's `ip`, as on the device.
pub(crate) const DEBIAN_IP: &str = "/opt/debian/ip";

/// The scan directory (the rendered `--service-dir`).
pub(crate) const SCAN: &str = "/run/service";

/// A rendered service definition (s6-rc source format).
pub(crate) struct Def {
    pub(crate) oneshot: bool,
    pub(crate) readiness: bool,
    pub(crate) deps: Vec<String>,
    pub(crate) logger: Option<String>,
}

/// The services of the rendered `s6-rc/` (no bundles, no loggers: those
/// run as `SERVICE/log`).
pub(crate) fn services(tree: &Tree) -> BTreeMap<String, Def> {
    let text = |p: String| {
        tree.get(Path::new(&p))
            .map(|f| f.contents.trim().to_string())
    };
    let mut names: Vec<String> = tree
        .keys()
        .filter_map(|p| {
            let mut c = p.components();
            (c.next()?.as_os_str() == "s6-rc")
                .then(|| c.next())
                .flatten()
                .map(|n| n.as_os_str().to_string_lossy().into_owned())
        })
        .collect();
    names.dedup();
    let mut defs = BTreeMap::new();
    for n in names {
        let ty = text(format!("s6-rc/{n}/type")).check_some("a service's type");
        if ty == "bundle" || text(format!("s6-rc/{n}/consumer-for")).is_some() {
            continue;
        }
        let prefix = PathBuf::from(format!("s6-rc/{n}/dependencies.d"));
        let deps = tree
            .keys()
            .filter(|p| p.parent() == Some(prefix.as_path()))
            .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .collect();
        defs.insert(
            n.clone(),
            Def {
                oneshot: ty == "oneshot",
                readiness: text(format!("s6-rc/{n}/notification-fd")).is_some(),
                deps,
                logger: text(format!("s6-rc/{n}/producer-for")),
            },
        );
    }
    defs
}

/// Every service after its dependencies (Kahn; ties by name).
pub(crate) fn order(defs: &BTreeMap<String, Def>) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    while done.len() < defs.len() {
        let next = defs
            .iter()
            .find(|(n, d)| !done.contains(n) && d.deps.iter().all(|x| done.contains(x)))
            .map(|(n, _)| n.clone())
            .check_some("a service whose dependencies are all up (cycle?)");
        done.push(next);
    }
    done
}

/// A `stat -c '%Y %y'` (or the poller's stamp) as nanoseconds since the epoch.
pub(crate) fn stamp_ns(text: &str) -> u128 {
    let mut w = text.split_whitespace();
    let (secs, frac) = match (w.next(), w.next(), w.next()) {
        // "1796392761 2026-12-04 13:59:21.924268046 +0000"
        (Some(s), Some(_date), Some(time)) => (s, time.split_once('.').map_or("0", |(_, f)| f)),
        // "1796392761.924268046"
        (Some(s), None, None) => s.split_once('.').unwrap_or((s, "0")),
        _ => panic!("not a time stamp: {text:?}"),
    };
    let frac = format!("{frac:0<9}");
    secs.parse::<u128>().check("stamp seconds") * 1_000_000_000
        + frac[..9].parse::<u128>().check("stamp nanoseconds")
}

pub(crate) fn ms(from: u128, to: u128) -> String {
    if to >= from {
        format!("{:.1}", (to - from) as f64 / 1e6)
    } else {
        format!("-{:.1}", (from - to) as f64 / 1e6)
    }
}

/// The poller's events so far: (time, what, state).
pub(crate) fn timeline(vm: &mut Vm) -> Vec<(u128, String, bool)> {
    vm.run_ok("cat /tmp/timeline.log")
        .check("timeline")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| (stamp_ns(f[0]), f[1].to_string(), f[2] == "1"))
        })
        .collect()
}

/// The first event `what` = `state` at or after `after`.
pub(crate) fn first(
    events: &[(u128, String, bool)],
    what: &str,
    state: bool,
    after: u128,
) -> Option<u128> {
    events
        .iter()
        .find(|(t, w, s)| *t >= after && w == what && *s == state)
        .map(|(t, _, _)| *t)
}

/// Runs `cond` (a shell condition) every 50 ms until it holds, for at most
/// `secs`; on timeout, fails with `what` and the services' logs.
pub(crate) fn wait(
    vm: &mut Vm,
    cond: &str,
    secs: u64,
    what: &str,
    diagnostics: fn(&mut Vm) -> String,
) {
    let (status, out) = vm
        .run_timeout(
            &format!(
                "i=0; until {cond}; do i=$((i + 1)); [ $i -gt {n} ] && break; read -t 0.05 -u 9 x; done; {cond}",
                n = secs * 20
            ),
            Duration::from_secs(secs + 60),
        )
        .check(what);
    if status != 0 {
        panic!("{what}: not within {secs}s ({out})\n{}", diagnostics(vm));
    }
}

/// Polls shell condition `cond` every 5 ms (for at most 30 s) and returns
/// when it first held (a stamp taken right after).
pub(crate) fn stamp_when(
    vm: &mut Vm,
    cond: &str,
    what: &str,
    diagnostics: fn(&mut Vm) -> String,
) -> u128 {
    let (status, out) = vm
        .run_timeout(
            &format!(
                "i=0; until {cond}; do i=$((i + 1)); [ $i -gt 6000 ] && break; read -t 0.005 -u 9 x; done; \
                 : >/tmp/when.stamp; stat -c '%Y %y' /tmp/when.stamp; {cond}"
            ),
            Duration::from_secs(90),
        )
        .check(what);
    if status != 0 {
        panic!("{what}: not within 30s ({out})\n{}", diagnostics(vm));
    }
    stamp_ns(out.lines().last().check_some("a stamp"))
}

/// The pids of every longrun and logger (`s6-svstat -o up,ready,pid`).
pub(crate) fn statuses(vm: &mut Vm, defs: &BTreeMap<String, Def>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (name, d) in defs.iter().filter(|(_, d)| !d.oneshot) {
        let mut dirs = vec![name.clone()];
        if d.logger.is_some() {
            dirs.push(format!("{name}/log"));
        }
        for dir in dirs {
            let st = vm
                .run_ok(&format!("s6-svstat -o up,ready,pid {SCAN}/{dir}"))
                .check("s6-svstat");
            m.insert(dir, st.trim().to_string());
        }
    }
    m
}
