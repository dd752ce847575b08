//! What the rendered-router VM tests (`router_pppoe`, `router_l2tp`)
//! share: one guest set-up and one sequence of checks, so that a PPP wan
//! over another transport is tested the same way. The tests keep only
//! what their peer does differently (how it is started, hangs up and comes
//! back) and what only their wan has (the DHCP lease under L2TP, dnsmasq's
//! upstream servers under PPPoE).
//!
//! Here: reading the rendered tree's service definitions and starting
//! order; booting the x86_64 guest with the tree installed ([`Router`]);
//! bringing the services up as s6-rc would; polling, with the services'
//! logs on failure; the session's outputs against the kernel; the
//! guest-side timeline of outputs/routes; s6 status and pids.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use limina_board_tests::{guest_limina, Machine, Vm, VmConfig};
use limina_services::render::Tree;
use limina_services::RenderOptions;

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

/// Where the rendered tree's pieces go in the guest (the defaults of
/// `limina-host router render`, except the applets: the harness puts them
/// in /usr/local/bin).
pub(crate) fn render_options() -> RenderOptions {
    RenderOptions {
        applet_dir: "/usr/local/bin".into(),
        path: "/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin".into(),
        ..RenderOptions::default()
    }
}

/// `s` for inside double quotes in pppd's option and secrets files.
pub(crate) fn ppp_quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A shell condition: both nft `wan_ifaces` sets (the filter's and the
/// NAT's) name `ifname`.
pub(crate) fn in_both_sets(ifname: &str) -> String {
    format!(
        "nft list set inet limina wan_ifaces | grep -q '\"{ifname}\"' && \
         nft list set ip limina-nat wan_ifaces | grep -q '\"{ifname}\"'"
    )
}

/// A shell condition: neither nft `wan_ifaces` set names `ifname`.
pub(crate) fn in_neither_set(ifname: &str) -> String {
    format!(
        "! nft list set inet limina wan_ifaces | grep -q '\"{ifname}\"' && \
         ! nft list set ip limina-nat wan_ifaces | grep -q '\"{ifname}\"'"
    )
}

/// A shell condition: `service`'s outputs are published, a default route
/// leads out of `ifname` and both nft sets name it.
pub(crate) fn session_up(service: &str, ifname: &str) -> String {
    format!(
        "[ -L {OUTPUTS}/{service} ] && {DEBIAN_IP} route show default | grep -q {ifname} && {}",
        in_both_sets(ifname)
    )
}

/// The outputs directory (the rendered `--outputs-dir`).
pub(crate) const OUTPUTS: &str = "/run/services/outputs";

/// A router file rendered on the host, as `limina-host router render`
/// does.
pub(crate) struct Rendered {
    /// The options it was rendered with ([`render_options`]).
    pub(crate) opts: RenderOptions,
    /// The rendered files.
    pub(crate) tree: Tree,
    /// Its services.
    pub(crate) defs: BTreeMap<String, Def>,
    /// The services, each after its dependencies.
    pub(crate) order: Vec<String>,
}

impl Rendered {
    /// Parses and renders `toml` (the test's router file).
    pub(crate) fn new(toml: &str) -> Self {
        let router = limina_services::parse(toml, "router.toml").check("the test's router file");
        let opts = render_options();
        let tree = limina_services::render::render(&router, &opts).check("render");
        let defs = services(&tree);
        let order = order(&defs);
        Self {
            opts,
            tree,
            defs,
            order,
        }
    }
}

/// What a PPP router test puts in its guest besides what every one of
/// them needs (Debian's ip, pppd, dnsmasq, nft, s6 and execline, the
/// rendered tree with its scan directory, the router's secrets and the
/// peer's chap-secrets, the poller).
pub(crate) struct PppGuest<'a> {
    /// The VM's name; it also begins every line the test prints.
    pub(crate) name: &'a str,
    /// Kernel modules of the PPP transport (loaded after `veth`, before
    /// the firewall's).
    pub(crate) modules: &'a [&'a str],
    /// `limina` applets besides those every PPP wan uses.
    pub(crate) applets: &'a [&'a str],
    /// The password's key in the router's secrets file.
    pub(crate) secret: &'a str,
    /// The subscriber's user name, in the peer's chap-secrets.
    pub(crate) username: &'a str,
    /// The subscriber's password, in both files.
    pub(crate) password: &'a str,
    /// The peer's own files: (guest path, contents), mode 0644.
    pub(crate) files: &'a [(&'a str, &'a str)],
    /// The shell poller, run as `/root/timeline`.
    pub(crate) timeline: &'a str,
    /// Host programs besides the common ones: (guest path, host path).
    pub(crate) programs: &'a [(&'a str, &'a str)],
    /// The Debian package with the peer, named when a program is missing.
    pub(crate) package: &'a str,
    /// Daemon logs shown after syslog on failure: (heading, path).
    pub(crate) logs: &'a [(&'a str, &'a str)],
}

