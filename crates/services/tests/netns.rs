//! Issue 13 at run time: a router file rendered by `limina-services` runs
//! for real in network namespaces, and the kernel state it leaves is
//! checked.
//!
//! - `isp`: Debian's dnsmasq hands out a lease (router, DNS, NTP) on `isp0`
//!   and answers DNS for `isp.test`.
//! - `router`: the rendered tree under Debian's `s6-svscan` (see
//!   `netns/supervise.rs`: the longruns and their loggers become a scan
//!   directory, the oneshots run through `execlineb`, in dependency order,
//!   waiting for readiness as s6-rc does). The scripts' PATH starts with a
//!   directory of the host-built `limina` applets plus busybox's `udhcpc`,
//!   `ip` and `sysctl` (the device's userland); `dnsmasq` and `nft` are
//!   Debian's.
//! - `client`: busybox `udhcpc` on the LAN.
//!
//! Checked: the WAN lease becomes the `wan` outputs, the address on `wan0`
//! and the default route; `wan0` lands in the nft sets; dnsmasq serves the
//! LAN (lease, DNS through the WAN's server); the client reaches the isp
//! through NAT with the router's WAN address. Then the WAN goes down (the
//! isp's dnsmasq stops, udhcpc releases the lease, SIGUSR2 as an operator
//! would send it): outputs, route, address and set elements go; then it
//! comes back (SIGUSR1): all restored, and no service was restarted. Then
//! the cable is pulled (the isp's end of the veth goes down: `wan0` loses
//! its carrier, nothing is signalled by the test): the wan's carrier
//! watcher makes udhcpc release, and outputs, route, address and set
//! elements go; the cable is back: all restored, NAT works again, no
//! service was restarted (wan included: udhcpc was signalled, not
//! restarted). Last, the wan service is restarted (`s6-svc -r`):
//! withdrawn, ready again, nothing else restarted. The time each step took
//! is printed (polled: the outputs and the route every millisecond, the
//! address and the sets through `ip`/`nft` as fast as those run).
//!
//! Then wan is restarted with the cable out: the watcher's first report
//! is "down" (SIGUSR2 to the new udhcpc once it catches it), and when the
//! cable is back the lease comes at once (SIGUSR1).
//!
//! Not covered: the static wan's carrier handling; PPPoE (Debian's
//! pppoe-server needs /dev/ppp, which the host kernel lacks); IPv6.
//!
//! No `[watchdog]`: a network namespace has no /dev/watchdog, and softdog
//! on the host would reboot the machine running the tests.
//!
//! Needs root, `ip`, `ss`, `nft`, `dnsmasq`, busybox (udhcpc, ip, sysctl,
//! nc, nslookup, ping), s6 (`s6-svscan`, `s6-svc`, `s6-svstat`,
//! `s6-svwait`, `s6-log`), execline (`execlineb`) and the host-built
//! `limina` (`cargo build -p limina`, or `$LIMINA_BIN`). With the
//! `netns-tests` feature a missing piece fails the test; without it the test
//! is ignored.

#[path = "netns/lab.rs"]
mod lab;
#[path = "netns/supervise.rs"]
mod supervise;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use lab::{dev, run, stderr, which, Lab, ISP_ADDR};
use limina_services::RenderOptions;
use supervise::{Source, Stat, Supervisor};

/// The router file under test: boards/qemu/router.toml with the veth
/// names, without ntp, ssh and watchdog. `@SECRETS@` is replaced.
const ROUTER_TOML: &str = r#"
[system]
hostname = "limina-netns"

[link.wan]
device = "wan0"

[link.lan-port]
device = "lanp0"

[bridge.lan]
members = ["lan-port"]        # device br-lan

[address.lan4]
interface = "lan"
address = "192.168.8.1/24"

[wan.wan]
interface = "wan"
protocol = "dhcp"

[lan.lan]
interface = "lan"
dhcp_range = ["192.168.8.100", "192.168.8.250"]
lease_time = "12h"
domain = "lan"
dns_from = "wan"

[firewall]
wan = ["wan"]
lan = ["lan"]
nat = true
forward = true

[secrets]
file = "@SECRETS@"
"#;

/// The client's udhcpc hook: configure the lease, record it.
const CLIENT_SCRIPT: &str = r#"#!/bin/sh
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	;;
bound | renew)
	ip addr replace "$ip/$mask" dev "$interface" || exit 1
	ip route replace default via "$router" dev "$interface" || exit 1
	printf 'ip=%s\nmask=%s\nrouter=%s\ndns=%s\n' "$ip" "$mask" "$router" "$dns" >"$LEASE_FILE.tmp"
	mv -f "$LEASE_FILE.tmp" "$LEASE_FILE"
	;;
esac
exit 0
"#;

/// The LAN subnet's first and last lease (`dhcp_range`).
const LAN_RANGE: (Ipv4Addr, Ipv4Addr) = (
    Ipv4Addr::new(192, 168, 8, 100),
    Ipv4Addr::new(192, 168, 8, 250),
);
/// The router's LAN address.
const LAN_ADDR: &str = "192.168.8.1";

/// A scratch directory, removed on drop unless the test failed (then its
/// path is printed with the services' logs).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("netns: kept {} for inspection", self.0.display());
            for entry in std::fs::read_dir(self.0.join("log"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let current = entry.path().join("current");
                if let Ok(text) = std::fs::read_to_string(&current) {
                    let lines: Vec<&str> = text.lines().collect();
                    let tail = &lines[lines.len().saturating_sub(15)..];
                    eprintln!(
                        "--- {} (last {} lines)\n{}",
                        current.display(),
                        tail.len(),
                        tail.join("\n")
                    );
                }
            }
            for f in ["svscan.log", "isp-dnsmasq.log", "client-udhcpc.log"] {
                if let Ok(text) = std::fs::read_to_string(self.0.join(f)) {
                    eprintln!("--- {f}\n{}", text.trim_end());
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The host-built multi-call binary: `$LIMINA_BIN`, else the workspace's
/// `target/debug/limina`.
fn limina_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LIMINA_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug/limina")
}

/// What the test cannot run without, or None.
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2));
    if euid != Some("0") {
        return Some("not root".into());
    }
    for tool in [
        "ip",
        "ss",
        "nft",
        "dnsmasq",
        "busybox",
        "s6-svscan",
        "s6-svc",
        "s6-svstat",
        "s6-svwait",
        "s6-svok",
        "s6-svscanctl",
        "s6-log",
        "execlineb",
    ] {
        if which(tool).is_none() {
            return Some(format!("{tool} not found (scripts/setup installs it)"));
        }
    }
    if !limina_bin().is_file() {
        return Some(format!(
            "{} missing: run `cargo build -p limina` first (or set LIMINA_BIN)",
            limina_bin().display()
        ));
    }
    None
}

/// Polls `f` every `every` until it returns `Some`, for at most `secs`;
/// the value and when it came.
fn poll<T>(
    secs: u64,
    every: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> (T, Instant) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return (v, Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(every);
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// The IPv4 default route's gateway in the namespace of process `pid`,
/// read from `/proc/PID/net/route` (cheap enough to poll every millisecond).
fn default_route(pid: u32) -> Option<Ipv4Addr> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/route")).ok()?;
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
        (f.len() > 7 && f[1] == "00000000" && f[7] == "00000000")
            .then(|| u32::from_str_radix(f[2], 16).ok())
            .flatten()
            // The kernel prints the network-order word as a native integer.
            .map(|g| Ipv4Addr::from(g.to_ne_bytes()))
    })
}

/// The router's view, through the real tools.
struct Router<'a> {
    lab: &'a Lab,
    bin: &'a Path,
    outputs: &'a Path,
}

/// Whether SERVICE's outputs are published in the store at `outputs` (its
/// symlink exists).
fn published(outputs: &Path, service: &str) -> bool {
    outputs.join(service).symlink_metadata().is_ok()
}

/// When SERVICE's current outputs were published (the symlink's mtime: the
/// store makes a new one for every set and renames it into place).
fn published_at(outputs: &Path, service: &str) -> SystemTime {
    outputs
        .join(service)
        .symlink_metadata()
        .and_then(|m| m.modified())
        .expect("the published symlink's mtime")
}