/// The `limina` applets every PPP wan's services run.
const PPP_APPLETS: &[&str] = &[
    "acquire-wan-address",
    "ifwait",
    "output",
    "output-publish",
    "output-render",
    "output-unpublish",
    "ppp-ip-up",
    "ppp-ip-down",
    "ppp-ipv6-up",
    "ppp-ipv6-down",
    "watch-outputs",
];

/// A booted x86_64 guest with a rendered PPP router file installed
/// ([`Router::boot`]), and the checks the PPP tests share.
pub(crate) struct Router {
    /// The guest.
    pub(crate) vm: Vm,
    /// The rendered services.
    pub(crate) defs: BTreeMap<String, Def>,
    /// The services, each after its dependencies.
    order: Vec<String>,
    /// The test's name, for the printed lines.
    name: String,
    /// The shell command that prints the logs when something fails.
    diagnostics: String,
}

impl Router {
    /// Boots the guest with `rendered` and what `guest` adds, and starts
    /// syslogd (pppd logs there) and the fifo the sleeps read.
    pub(crate) fn boot(guest: &PppGuest<'_>, rendered: Rendered) -> Self {
        let machine = Machine::X86_64;
        let Rendered {
            opts,
            tree,
            defs,
            order,
        } = rendered;
        let mut cfg = VmConfig::new(machine, guest.name).check("config");
        cfg.initramfs.module("veth", "");
        for m in guest.modules {
            cfg.initramfs.module(m, "");
        }
        cfg.initramfs
            // libcrc32c (nf_tables' dependency) needs a crc32c: its softdep,
            // which busybox's modprobe does not follow.
            .module("crc32c_generic", "")
            .module("nf_tables", "")
            .module("nft_ct", "")
            .module("nft_chain_nat", "")
            .module("nft_masq", "")
            .limina(
                guest_limina(machine)
                    .check("guest limina (scripts/guest-bins x86_64-unknown-linux-gnu)"),
                &[PPP_APPLETS, guest.applets].concat(),
            )
            .bytes(
                "/etc/limina/secrets",
                format!(
                    "# the router's secrets\n{}={}\n",
                    guest.secret, guest.password
                ),
                0o600,
            )
            // The peer's accounts (pppd's quoting: \" inside "...").
            .bytes(
                "/etc/ppp/chap-secrets",
                format!(
                    "\"{}\" * \"{}\" *\n",
                    ppp_quoted(guest.username),
                    ppp_quoted(guest.password)
                ),
                0o600,
            );
        for (path, contents) in guest.files {
            cfg.initramfs.bytes(path, *contents, 0o644);
        }
        cfg.initramfs
            .bytes("/root/timeline", guest.timeline, 0o755)
            // dnsmasq drops privileges to nobody:dip.
            .bytes(
                "/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
                0o644,
            )
            .bytes(
                "/etc/group",
                "root:x:0:\ndip:x:30:\nnogroup:x:65534:\n",
                0o644,
            )
            .bytes("/etc/hosts", "127.0.0.1 localhost\n", 0o644)
            // nft resolves `ipv6-icmp` through it (Buildroot's skeleton has one).
            .file("/etc/protocols", "/etc/protocols", 0o644)
            .dir("/var/run")
            .dir("/var/log");
        // The rendered tree: etc/ where --etc-dir says, the s6-rc source beside
        // it, and the scan directory s6-rc would make from it (each longrun with
        // a `down` file and its logger as SERVICE/log).
        for (path, file) in &tree {
            let rel = path.to_str().check_some("a UTF-8 path");
            let mode = if file.executable { 0o755 } else { 0o644 };
            let guest = match rel.strip_prefix("etc/") {
                Some(r) => format!("{}/{r}", opts.etc_dir),
                None => format!("/etc/limina/tree/{rel}"),
            };
            cfg.initramfs.bytes(&guest, file.contents.clone(), mode);
        }
        for (name, def) in defs.iter().filter(|(_, d)| !d.oneshot) {
            for (src, dst) in std::iter::once((name.clone(), name.clone()))
                .chain(def.logger.clone().map(|l| (l, format!("{name}/log"))))
            {
                for f in ["run", "finish", "notification-fd"] {
                    if let Some(file) = tree.get(&PathBuf::from(format!("s6-rc/{src}/{f}"))) {
                        let mode = if file.executable { 0o755 } else { 0o644 };
                        cfg.initramfs.bytes(
                            &format!("/etc/limina/scan/{dst}/{f}"),
                            file.contents.clone(),
                            mode,
                        );
                    }
                }
            }
            cfg.initramfs
                .bytes(&format!("/etc/limina/scan/{name}/down"), "", 0o644);
        }
        let mut programs = vec![
            (DEBIAN_IP, "/usr/sbin/ip"),
            ("/usr/sbin/pppd", "/usr/sbin/pppd"),
            ("/usr/sbin/dnsmasq", "/usr/sbin/dnsmasq"),
            ("/usr/sbin/nft", "/usr/sbin/nft"),
            // Debian's /usr/bin/execlineb is a wrapper script around this.
            ("/usr/bin/execlineb", "/usr/lib/execline/bin/execlineb"),
        ];
        programs.extend_from_slice(guest.programs);
        let s6: Vec<String> = [
            "s6-svscan",
            "s6-supervise",
            "s6-svc",
            "s6-svwait",
            "s6-svstat",
            "s6-svok",
            "s6-svscanctl",
            "s6-log",
            // s6-svwait's helper (libs6's ftrigr).
            "s6-ftrigrd",
        ]
        .iter()
        .map(|p| format!("/usr/bin/{p}"))
        .collect();
        programs.extend(s6.iter().map(|p| (p.as_str(), p.as_str())));
        for (guest_path, host) in programs {
            assert!(
                Path::new(host).is_file(),
                "{host} missing on the host: apt-get install iproute2 ppp {} dnsmasq-base nftables s6 execline",
                guest.package
            );
            cfg.initramfs
                .host_program(guest_path, host)
                .check("host program");
        }
        let mut vm = Vm::boot(cfg).check("boot");

        // pppd (both ends) and the peer's daemons log to syslog.
        vm.run_ok("syslogd -O /tmp/messages").check("syslogd");
        // A fifo nobody writes: `read -t` on it is a sleep without a fork.
        vm.run_ok("mkfifo /tmp/never && exec 9<>/tmp/never")
            .check("fifo");
        let logs: String = guest
            .logs
            .iter()
            .map(|(heading, path)| format!("echo '--- {heading}'; tail -n 30 {path}; "))
            .collect();
        Self {
            vm,
            defs,
            order,
            name: guest.name.to_string(),
            diagnostics: format!(
                "for f in /var/log/*/current; do echo \"--- $f\"; tail -n 20 \"$f\"; done; \
                 echo '--- syslog'; tail -n 40 /tmp/messages; {logs}echo '--- svscan'; cat /tmp/svscan.log; \
                 ls -l {OUTPUTS}; ip route; ip addr; ps"
            ),
        }
    }

    /// What to print when something fails: the services' and daemons' logs.
    pub(crate) fn diagnostics(&mut self) -> String {
        self.vm
            .run(&self.diagnostics)
            .map(|(_, o)| o)
            .unwrap_or_default()
    }

    /// Runs `cond` (a shell condition) every 50 ms until it holds, for at
    /// most `secs`; on timeout, fails with `what` and the services' logs.
    pub(crate) fn wait(&mut self, cond: &str, secs: u64, what: &str) {
        let (status, out) = self
            .vm
            .run_timeout(
                &format!(
                    "i=0; until {cond}; do i=$((i + 1)); [ $i -gt {n} ] && break; read -t 0.05 -u 9 x; done; {cond}",
                    n = secs * 20
                ),
                Duration::from_secs(secs + 60),
            )
            .check(what);
        if status != 0 {
            panic!("{what}: not within {secs}s ({out})\n{}", self.diagnostics());
        }
    }

    /// Polls shell condition `cond` every 5 ms (for at most 30 s) and
    /// returns when it first held (a stamp taken right after).
    pub(crate) fn stamp_when(&mut self, cond: &str, what: &str) -> u128 {
        let (status, out) = self
            .vm
            .run_timeout(
                &format!(
                    "i=0; until {cond}; do i=$((i + 1)); [ $i -gt 6000 ] && break; read -t 0.005 -u 9 x; done; \
                     : >/tmp/when.stamp; stat -c '%Y %y' /tmp/when.stamp; {cond}"
                ),
                Duration::from_secs(90),
            )
            .check(what);
        if status != 0 {
            panic!("{what}: not within 30s ({out})\n{}", self.diagnostics());
        }
        stamp_ns(out.lines().last().check_some("a stamp"))
    }