impl Router<'_> {
    /// `output SERVICE KEY` through the applet.
    fn output(&self, service: &str, key: &str) -> Option<String> {
        let out = run(Command::new(self.bin.join("output"))
            .arg("-d")
            .arg(self.outputs)
            .args([service, key]));
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// The IPv4 addresses (`a.b.c.d/len`) on `dev` in the router.
    fn addresses(&self, dev: &str) -> Vec<String> {
        let text = self
            .lab
            .ip(&self.lab.router, &["-4", "-o", "addr", "show", "dev", dev]);
        text.lines()
            .filter_map(|l| {
                l.split_whitespace()
                    .skip_while(|w| *w != "inet")
                    .nth(1)
                    .map(str::to_string)
            })
            .collect()
    }

    /// The elements of set `wan_ifaces` of nft table `table`.
    fn wan_set(&self, table: &str) -> Vec<String> {
        let mut cmd = self.lab.exec(&self.lab.router);
        cmd.args(["nft", "list", "set"])
            .args(table.split(' '))
            .arg("wan_ifaces");
        let out = run(&mut cmd);
        assert!(
            out.status.success(),
            "nft list set {table} wan_ifaces: {}",
            stderr(&out)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let Some(start) = text.find("elements = {") else {
            return Vec::new();
        };
        let rest = &text[start + "elements = {".len()..];
        let list = rest.split('}').next().unwrap_or_default();
        list.split(',')
            .map(|e| e.trim().trim_matches('"').to_string())
            .filter(|e| !e.is_empty())
            .collect()
    }

    /// Both wan_ifaces sets hold exactly `want`.
    fn sets_are(&self, want: &[&str]) -> bool {
        ["inet limina", "ip limina-nat"]
            .iter()
            .all(|t| self.wan_set(t) == want)
    }
}

/// Starts the isp's dnsmasq (DHCP on isp0, lease 10 minutes so that no
/// renewal falls into the test; DNS answering isp.test) and waits until it
/// listens on the DHCP port. `--no-ping`: dnsmasq's check that an address
/// is free (an ICMP echo, up to 3 s before the first offer) belongs to the
/// isp, not to what is measured here.
fn start_isp(lab: &mut Lab, scratch: &Path) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(scratch.join("isp-dnsmasq.log"))
        .expect("isp log");
    let mut cmd = lab.exec(&lab.isp);
    cmd.args([
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
    ])
    .arg(format!("--interface={}", dev::ISP))
    .args([
        "--bind-interfaces",
        "--user=root",
        "--log-facility=-",
        "--dhcp-authoritative",
        "--no-ping",
    ])
    .arg("--dhcp-range=10.77.0.50,10.77.0.150,255.255.255.0,10m")
    .arg(format!("--dhcp-option=option:router,{ISP_ADDR}"))
    .arg(format!("--dhcp-option=option:dns-server,{ISP_ADDR}"))
    .arg(format!("--dhcp-option=option:ntp-server,{ISP_ADDR}"))
    .arg(format!("--address=/isp.test/{ISP_ADDR}"))
    .arg(format!(
        "--dhcp-leasefile={}",
        scratch.join("isp.leases").display()
    ))
    .arg(format!("--pid-file={}", scratch.join("isp.pid").display()))
    .stdin(Stdio::null())
    .stdout(log.try_clone().expect("log fd"))
    .stderr(log);
    lab.spawn("isp-dnsmasq", cmd);
    let isp = lab.isp.clone();
    poll(
        10,
        Duration::from_millis(20),
        "the isp's dnsmasq on udp port 67",
        || {
            let out = run(Command::new("ip")
                .args(["netns", "exec", &isp, "ss", "-ulnH", "sport", "=", ":67"]));
            (!String::from_utf8_lossy(&out.stdout).trim().is_empty()).then_some(())
        },
    );
}

/// The isp's record of a lease to `ip` (dnsmasq's lease file: `expiry mac
/// ip hostname clientid`): the hostname.
fn isp_lease_hostname(scratch: &Path, ip: &str) -> Option<String> {
    let text = std::fs::read_to_string(scratch.join("isp.leases")).ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&ip))
            .then(|| f.get(3).map(|h| h.to_string()))
            .flatten()
    })
}