    /// Starts the poller and `s6-svscan`, then every service in dependency
    /// order, as s6-rc would bring up the `router` bundle: the oneshots
    /// through `execlineb`, each longrun up and waited for (ready, if it
    /// reports readiness). Prints how long each took.
    pub(crate) fn start_services(&mut self) {
        self.vm
            .run_ok("setsid /root/timeline </dev/null >/tmp/timeline.log 2>&1 &")
            .check("timeline");
        self.vm
            .run_ok(&format!(
                "cp -a /etc/limina/scan {SCAN} && setsid s6-svscan {SCAN} </dev/null >/tmp/svscan.log 2>&1 &"
            ))
            .check("s6-svscan");
        let all_ok = self
            .defs
            .iter()
            .filter(|(_, d)| !d.oneshot)
            .map(|(n, _)| format!("s6-svok {SCAN}/{n}"))
            .collect::<Vec<_>>()
            .join(" && ");
        self.wait(
            &format!("{{ {all_ok}; }}"),
            20,
            "s6-svscan supervises every longrun",
        );
        eprintln!("{}: services up in dependency order:", self.name);
        for name in self.order.clone() {
            let def = &self.defs[&name];
            let t0 = Instant::now();
            let (cmd, secs) = if def.oneshot {
                (format!("execlineb -P /etc/limina/tree/s6-rc/{name}/up"), 60)
            } else {
                let w = if def.readiness { "-U" } else { "-u" };
                (
                    format!("s6-svc -u {SCAN}/{name} && s6-svwait {w} -t 150000 {SCAN}/{name}"),
                    180,
                )
            };
            let (status, out) = self
                .vm
                .run_timeout(&format!("{cmd} 2>&1"), Duration::from_secs(secs))
                .check(&name);
            if status != 0 {
                panic!(
                    "{name}: `{cmd}` exited {status}: {out}\n{}",
                    self.diagnostics()
                );
            }
            eprintln!(
                "{}:   {name:<20} {:>6} ms",
                self.name,
                t0.elapsed().as_millis()
            );
        }
    }

    /// `output SERVICE KEY`, which must exist.
    pub(crate) fn output(&mut self, service: &str, key: &str) -> String {
        self.vm
            .run_ok(&format!("output {service} {key}"))
            .check(&format!("output {service} {key}"))
            .trim()
            .to_string()
    }

    /// The session of PPP wan `service` on `ifname`: its outputs (an ip of
    /// 10.64.64.`pool`, the peer 10.64.64.1, `dns`), cross-checked with the
    /// interface's address; waits for the default route out of it and for
    /// it in both nft sets. Returns the ip.
    pub(crate) fn session(
        &mut self,
        service: &str,
        ifname: &str,
        pool: RangeInclusive<u8>,
        dns: &str,
    ) -> String {
        assert_eq!(self.output(service, "ifname"), ifname);
        let ip = self.output(service, "ip");
        assert!(
            pool.clone().any(|i| ip == format!("10.64.64.{i}")),
            "{service}/ip {ip} outside the peer's pool 10.64.64.{pool:?}"
        );
        assert_eq!(self.output(service, "peer"), "10.64.64.1");
        assert_eq!(self.output(service, "dns"), dns);
        let addr = self
            .vm
            .run_ok(&format!("ip -4 addr show dev {ifname}"))
            .check("ip addr");
        assert!(
            addr.contains(&format!("inet {ip} peer 10.64.64.1/32")),
            "{addr}"
        );
        self.wait(
            &format!("{DEBIAN_IP} route show default | grep -q 'dev {ifname}'"),
            30,
            "the default route out of the session",
        );
        self.wait(
            &in_both_sets(ifname),
            30,
            &format!("{ifname} in both wan_ifaces sets"),
        );
        ip
    }