/// Connects from the client to a listener in the isp (busybox nc, both
/// kept open) and returns the peer address the isp's kernel sees.
fn nat_source(lab: &mut Lab, port: u16) -> String {
    let (isp, client) = (lab.isp.clone(), lab.client.clone());
    let listener = format!("listener-{port}");
    let mut cmd = lab.exec(&isp);
    cmd.args(["busybox", "nc", "-l", "-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    lab.spawn(&listener, cmd);
    let sport = format!(":{port}");
    poll(10, Duration::from_millis(20), "the isp's listener", || {
        let out =
            run(Command::new("ip")
                .args(["netns", "exec", &isp, "ss", "-tlnH", "sport", "=", &sport]));
        (!String::from_utf8_lossy(&out.stdout).trim().is_empty()).then_some(())
    });
    let connector = format!("connector-{port}");
    let mut cmd = lab.exec(&client);
    cmd.args(["busybox", "nc", ISP_ADDR, &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    lab.spawn(&connector, cmd);
    let (peer, _) = poll(
        10,
        Duration::from_millis(20),
        "an established connection in the isp",
        || {
            if let Ok(Some(status)) = lab.child(&connector).try_wait() {
                panic!("the client's nc {ISP_ADDR} {port} exited: {status}");
            }
            let out = run(Command::new("ip").args([
                "netns",
                "exec",
                &isp,
                "ss",
                "-tnH",
                "state",
                "established",
                "sport",
                "=",
                &sport,
            ]));
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            // Recv-Q Send-Q Local:Port Peer:Port
            let peer = text.lines().next()?.split_whitespace().nth(3)?.to_string();
            let (addr, _) = peer.rsplit_once(':')?;
            Some(
                addr.trim_matches(['[', ']'])
                    .trim_start_matches("::ffff:")
                    .to_string(),
            )
        },
    );
    lab.kill(&connector);
    lab.kill(&listener);
    peer
}

/// The client resolves isp.test through the router's dnsmasq (which must
/// forward it to the WAN's DNS server, the isp).
fn client_resolves(lab: &Lab) {
    poll(
        10,
        Duration::from_millis(100),
        "isp.test resolved by the client through 192.168.8.1",
        || {
            let mut cmd = lab.exec(&lab.client);
            cmd.args(["busybox", "nslookup", "isp.test", LAN_ADDR]);
            let out = run(&mut cmd);
            String::from_utf8_lossy(&out.stdout)
                .contains(&format!("Address: {ISP_ADDR}"))
                .then_some(())
        },
    );
}

/// How long after `t0` the WAN was withdrawn (`restored` false) or
/// restored, each within `secs`: the wan outputs and the default route
/// (polled every millisecond in a thread of their own), the address on
/// wan0 and both wan_ifaces sets (as fast as `ip` and `nft` run).
fn wan_timings(r: &Router, ns_pid: u32, t0: Instant, restored: bool, secs: u64) -> [Duration; 4] {
    let (what, slow_what) = if restored {
        (
            "wan outputs and default route restored",
            "wan0's address and set element restored",
        )
    } else {
        (
            "wan outputs and default route withdrawn",
            "wan0's address and set elements withdrawn",
        )
    };
    let outputs = r.outputs;
    let ((o, rt), (a, st)) = std::thread::scope(|s| {
        let fast = s.spawn(|| {
            let (mut o, mut rt) = (None, None);
            poll(secs, Duration::from_millis(1), what, || {
                if o.is_none() && published(outputs, "wan") == restored {
                    o = Some(t0.elapsed());
                }
                if rt.is_none() && default_route(ns_pid).is_some() == restored {
                    rt = Some(t0.elapsed());
                }
                o.zip(rt)
            })
            .0
        });
        let (mut a, mut st) = (None, None);
        let wanted: &[&str] = if restored { &[dev::WAN] } else { &[] };
        let slow = poll(secs, Duration::from_millis(1), slow_what, || {
            if a.is_none() && r.addresses(dev::WAN).is_empty() != restored {
                a = Some(t0.elapsed());
            }
            if st.is_none() && r.sets_are(wanted) {
                st = Some(t0.elapsed());
            }
            a.zip(st)
        })
        .0;
        (fast.join().expect("the outputs/route poller"), slow)
    });
    [o, rt, a, st]
}

/// Every longrun's and logger's status, for the no-restart check.
fn statuses(sup: &Supervisor, src: &Source) -> BTreeMap<String, Stat> {
    let mut m = BTreeMap::new();
    for name in src.longruns() {
        m.insert(name.clone(), sup.stat(&name));
        if src.services[&name].logger.is_some() {
            let log = format!("{name}/log");
            m.insert(log.clone(), sup.stat(&log));
        }
    }
    m
}

#[test]
#[cfg_attr(
    not(feature = "netns-tests"),
    ignore = "needs root, netns, dnsmasq, nft, s6 and execline: use --features netns-tests"
)]
fn rendered_router_in_namespaces() {
    if let Some(reason) = missing_prerequisite() {
        panic!("cannot run the netns router test: {reason}");
    }
    let root = std::env::temp_dir().join(format!("limina-services-netns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch dir");
    let scratch = Scratch(root.clone());
    let sub = |n: &str| -> PathBuf {
        let p = root.join(n);
        std::fs::create_dir_all(&p).expect("scratch subdir");
        p
    };
    let (bin, outputs, logs, state, scan) = (
        sub("bin"),
        sub("outputs"),
        sub("log"),
        sub("state"),
        sub("scan"),
    );
    let tree = root.join("tree");
    let abs = |p: &Path| p.to_str().expect("a UTF-8 scratch path").to_string();

    // The applets as on the device: limina's, and busybox's for the rest.
    let limina = limina_bin();
    let list = run(Command::new(&limina).arg("--list"));
    assert!(list.status.success(), "limina --list: {}", stderr(&list));
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        std::os::unix::fs::symlink(&limina, bin.join(applet)).expect("applet symlink");
    }
    let busybox = which("busybox").expect("busybox (checked above)");
    for applet in ["udhcpc", "ip", "sysctl"] {
        std::os::unix::fs::symlink(&busybox, bin.join(applet)).expect("busybox symlink");
    }

    // Render.
    let secrets = root.join("secrets");
    std::fs::write(&secrets, "pppoe-password=not-a-real-secret\n").expect("secrets file");
    let text = ROUTER_TOML.replace("@SECRETS@", &abs(&secrets));
    let router_file =
        limina_services::parse(&text, "router.toml").expect("the test's router file is valid");
    let opts = RenderOptions {
        etc_dir: abs(&tree.join("etc")),
        outputs_dir: abs(&outputs),
        log_dir: abs(&logs),
        service_dir: abs(&scan),
        state_dir: abs(&state),
        applet_dir: abs(&bin),
        path: format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", abs(&bin)),
        ..RenderOptions::default()
    };
    let rendered = limina_services::render::render(&router_file, &opts).expect("render");
    limina_services::render::write_tree(&rendered, &tree).expect("write the tree");
    let src = Source::load(&tree.join("s6-rc"));
    src.make_scandir(&scan);

    // The namespaces and the isp.
    let mut lab = Lab::new();
    start_isp(&mut lab, &root);

    // The router's services, in dependency order; the default route is
    // watched from the start.
    let sup = Supervisor::start(
        &lab.router,
        &scan,
        &root.join("svscan.log"),
        &src.longruns(),
    );
    let ns_pid = sup.pid();
    let route_watch = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if default_route(ns_pid).is_some() {
                return Some(SystemTime::now());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    });
    let took = sup.up_all(&src, &lab.router, 30);
    eprintln!("netns: services up in dependency order:");
    for (name, d) in &took {
        eprintln!("netns:   {name:<20} {:>5} ms", ms(*d));
    }
    let r = Router {
        lab: &lab,
        bin: &bin,
        outputs: &outputs,
    };

    // The WAN lease: outputs, cross-checked with the isp's lease file.
    assert!(
        published(&outputs, "wan"),
        "wan is ready but has no outputs"
    );
    let wan_ip = r.output("wan", "ip").expect("wan/ip");
    let ip: Ipv4Addr = wan_ip
        .parse()
        .unwrap_or_else(|e| panic!("wan/ip {wan_ip:?}: {e}"));
    assert!(
        (Ipv4Addr::new(10, 77, 0, 50)..=Ipv4Addr::new(10, 77, 0, 150)).contains(&ip),
        "wan/ip {ip} outside the isp's range"
    );
    assert_eq!(
        isp_lease_hostname(&root, &wan_ip).as_deref(),
        Some("limina-netns"),
        "the isp's lease for {wan_ip}"
    );
    for (key, want) in [
        ("ifname", dev::WAN),
        ("router", ISP_ADDR),
        ("dns", ISP_ADDR),
        ("ntp", ISP_ADDR),
        ("prefixlen", "24"),
    ] {
        assert_eq!(r.output("wan", key).as_deref(), Some(want), "wan/{key}");
    }
    assert_eq!(
        r.output("secrets", "pppoe-password").as_deref(),
        Some("not-a-real-secret"),
        "secrets/pppoe-password"
    );
    let lease_at = published_at(&outputs, "wan");
    let route_at = route_watch
        .join()
        .expect("route watcher")
        .expect("no default route within 60s");
    let startup_ms = route_at.duration_since(lease_at).map(ms).unwrap_or(0);
    eprintln!("netns: startup: wan outputs published -> default route present: {startup_ms} ms (s6-svwait -U wan, then wan-address started)");
    assert_eq!(
        default_route(ns_pid),
        Some(ISP_ADDR.parse().expect("an address")),
        "default route"
    );
    assert_eq!(
        r.addresses(dev::WAN),
        [format!("{wan_ip}/24")],
        "address on {}",
        dev::WAN
    );
    poll(
        10,
        Duration::from_millis(20),
        "wan0 in both wan_ifaces sets",
        || r.sets_are(&[dev::WAN]).then_some(()),
    );

    // The LAN: bridge, address, dnsmasq.
    let port = r
        .lab
        .ip(&r.lab.router, &["-o", "link", "show", "dev", dev::LAN_PORT]);
    assert!(
        port.contains("master br-lan") && port.contains(",UP"),
        "{} not an up member of br-lan: {port}",
        dev::LAN_PORT
    );
    assert_eq!(
        r.addresses("br-lan"),
        [format!("{LAN_ADDR}/24")],
        "address on br-lan"
    );
    assert_eq!(
        r.output("dnsmasq", "interfaces").as_deref(),
        Some("br-lan"),
        "dnsmasq/interfaces"
    );

    let lease_file = root.join("client.lease");
    let client_script = root.join("client-udhcpc");
    std::fs::write(&client_script, CLIENT_SCRIPT).expect("client script");
    std::fs::set_permissions(
        &client_script,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let client_log = std::fs::File::create(root.join("client-udhcpc.log")).expect("client log");
    let mut cmd = lab.exec(&lab.client);
    cmd.args([
        "busybox",
        "udhcpc",
        "-f",
        "-q",
        "-t",
        "20",
        "-T",
        "1",
        "-i",
        dev::CLIENT,
        "-s",
    ])
    .arg(&client_script)
    .env("LEASE_FILE", &lease_file)
    .stdin(Stdio::null())
    .stdout(client_log.try_clone().expect("log fd"))
    .stderr(client_log);
    let t0 = Instant::now();
    lab.spawn("client-udhcpc", cmd);
    assert!(
        lab.wait_exit("client-udhcpc", 40),
        "the client's udhcpc failed"
    );
    let lease: BTreeMap<String, String> = std::fs::read_to_string(&lease_file)
        .expect("the client's lease file")
        .lines()
        .filter_map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    eprintln!(
        "netns: LAN client lease after {} ms: {lease:?}",
        ms(t0.elapsed())
    );
    let client_ip: Ipv4Addr = lease
        .get("ip")
        .and_then(|i| i.parse().ok())
        .expect("the client's ip");
    assert!(
        (LAN_RANGE.0..=LAN_RANGE.1).contains(&client_ip),
        "client lease {client_ip} outside dhcp_range"
    );
    assert_eq!(
        lease.get("mask").map(String::as_str),
        Some("24"),
        "client mask"
    );
    assert_eq!(
        lease.get("router").map(String::as_str),
        Some(LAN_ADDR),
        "client router"
    );
    assert_eq!(
        lease.get("dns").map(String::as_str),
        Some(LAN_ADDR),
        "client DNS"
    );
    let router_leases = std::fs::read_to_string(state.join("dnsmasq.leases")).unwrap_or_default();
    assert!(
        router_leases.contains(&format!(" {client_ip} ")),
        "the router's dnsmasq.leases lacks {client_ip}: {router_leases}"
    );

    // Through the router: DNS forwarded to the WAN's server, NAT.
    client_resolves(&lab);
    let source = nat_source(&mut lab, 8080);
    assert_eq!(
        source, wan_ip,
        "the isp sees the client's connection from {source}, not the router's WAN address"
    );
    eprintln!("netns: client -> isp: connection seen from {source} (NAT)");

    let before = statuses(&sup, &src);
    for (name, st) in &before {
        assert!(st.up, "{name} is not up: {st:?}");
        let ready_expected =
            name.ends_with("/log") || src.services.get(name).is_some_and(|d| d.readiness);
        assert!(!ready_expected || st.ready, "{name} is not ready: {st:?}");
    }

    // WAN down: the isp's server goes away, udhcpc releases the lease
    // (SIGUSR2, as an operator would; the cable stays, carrier loss is
    // the next step). The outputs and the route (cheap to read) are
    // polled every millisecond in one thread, the address and the sets
    // (`ip`, `nft`) in another.
    lab.kill("isp-dnsmasq");
    let r = Router {
        lab: &lab,
        bin: &bin,
        outputs: &outputs,
    };
    let t0 = Instant::now();
    sup.svc("-2", "wan");
    let ((outputs_gone, route_gone), (addr_gone, sets_empty)) = std::thread::scope(|s| {
        let fast = s.spawn(|| {
            let (mut o, mut rt) = (None, None);
            poll(
                10,
                Duration::from_millis(1),
                "wan outputs and default route withdrawn",
                || {
                    if o.is_none() && !published(&outputs, "wan") {
                        o = Some(t0.elapsed());
                    }
                    if rt.is_none() && default_route(ns_pid).is_none() {
                        rt = Some(t0.elapsed());
                    }
                    o.zip(rt)
                },
            )
            .0
        });
        let (mut a, mut st) = (None, None);
        let slow = poll(
            10,
            Duration::from_millis(1),
            "wan0's address and set elements withdrawn",
            || {
                if a.is_none() && r.addresses(dev::WAN).is_empty() {
                    a = Some(t0.elapsed());
                }
                if st.is_none() && r.sets_are(&[]) {
                    st = Some(t0.elapsed());
                }
                a.zip(st)
            },
        )
        .0;
        (fast.join().expect("the outputs/route poller"), slow)
    });
    eprintln!(
        "netns: WAN down (udhcpc release, SIGUSR2) -> wan outputs withdrawn {} ms, default route gone {} ms; address gone {} ms, set elements gone {} ms",
        ms(outputs_gone),
        ms(route_gone),
        ms(addr_gone),
        ms(sets_empty)
    );
    poll(
        10,
        Duration::from_millis(20),
        "dnsmasq's resolv file without servers",
        || {
            let text =
                std::fs::read_to_string(state.join("resolv.conf.dnsmasq")).unwrap_or_default();
            (!text.contains("nameserver")).then_some(())
        },
    );

    // WAN back: the isp returns, udhcpc renews (SIGUSR1).
    start_isp(&mut lab, &root);
    let r = Router {
        lab: &lab,
        bin: &bin,
        outputs: &outputs,
    };
    let t0 = Instant::now();
    sup.svc("-1", "wan");
    let ((back, route_back), (addr_back, sets_back)) = std::thread::scope(|s| {
        let fast = s.spawn(|| {
            let (mut o, mut rt) = (None, None);
            poll(
                30,
                Duration::from_millis(1),
                "wan outputs and default route restored",
                || {
                    if o.is_none() && published(&outputs, "wan") {
                        o = Some(published_at(&outputs, "wan"));
                    }
                    if rt.is_none() && default_route(ns_pid).is_some() {
                        rt = Some(SystemTime::now());
                    }
                    o.zip(rt)
                },
            )
            .0
        });
        let (mut a, mut st) = (None, None);
        let slow = poll(
            30,
            Duration::from_millis(1),
            "wan0's address and set element restored",
            || {
                if a.is_none() && !r.addresses(dev::WAN).is_empty() {
                    a = Some(t0.elapsed());
                }
                if st.is_none() && r.sets_are(&[dev::WAN]) {
                    st = Some(t0.elapsed());
                }
                a.zip(st)
            },
        )
        .0;
        (fast.join().expect("the outputs/route poller"), slow)
    });
    let since = |a: SystemTime, b: SystemTime| b.duration_since(a).map(ms).unwrap_or(0);
    let signalled = SystemTime::now() - t0.elapsed();
    eprintln!(
        "netns: WAN back (SIGUSR1) -> lease outputs {} ms; outputs -> default route {} ms; address {} ms, set element {} ms (from SIGUSR1)",
        since(signalled, back),
        since(back, route_back),
        ms(addr_back),
        ms(sets_back)
    );
    let wan_ip = r.output("wan", "ip").expect("wan/ip after renewal");
    assert_eq!(
        default_route(ns_pid),
        Some(ISP_ADDR.parse().expect("an address")),
        "default route after renewal"
    );
    assert_eq!(
        r.addresses(dev::WAN),
        [format!("{wan_ip}/24")],
        "address on {} after renewal",
        dev::WAN
    );
    poll(
        10,
        Duration::from_millis(20),
        "dnsmasq's resolv file with the isp",
        || {
            let text =
                std::fs::read_to_string(state.join("resolv.conf.dnsmasq")).unwrap_or_default();
            text.contains(&format!("nameserver {ISP_ADDR}"))
                .then_some(())
        },
    );
    client_resolves(&lab);
    let source = nat_source(&mut lab, 8081);
    assert_eq!(
        source, wan_ip,
        "after the WAN came back, the isp sees the client from {source}"
    );

    // Nothing was restarted: the WAN's consumers follow its outputs.
    let after = statuses(&sup, &src);
    let restarted: Vec<String> = before
        .iter()
        .filter(|(n, st)| after.get(*n) != Some(st))
        .map(|(n, st)| format!("{n}: {st:?} -> {:?}", after.get(n)))
        .collect();
    assert!(
        restarted.is_empty(),
        "services restarted or changed by the WAN going down and up: {restarted:?}"
    );
    eprintln!(
        "netns: {} longruns and loggers kept their pids through WAN down/up",
        after.len()
    );

    // Carrier loss: the cable is pulled (the isp's end goes down, `wan0`
    // reports NO-CARRIER); the test signals nothing. The wan's carrier
    // watcher (ifwait --supervise, debounced 500 ms) makes udhcpc release
    // the lease. Timed from the moment `ip link set isp0 down` returned.
    let r = Router {
        lab: &lab,
        bin: &bin,
        outputs: &outputs,
    };
    let wan_log = logs.join("wan/current");
    lab.ip(&lab.isp, &["link", "set", dev::ISP, "down"]);
    let t0 = Instant::now();
    let carrier = lab.ip(&lab.router, &["-o", "link", "show", "dev", dev::WAN]);
    assert!(
        carrier.contains("NO-CARRIER"),
        "{} still has a carrier with the isp's end down: {carrier}",
        dev::WAN
    );
    let [out_gone, route_gone, addr_gone, sets_gone] = wan_timings(&r, ns_pid, t0, false, 10);
    eprintln!(
        "netns: carrier lost (isp0 down) -> wan outputs withdrawn {} ms, default route gone {} ms, address gone {} ms, set elements gone {} ms",
        ms(out_gone),
        ms(route_gone),
        ms(addr_gone),
        ms(sets_gone)
    );
    poll(
        5,
        Duration::from_millis(20),
        "the watcher's line in wan's log",
        || {
            std::fs::read_to_string(&wan_log)
                .unwrap_or_default()
                .contains("wan: carrier down on wan0: SIGUSR2 to udhcpc")
                .then_some(())
        },
    );

    // Carrier back: udhcpc asks for a lease at once (SIGUSR1 from the
    // watcher); timed from the moment `ip link set isp0 up` returned.
    lab.ip(&lab.isp, &["link", "set", dev::ISP, "up"]);
    let t0 = Instant::now();
    let [out_back, route_back, addr_back, sets_back] = wan_timings(&r, ns_pid, t0, true, 30);
    eprintln!(
        "netns: carrier back (isp0 up) -> wan outputs published {} ms, default route {} ms, address {} ms, set element {} ms",
        ms(out_back),
        ms(route_back),
        ms(addr_back),
        ms(sets_back)
    );
    poll(
        5,
        Duration::from_millis(20),
        "the watcher's line in wan's log",
        || {
            std::fs::read_to_string(&wan_log)
                .unwrap_or_default()
                .contains("wan: carrier up on wan0: SIGUSR1 to udhcpc")
                .then_some(())
        },
    );
    let wan_ip = r
        .output("wan", "ip")
        .expect("wan/ip after the carrier came back");
    assert_eq!(
        r.addresses(dev::WAN),
        [format!("{wan_ip}/24")],
        "address on {} after the carrier came back",
        dev::WAN
    );
    assert_eq!(
        default_route(ns_pid),
        Some(ISP_ADDR.parse().expect("an address")),
        "default route after the carrier came back"
    );
    client_resolves(&lab);
    let source = nat_source(&mut lab, 8082);
    assert_eq!(
        source, wan_ip,
        "after the carrier came back, the isp sees the client from {source}"
    );
    let after = statuses(&sup, &src);
    let restarted: Vec<String> = before
        .iter()
        .filter(|(n, st)| after.get(*n) != Some(st))
        .map(|(n, st)| format!("{n}: {st:?} -> {:?}", after.get(n)))
        .collect();
    assert!(
        restarted.is_empty(),
        "services restarted or changed by the carrier going and coming: {restarted:?}"
    );
    eprintln!(
        "netns: {} longruns and loggers (wan included) kept their pids through carrier loss and return",
        after.len()
    );

    // The wan service itself restarted (s6-svc -r, as an operator or a
    // crash would): udhcpc releases (-R), its finish withdraws the outputs,
    // the new udhcpc gets a lease and reports ready again; only wan's pid
    // changes.
    let r = Router {
        lab: &lab,
        bin: &bin,
        outputs: &outputs,
    };
    let old_wan = sup.stat("wan");
    let t0 = Instant::now();
    sup.svc("-r", "wan");
    let (_, gone) = poll(
        10,
        Duration::from_millis(1),
        "wan outputs withdrawn by the restart",
        || (!published(&outputs, "wan") || default_route(ns_pid).is_none()).then_some(()),
    );
    let (_, restored) = poll(
        30,
        Duration::from_millis(5),
        "wan restarted, ready, and its route back",
        || {
            let st = sup.stat("wan");
            (st.up
                && st.ready
                && st.pid != old_wan.pid
                && published(&outputs, "wan")
                && default_route(ns_pid).is_some())
            .then_some(())
        },
    );
    poll(
        10,
        Duration::from_millis(20),
        "wan0 back in both sets after the restart",
        || r.sets_are(&[dev::WAN]).then_some(()),
    );
    eprintln!(
        "netns: wan restarted (s6-svc -r) -> lease withdrawn or route gone {} ms, ready with a route again {} ms",
        ms(gone - t0),
        ms(restored - t0)
    );
    let after_restart = statuses(&sup, &src);
    let restarted: Vec<String> = after
        .iter()
        .filter(|(n, st)| n.as_str() != "wan" && after_restart.get(*n) != Some(st))
        .map(|(n, st)| format!("{n}: {st:?} -> {:?}", after_restart.get(n)))
        .collect();
    assert!(
        restarted.is_empty(),
        "restarting wan restarted or changed: {restarted:?}"
    );

    // wan restarted with the cable out: udhcpc starts without a carrier,
    // the watcher's first report is "down" (udhcpc stops asking); the
    // cable back, SIGUSR1: a lease at once.
    let r = Router {
        lab: &lab,
        bin: &bin,
        outputs: &outputs,
    };
    let count = |line: &str| {
        std::fs::read_to_string(&wan_log)
            .unwrap_or_default()
            .matches(line)
            .count()
    };
    let (down_line, up_line) = (
        "wan: carrier down on wan0: SIGUSR2 to udhcpc",
        "wan: carrier up on wan0: SIGUSR1 to udhcpc",
    );
    lab.ip(&lab.isp, &["link", "set", dev::ISP, "down"]);
    wan_timings(&r, ns_pid, Instant::now(), false, 10);
    let downs = count(down_line);
    let old_wan = sup.stat("wan");
    let restart = Instant::now();
    sup.svc("-r", "wan");
    poll(10, Duration::from_millis(20), "wan restarted", || {
        let st = sup.stat("wan");
        (st.up && st.pid != old_wan.pid).then_some(())
    });
    let (_, first_report) = poll(
        10,
        Duration::from_millis(5),
        "the new watcher's first report (down) in wan's log",
        || (count(down_line) > downs).then_some(()),
    );
    assert!(!sup.stat("wan").ready, "wan is ready without a carrier");
    let ups = count(up_line);
    lab.ip(&lab.isp, &["link", "set", dev::ISP, "up"]);
    let t0 = Instant::now();
    let [out_back, route_back, addr_back, sets_back] = wan_timings(&r, ns_pid, t0, true, 30);
    poll(5, Duration::from_millis(20), "wan ready", || {
        sup.stat("wan").ready.then_some(())
    });
    assert_eq!(count(up_line), ups + 1, "SIGUSR1 lines in wan's log");
    eprintln!(
        "netns: wan restarted without a carrier -> watcher's first report (down, SIGUSR2) logged {} ms after s6-svc -r; carrier back (isp0 up) -> wan outputs {} ms, default route {} ms, address {} ms, set element {} ms",
        ms(first_report - restart),
        ms(out_back),
        ms(route_back),
        ms(addr_back),
        ms(sets_back)
    );
    let last = statuses(&sup, &src);
    let restarted: Vec<String> = after_restart
        .iter()
        .filter(|(n, st)| n.as_str() != "wan" && last.get(*n) != Some(st))
        .map(|(n, st)| format!("{n}: {st:?} -> {:?}", last.get(n)))
        .collect();
    assert!(
        restarted.is_empty(),
        "restarting wan without a carrier restarted or changed: {restarted:?}"
    );
    for line in std::fs::read_to_string(&wan_log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("carrier"))
    {
        eprintln!("netns: wan log: {line}");
    }

    drop(sup);
    drop(lab);
    drop(scratch);
}