    /// The default routes, one a line.
    pub(crate) fn default_routes(&mut self) -> String {
        self.vm
            .run_ok(&format!("{DEBIAN_IP} route show default"))
            .check("route")
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether both nft `wan_ifaces` sets have exactly one line that
    /// contains `text`.
    pub(crate) fn both_sets_have(&mut self, text: &str) -> bool {
        let counts = self
            .vm
            .run_ok(&format!(
                "nft list set inet limina wan_ifaces | grep -c '{text}'; \
                 nft list set ip limina-nat wan_ifaces | grep -c '{text}'; true"
            ))
            .check("nft sets");
        counts.split_whitespace().collect::<Vec<_>>() == ["1", "1"]
    }

    /// When `service`'s outputs were last published (their symlink's
    /// mtime).
    pub(crate) fn published(&mut self, service: &str) -> u128 {
        stamp_ns(
            &self
                .vm
                .run_ok(&format!("stat -c '%Y %y' {OUTPUTS}/{service}"))
                .check("stat"),
        )
    }

    /// The poller's events so far: (time, what, state).
    pub(crate) fn timeline(&mut self) -> Vec<(u128, String, bool)> {
        self.vm
            .run_ok("cat /tmp/timeline.log")
            .check("timeline")
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3).then(|| (stamp_ns(f[0]), f[1].to_string(), f[2] == "1"))
            })
            .collect()
    }

    /// The pids of every longrun and logger (`s6-svstat -o up,ready,pid`).
    pub(crate) fn statuses(&mut self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for (name, d) in self.defs.iter().filter(|(_, d)| !d.oneshot) {
            let mut dirs = vec![name.clone()];
            if d.logger.is_some() {
                dirs.push(format!("{name}/log"));
            }
            for dir in dirs {
                let st = self
                    .vm
                    .run_ok(&format!("s6-svstat -o up,ready,pid {SCAN}/{dir}"))
                    .check("s6-svstat");
                m.insert(dir, st.trim().to_string());
            }
        }
        m
    }

    /// [`Router::statuses`], each checked up, and ready if it reports
    /// readiness (loggers do).
    pub(crate) fn all_up(&mut self) -> BTreeMap<String, String> {
        let statuses = self.statuses();
        for (name, st) in &statuses {
            let ready = name.ends_with("/log") || self.defs.get(name).is_some_and(|d| d.readiness);
            let want = if ready { "true true " } else { "true " };
            assert!(st.starts_with(want), "{name} not up (and ready): {st}");
        }
        statuses
    }

    /// After a hang-up that began at `killed` (`service`'s outputs are
    /// already gone): times when `ifname` left both nft sets and waits
    /// until `route_gone` (a shell condition) holds; checks that neither
    /// `service` nor its `acquired-` outputs are published.
    pub(crate) fn withdrawn(
        &mut self,
        service: &str,
        ifname: &str,
        killed: u128,
        route_gone: &str,
    ) -> Withdrawn {
        let sets_gone = self.stamp_when(
            &in_neither_set(ifname),
            &format!("{ifname} gone from both wan_ifaces sets"),
        );
        self.wait(route_gone, 10, "the default route out of the session gone");
        let events = self.timeline();
        let outputs =
            first(&events, "outputs", false, killed).check_some("outputs withdrawn event");
        let route = first(&events, "route", false, killed).check_some("route gone event");
        let acquired = format!("acquired-{service}");
        assert!(
            self.vm
                .run_ok(&format!("ls {OUTPUTS}"))
                .check("ls")
                .split_whitespace()
                .all(|n| n != service && n != acquired),
            "{service} or {acquired} still published"
        );
        Withdrawn {
            events,
            outputs,
            route,
            sets: sets_gone,
        }
    }

    /// Restarts `service` (`s6-svc -r`, as an operator or a crash would)
    /// and waits until it has another pid, is ready and has a session on
    /// `ifname` again (outputs, default route, filter set element); prints
    /// the times.
    pub(crate) fn restart(&mut self, service: &str, ifname: &str) {
        let old_pid = self
            .vm
            .run_ok(&format!("s6-svstat -o pid {SCAN}/{service}"))
            .check("pid");
        let restarted = stamp_ns(
            &self
                .vm
                .run_ok(&format!(
                    ": >/tmp/restart.stamp; s6-svc -r {SCAN}/{service}; stat -c '%Y %y' /tmp/restart.stamp"
                ))
                .check(&format!("restart {service}")),
        );
        self.wait(
            &format!(
                "s6-svstat -o up,ready,pid {SCAN}/{service} | grep -q '^true true ' && \
                 ! s6-svstat -o pid {SCAN}/{service} | grep -qx '{}' && \
                 [ -L {OUTPUTS}/{service} ] && {DEBIAN_IP} route show default | grep -q {ifname} && \
                 nft list set inet limina wan_ifaces | grep -q '\"{ifname}\"'",
                old_pid.trim()
            ),
            120,
            &format!("{service} restarted, ready, with a session, its route and set element"),
        );
        let republished = self.published(service);
        let events = self.timeline();
        let gone = first(&events, "outputs", false, restarted)
            .check_some("outputs withdrawn by the restart");
        let route_back = first(&events, "route", true, gone).check_some("route after the restart");
        eprintln!(
            "{}: {service} restarted (s6-svc -r) -> outputs withdrawn {} ms, session outputs published {} ms, \
             default route {} ms",
            self.name,
            ms(restarted, gone),
            ms(restarted, republished),
            ms(restarted, route_back)
        );
    }
}

/// What [`Router::withdrawn`] saw (guest clock, ns).
pub(crate) struct Withdrawn {
    /// The poller's events.
    pub(crate) events: Vec<(u128, String, bool)>,
    /// The outputs withdrawn.
    pub(crate) outputs: u128,
    /// The default route out of the session gone.
    pub(crate) route: u128,
    /// The interface gone from both nft sets (polled through nft).
    pub(crate) sets: u128,
}

/// Fails with `what` if a longrun or logger of `before` other than
/// `except` has another status (pid, up, ready) in `after`.
pub(crate) fn assert_kept(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    except: Option<&str>,
    what: &str,
) {
    let changed: Vec<String> = before
        .iter()
        .filter(|(n, st)| Some(n.as_str()) != except && after.get(*n) != Some(st))
        .map(|(n, st)| format!("{n}: {st} -> {:?}", after.get(n)))
        .collect();
    assert!(changed.is_empty(), "{what}: {changed:?}");
}
