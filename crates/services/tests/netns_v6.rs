//! Issue 13's IPv6 chain at run time: a router file with
//! `[wan.wan.ipv6] prefix_delegation` and `[lan.lan] ipv6` rendered by
//! `limina-services`, run under Debian's `s6-svscan` in network namespaces
//! (the same harness as `netns.rs`: `netns/lab.rs`, `netns/supervise.rs`).
//!
//! - `isp`: Debian's ISC `dhcpd -6` (an address from `range6`, a /56 from
//!   `prefix6`) and `radvd` (router advertisements: the router's default
//!   route) on `isp0`.
//! - `router`: the rendered tree. `wan` is static IPv4 (the IPv4 path is
//!   `netns.rs`'s); `wan-v6` is odhcp6c (built by `scripts/build-odhcp6c`
//!   from Buildroot's pinned commit) with `odhcp6c-script`; `wan-v6-address`
//!   is `acquire-wan-address -R`; `lan-lan-prefix` is
//!   `acquire-delegated-prefix`; dnsmasq (Debian's) advertises the prefix
//!   on `br-lan` (`constructor:`), and serves DHCPv6 from it.
//! - `client`: the kernel's SLAAC (accept_ra) and a DHCPv6 client (odhcp6c
//!   again, `-N force`, its script only records the address it got).
//!
//! Checked: the `wan-v6` outputs (the delegated /56 and the IA_NA address,
//! cross-checked with dhcpd's lease file), the address on `wan0`
//! (`wan-v6-address`), the IPv6 default route from the isp's RA, the
//! delegated `<prefix>:1::1/64` on `br-lan`, the client's SLAAC address and
//! DHCPv6 address in that /64, and the client reaching the isp through
//! the router (routed, the firewall's forward chain). Then the prefix is
//! withdrawn (the isp's dhcpd stops, `s6-svc -2` makes odhcp6c release and
//! restart): the outputs lose the prefix, `br-lan` loses the /64 and the
//! client's SLAAC address is deprecated (dnsmasq's RA); then dhcpd comes
//! back: odhcp6c's next Solicit gets the prefix again and the /64 is back.
//! No service is restarted through all of it. Times are printed (polled
//! every millisecond through `/proc/PID/net/if_inet6`); the prefix reaches
//! the outputs about 10 s after dhcpd's Reply (odhcp6c's script delay, see
//! [`radvd_conf`]), and withdrawing it ("unbound") is immediate.
//!
//! Needs what `netns.rs` needs, plus `dhcpd` (isc-dhcp-server), `radvd`
//! and odhcp6c: `$LIMINA_ODHCP6C`, else the cache path
//! `scripts/build-odhcp6c` prints. Without odhcp6c the test prints why and
//! passes, unless `LIMINA_REQUIRE_TOOLS` names `odhcp6c` (a comma or space
//! separated list); a missing Debian tool fails it (scripts/setup installs
//! them).

#[allow(dead_code)] // Lab::child and Lab::wait_exit: netns.rs uses them
#[path = "netns/lab.rs"]
mod lab;
#[path = "netns/supervise.rs"]
mod supervise;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use lab::{dev, run, stderr, which, Lab};
use limina_services::RenderOptions;
use supervise::{Source, Stat, Supervisor};

/// The router file under test.
const ROUTER_TOML: &str = r#"
[system]
hostname = "limina-netns6"

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
protocol = "static"
address = "10.77.0.2/24"
gateway = "10.77.0.1"

[wan.wan.ipv6]
prefix_delegation = true
prefix_length = 56

[lan.lan]
interface = "lan"
dhcp_range = ["192.168.8.100", "192.168.8.250"]
ipv6 = { prefix_from = "wan", subnet = 1, ra = true, dhcpv6 = true }

[firewall]
wan = ["wan"]
lan = ["lan"]
nat = true
forward = true
"#;

/// The isp's address on the WAN link, and that link's /64.
const ISP_ADDR6: &str = "2001:db8:77::1";
/// The isp's `range6` (IA_NA addresses on the WAN link).
const ISP_RANGE6: (&str, &str) = ("2001:db8:77::100", "2001:db8:77::1ff");
/// The isp's delegated prefixes: /56s from this /48.
const PD_POOL: &str = "2001:db8:8800::";

/// ISC dhcpd's configuration: one subnet, addresses and /56 prefixes.
fn dhcpd_conf() -> String {
    format!(
        "default-lease-time 600;
max-lease-time 600;
preferred-lifetime 300;
option dhcp6.name-servers {ISP_ADDR6};
subnet6 2001:db8:77::/64 {{
	range6 {} {};
	prefix6 2001:db8:8800:: 2001:db8:8800:ff00:: /56;
}}
",
        ISP_RANGE6.0, ISP_RANGE6.1
    )
}

/// radvd on isp0: the router's default route (M and O flags: addresses
/// and prefixes come from DHCPv6). Unsolicited RAs are sparse, as from an
/// ISP (the router's Router Solicitation is answered at once): odhcp6c
/// f19dd37 runs its script for `bound` only after `script_sync_delay`, 10 s
/// (`-S` cannot lower it), unless an RA arrives meanwhile (then after 1 s),
/// so with RAs every few seconds the test would measure radvd's interval
/// instead of that delay.
fn radvd_conf() -> String {
    format!(
        "interface {} {{
	AdvSendAdvert on;
	MinRtrAdvInterval 30;
	MaxRtrAdvInterval 60;
	AdvManagedFlag on;
	AdvOtherConfigFlag on;
	AdvDefaultLifetime 600;
	prefix 2001:db8:77::/64 {{
		AdvOnLink on;
		AdvAutonomous off;
	}};
}};
",
        dev::ISP
    )
}

/// The client's DHCPv6 hook (odhcp6c -s): records the addresses.
const CLIENT_SCRIPT: &str = r#"#!/bin/sh
case "$2" in
bound | updated | rebound)
	printf '%s\n' "$ADDRESSES" >"$LEASE_FILE.tmp"
	mv -f "$LEASE_FILE.tmp" "$LEASE_FILE"
	;;
esac
exit 0
"#;

/// A scratch directory, removed on drop unless the test failed (then its
/// path is printed with the services' and daemons' logs).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("netns_v6: kept {} for inspection", self.0.display());
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
            for f in [
                "svscan.log",
                "isp-dhcpd.log",
                "isp-radvd.log",
                "client-odhcp6c.log",
            ] {
                if let Ok(text) = std::fs::read_to_string(self.0.join(f)) {
                    let lines: Vec<&str> = text.lines().collect();
                    let tail = &lines[lines.len().saturating_sub(30)..];
                    eprintln!("--- {f}\n{}", tail.join("\n"));
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

/// odhcp6c: `$LIMINA_ODHCP6C`, else where `scripts/build-odhcp6c` caches
/// it (`$LIMINA_CACHE/odhcp6c-<commit, 12>/odhcp6c`, the commit read from
/// the script).
fn odhcp6c_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LIMINA_ODHCP6C") {
        return PathBuf::from(p);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-odhcp6c");
    let commit = std::fs::read_to_string(&script)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("odhcp6c_commit=").map(str::to_string))
        .unwrap_or_default();
    let cache = std::env::var_os("LIMINA_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("limina")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/limina")))
        .unwrap_or_default();
    cache
        .join(format!("odhcp6c-{}", commit.get(..12).unwrap_or_default()))
        .join("odhcp6c")
}

/// Whether `LIMINA_REQUIRE_TOOLS` names `tool`.
fn required(tool: &str) -> bool {
    std::env::var("LIMINA_REQUIRE_TOOLS").is_ok_and(|v| {
        v.split(|c: char| c == ',' || c.is_whitespace())
            .any(|t| t == tool)
    })
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
        "dhcpd",
        "radvd",
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

/// Polls `f` every `every` until it returns `Some`, for at most `secs`.
fn poll<T>(secs: u64, every: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
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

/// The IPv6 addresses on `ifname` in the namespace of process `pid`, with
/// prefix length and flags (`/proc/PID/net/if_inet6`: cheap to poll).
fn inet6(pid: u32, ifname: &str) -> Vec<(Ipv6Addr, u8, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/if_inet6")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            // address(hex) ifindex plen scope flags name
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 6 || f[5] != ifname {
                return None;
            }
            let a = u128::from_str_radix(f[0], 16).ok()?;
            let plen = u8::from_str_radix(f[2], 16).ok()?;
            let flags = u32::from_str_radix(f[4], 16).ok()?;
            Some((Ipv6Addr::from(a), plen, flags))
        })
        .collect()
}

/// `IFA_F_TENTATIVE` in if_inet6's flags.
const TENTATIVE: u32 = 0x40;

/// The rows of table `table` of SERVICE's outputs (`id` → key → value),
/// read from the store's files (`SERVICE/TABLE/ID/KEY`).
fn table(outputs: &Path, service: &str, table: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut rows = BTreeMap::new();
    let dir = outputs.join(service).join(table);
    for row in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let mut keys = BTreeMap::new();
        for key in std::fs::read_dir(row.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(v) = std::fs::read_to_string(key.path()) {
                keys.insert(
                    key.file_name().to_string_lossy().into_owned(),
                    v.trim_end().to_string(),
                );
            }
        }
        rows.insert(row.file_name().to_string_lossy().into_owned(), keys);
    }
    rows
}

/// The delegated prefixes in SERVICE's outputs: (prefix, len).
fn prefixes(outputs: &Path, service: &str) -> Vec<(Ipv6Addr, u8)> {
    table(outputs, service, "prefix")
        .values()
        .filter_map(|r| Some((r.get("prefix")?.parse().ok()?, r.get("len")?.parse().ok()?)))
        .collect()
}

/// When SERVICE's current outputs were published (the symlink's mtime).
fn published_at(outputs: &Path, service: &str) -> Option<SystemTime> {
    outputs
        .join(service)
        .symlink_metadata()
        .and_then(|m| m.modified())
        .ok()
}

/// `<prefix>:<subnet>::1` of a delegated prefix.
fn lan_address(prefix: Ipv6Addr, subnet: u128) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(prefix) | (subnet << 64) | 1)
}

/// Whether `a` is in `net/len`.
fn in_net(a: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    u128::from(a) & mask == u128::from(net) & mask
}

/// Opens (appending) a log file in the scratch directory.
fn log_file(scratch: &Path, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(scratch.join(name))
        .expect("a log file")
}

/// Starts the isp's `dhcpd -6` and waits until it listens on port 547.
fn start_dhcpd(lab: &mut Lab, scratch: &Path) {
    let log = log_file(scratch, "isp-dhcpd.log");
    let mut cmd = lab.exec(&lab.isp);
    cmd.args(["dhcpd", "-6", "-d", "-cf"])
        .arg(scratch.join("dhcpd6.conf"))
        .arg("-lf")
        .arg(scratch.join("dhcpd6.leases"))
        .arg("-pf")
        .arg(scratch.join("dhcpd6.pid"))
        .arg(dev::ISP)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
    lab.spawn("isp-dhcpd", cmd);
    let isp = lab.isp.clone();
    poll(
        10,
        Duration::from_millis(20),
        "the isp's dhcpd on udp port 547",
        || {
            let out = run(Command::new("ip")
                .args(["netns", "exec", &isp, "ss", "-ulnH", "sport", "=", ":547"]));
            (!String::from_utf8_lossy(&out.stdout).trim().is_empty()).then_some(())
        },
    );
}

/// The prefixes dhcpd's lease file binds (`iaprefix P/LEN {`).
fn dhcpd_prefixes(scratch: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(scratch.join("dhcpd6.leases")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("iaprefix "))
        .filter_map(|r| r.split_whitespace().next().map(str::to_string))
        .collect()
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
    ignore = "needs root, netns, dhcpd, radvd, dnsmasq, s6, execline and odhcp6c: use --features netns-tests"
)]
fn rendered_ipv6_router_in_namespaces() {
    if let Some(reason) = missing_prerequisite() {
        panic!("cannot run the netns IPv6 router test: {reason}");
    }
    let odhcp6c = odhcp6c_bin();
    if !odhcp6c.is_file() {
        let why = format!(
            "odhcp6c not at {} (run scripts/build-odhcp6c, or set LIMINA_ODHCP6C)",
            odhcp6c.display()
        );
        assert!(
            !required("odhcp6c"),
            "{why}, and LIMINA_REQUIRE_TOOLS names odhcp6c"
        );
        eprintln!("netns_v6: SKIPPED: {why}");
        return;
    }

    let root = std::env::temp_dir().join(format!("limina-services-netns6-{}", std::process::id()));
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

    // The applets as on the device: limina's, busybox's, and odhcp6c.
    let limina = limina_bin();
    let list = run(Command::new(&limina).arg("--list"));
    assert!(list.status.success(), "limina --list: {}", stderr(&list));
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        std::os::unix::fs::symlink(&limina, bin.join(applet)).expect("applet symlink");
    }
    let busybox = which("busybox").expect("busybox (checked above)");
    for applet in ["ip", "sysctl"] {
        std::os::unix::fs::symlink(&busybox, bin.join(applet)).expect("busybox symlink");
    }
    std::os::unix::fs::symlink(&odhcp6c, bin.join("odhcp6c")).expect("odhcp6c symlink");

    // Render.
    let router_file = limina_services::parse(ROUTER_TOML, "router.toml")
        .expect("the test's router file is valid");
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

    // The namespaces; the isp: its address (no DAD: it is alone on the
    // link), dhcpd and radvd.
    let mut lab = Lab::new();
    lab.ip(
        &lab.isp,
        &[
            "-6",
            "addr",
            "add",
            &format!("{ISP_ADDR6}/64"),
            "dev",
            dev::ISP,
            "nodad",
        ],
    );
    let out = run(lab
        .exec(&lab.isp)
        .args(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]));
    assert!(out.status.success(), "isp forwarding: {}", stderr(&out));
    // dhcpd -6 needs isp0's link-local address, which comes with the
    // carrier: wan0 goes up now (link-wan's `ip link set up` later is a
    // no-op).
    lab.ip(&lab.router, &["link", "set", dev::WAN, "up"]);
    let isp = lab.isp.clone();
    poll(
        10,
        Duration::from_millis(20),
        "isp0's link-local address",
        || {
            let text = lab.ip(
                &isp,
                &["-6", "-o", "addr", "show", "dev", dev::ISP, "scope", "link"],
            );
            (text.contains("fe80::") && !text.contains("tentative")).then_some(())
        },
    );
    std::fs::write(root.join("dhcpd6.conf"), dhcpd_conf()).expect("dhcpd6.conf");
    std::fs::write(root.join("dhcpd6.leases"), "").expect("dhcpd6.leases");
    std::fs::write(root.join("radvd.conf"), radvd_conf()).expect("radvd.conf");
    start_dhcpd(&mut lab, &root);
    let log = log_file(&root, "isp-radvd.log");
    let mut cmd = lab.exec(&lab.isp);
    cmd.args(["radvd", "-n", "-m", "stderr", "-C"])
        .arg(root.join("radvd.conf"))
        .arg("-p")
        .arg(root.join("radvd.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
    lab.spawn("isp-radvd", cmd);

    // The router's services, in dependency order; the delegated prefix in
    // the outputs and the /64 on br-lan are watched from the start.
    let sup = Supervisor::start(
        &lab.router,
        &scan,
        &root.join("svscan.log"),
        &src.longruns(),
    );
    let ns_pid = sup.pid();
    let watch_outputs = outputs.clone();
    let startup_watch = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut pd_at = None;
        while Instant::now() < deadline {
            if pd_at.is_none() {
                if let Some(&(p, _)) = prefixes(&watch_outputs, "wan-v6").first() {
                    pd_at = published_at(&watch_outputs, "wan-v6").map(|t| (p, t));
                }
            }
            if let Some((p, t)) = pd_at {
                let want = lan_address(p, 1);
                if inet6(ns_pid, "br-lan").iter().any(|a| a.0 == want) {
                    return Some((t, SystemTime::now()));
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    });
    let took = sup.up_all(&src, &lab.router, 30);
    eprintln!("netns_v6: services up in dependency order:");
    for (name, d) in &took {
        eprintln!("netns_v6:   {name:<20} {:>5} ms", ms(*d));
    }
    let (pd_at, lan_at) = startup_watch
        .join()
        .expect("the startup watcher")
        .expect("no delegated /64 on br-lan within 90s");
    eprintln!(
        "netns_v6: startup: wan-v6 outputs with the prefix published -> {}/64 on br-lan: {} ms",
        lan_address(prefixes(&outputs, "wan-v6")[0].0, 1),
        lan_at.duration_since(pd_at).map(ms).unwrap_or(0)
    );

    // The wan-v6 outputs: a /56 from the isp's pool (the one dhcpd's lease
    // file binds), an address from range6.
    let pds = prefixes(&outputs, "wan-v6");
    assert_eq!(pds.len(), 1, "wan-v6 prefixes: {pds:?}");
    let (pd, pd_len) = pds[0];
    assert_eq!(pd_len, 56, "delegated prefix length");
    assert!(
        in_net(pd, PD_POOL.parse().expect("an address"), 48),
        "delegated {pd}/{pd_len} not from the isp's pool"
    );
    assert_eq!(
        dhcpd_prefixes(&root),
        [format!("{pd}/56")],
        "dhcpd's lease file"
    );
    let addrs = table(&outputs, "wan-v6", "address");
    assert_eq!(addrs.len(), 1, "wan-v6 addresses: {addrs:?}");
    let row = addrs.values().next().expect("one address row");
    let wan_addr: Ipv6Addr = row
        .get("address")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("wan-v6 address row {row:?}"));
    let (lo, hi): (Ipv6Addr, Ipv6Addr) = (
        ISP_RANGE6.0.parse().expect("an address"),
        ISP_RANGE6.1.parse().expect("an address"),
    );
    assert!(
        (lo..=hi).contains(&wan_addr),
        "wan-v6 address {wan_addr} outside range6"
    );
    eprintln!("netns_v6: wan-v6: prefix {pd}/{pd_len}, address {wan_addr}, address row {row:?}");
    let ifname = std::fs::read_to_string(outputs.join("wan-v6/ifname")).unwrap_or_default();
    assert_eq!(ifname.trim_end(), dev::WAN, "wan-v6/ifname");

    // wan-v6-address: the IA_NA address on wan0.
    poll(
        10,
        Duration::from_millis(5),
        "the IA_NA address on wan0",
        || {
            inet6(ns_pid, dev::WAN)
                .iter()
                .any(|a| a.0 == wan_addr)
                .then_some(())
        },
    );
    // The default route from the isp's RA (accept_ra=2: forwarding is on,
    // [firewall] forward = true).
    let out = run(lab
        .exec(&lab.router)
        .args(["sysctl", "-n", "net.ipv6.conf.all.forwarding"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "the router's IPv6 forwarding"
    );
    let route = poll(
        20,
        Duration::from_millis(20),
        "an IPv6 default route via wan0",
        || {
            let text = lab.ip(&lab.router, &["-6", "route", "show", "default"]);
            text.contains(&format!("dev {}", dev::WAN))
                .then_some(text.trim().to_string())
        },
    );
    assert!(route.contains("via fe80::"), "default route: {route}");
    eprintln!("netns_v6: router's IPv6 default route: {route}");

    // The LAN: <prefix>:1::1/64 on br-lan, advertised by dnsmasq.
    let lan6 = lan_address(pd, 1);
    let br = inet6(ns_pid, "br-lan");
    assert!(
        br.iter().any(|a| a.0 == lan6 && a.1 == 64),
        "{lan6}/64 not on br-lan: {br:?}"
    );
    let out = run(lab.exec(&lab.client).args([
        "sysctl",
        "-qw",
        &format!("net.ipv6.conf.{}.accept_ra=2", dev::CLIENT),
    ]));
    assert!(out.status.success(), "client accept_ra: {}", stderr(&out));
    let lan_net = lan_address(pd, 1);
    let client = lab.client.clone();
    let slaac = poll(
        40,
        Duration::from_millis(50),
        "a SLAAC address on the client",
        || {
            let text = lab.ip(
                &client,
                &[
                    "-6",
                    "-o",
                    "addr",
                    "show",
                    "dev",
                    dev::CLIENT,
                    "scope",
                    "global",
                ],
            );
            text.lines().find_map(|l| {
                let a = l.split_whitespace().skip_while(|w| *w != "inet6").nth(1)?;
                let (addr, len) = a.split_once('/')?;
                let addr: Ipv6Addr = addr.parse().ok()?;
                (len == "64" && in_net(addr, lan_net, 64) && l.contains("dynamic")).then_some(addr)
            })
        },
    );
    eprintln!("netns_v6: client SLAAC address {slaac} (RA from the router's dnsmasq)");
    let route = poll(
        20,
        Duration::from_millis(20),
        "the client's IPv6 default route",
        || {
            let text = lab.ip(&client, &["-6", "route", "show", "default"]);
            text.contains("via fe80::")
                .then_some(text.trim().to_string())
        },
    );
    eprintln!("netns_v6: client's default route: {route}");

    // DHCPv6 on the LAN (dhcpv6 = true): odhcp6c as a plain client.
    let lease_file = root.join("client.lease");
    let client_script = root.join("client-odhcp6c");
    std::fs::write(&client_script, CLIENT_SCRIPT).expect("client script");
    std::fs::set_permissions(
        &client_script,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let log = log_file(&root, "client-odhcp6c.log");
    let mut cmd = lab.exec(&lab.client);
    cmd.arg(&odhcp6c)
        .args(["-e", "-v", "-N", "force", "-p"])
        .arg(root.join("client-odhcp6c.pid"))
        .arg("-s")
        .arg(&client_script)
        .arg(dev::CLIENT)
        .env("LEASE_FILE", &lease_file)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
    let t0 = Instant::now();
    lab.spawn("client-odhcp6c", cmd);
    let dhcp6 = poll(
        40,
        Duration::from_millis(20),
        "the client's DHCPv6 address",
        || {
            let text = std::fs::read_to_string(&lease_file).ok()?;
            // addr/len,preferred,valid
            let first = text.split_whitespace().next()?;
            let addr = first.split(['/', ',']).next()?;
            addr.parse::<Ipv6Addr>().ok()
        },
    );
    eprintln!(
        "netns_v6: client DHCPv6 address {dhcp6} after {} ms",
        ms(t0.elapsed())
    );
    assert!(
        in_net(dhcp6, lan_net, 64) && (u128::from(dhcp6) & 0xffff_ffff_ffff_ffff) >= 0x1000,
        "the client's DHCPv6 address {dhcp6} not in {lan_net}/64 ::1000-::ffff"
    );
    lab.kill("client-odhcp6c");

    // Routed through the router (no NAT for IPv6: the firewall's forward
    // chain lets lan out to wan): the isp routes the /56 to the router's
    // WAN address, as an ISP does, and the client pings the isp.
    lab.ip(
        &lab.isp,
        &[
            "-6",
            "route",
            "add",
            &format!("{pd}/56"),
            "via",
            &wan_addr.to_string(),
        ],
    );
    let t0 = Instant::now();
    poll(
        20,
        Duration::from_millis(100),
        "the client pinging the isp over IPv6",
        || {
            let out = run(lab
                .exec(&client)
                .args(["busybox", "ping", "-6", "-c", "1", "-W", "1", ISP_ADDR6]));
            out.status.success().then_some(())
        },
    );
    eprintln!(
        "netns_v6: client -> {ISP_ADDR6} (ping, routed by the router) answered after {} ms",
        ms(t0.elapsed())
    );

    let before = statuses(&sup, &src);
    for (name, st) in &before {
        assert!(st.up, "{name} is not up: {st:?}");
    }

    // Withdrawn: the isp's dhcpd stops; odhcp6c is told to release and
    // start over (SIGUSR2): "unbound" → the outputs lose the prefix →
    // acquire-delegated-prefix removes the /64.
    lab.kill("isp-dhcpd");
    let t0 = Instant::now();
    sup.svc("-2", "wan-v6");
    let (outputs_gone, lan_gone) = {
        let (mut o, mut a) = (None, None);
        poll(20, Duration::from_millis(1), "the prefix withdrawn", || {
            if o.is_none() && prefixes(&outputs, "wan-v6").is_empty() {
                o = Some(t0.elapsed());
            }
            if a.is_none() && !inet6(ns_pid, "br-lan").iter().any(|x| x.0 == lan6) {
                a = Some(t0.elapsed());
            }
            o.zip(a)
        })
    };
    eprintln!(
        "netns_v6: prefix withdrawn (dhcpd stopped, SIGUSR2 to odhcp6c) -> outputs without the prefix {} ms, {lan6}/64 gone from br-lan {} ms",
        ms(outputs_gone),
        ms(lan_gone)
    );
    poll(
        10,
        Duration::from_millis(1),
        "the IA_NA address gone from wan0",
        || (!inet6(ns_pid, dev::WAN).iter().any(|a| a.0 == wan_addr)).then_some(()),
    );
    eprintln!(
        "netns_v6: {wan_addr} gone from wan0 {} ms after SIGUSR2",
        ms(t0.elapsed())
    );

    // dnsmasq notices the /64 went and advertises it with preferred
    // lifetime 0: the client's SLAAC address is deprecated.
    let deprecated = poll(
        20,
        Duration::from_millis(20),
        "the client's SLAAC address deprecated",
        || {
            let text = lab.ip(
                &client,
                &[
                    "-6",
                    "-o",
                    "addr",
                    "show",
                    "dev",
                    dev::CLIENT,
                    "scope",
                    "global",
                ],
            );
            text.lines()
                .find(|l| l.contains(&format!("{slaac}/64")) && l.contains("deprecated"))
                .map(|_| t0.elapsed())
        },
    );
    eprintln!(
        "netns_v6: client's {slaac} deprecated {} ms after SIGUSR2 (dnsmasq's RA for the old prefix)",
        ms(deprecated)
    );

    // Back: dhcpd returns; odhcp6c's next Solicit (its own retransmission
    // timer, nothing signalled) gets the prefix again.
    start_dhcpd(&mut lab, &root);
    let t0 = Instant::now();
    let (back_pd, outputs_back, lan_back) = {
        let (mut o, mut a) = (None, None);
        poll(
            150,
            Duration::from_millis(1),
            "the prefix delegated again",
            || {
                if o.is_none() {
                    o = prefixes(&outputs, "wan-v6")
                        .first()
                        .map(|&(p, _)| (p, t0.elapsed()));
                }
                if let Some((p, _)) = o {
                    if a.is_none()
                        && inet6(ns_pid, "br-lan")
                            .iter()
                            .any(|x| x.0 == lan_address(p, 1))
                    {
                        a = Some(t0.elapsed());
                    }
                }
                o.zip(a).map(|((p, od), ad)| (p, od, ad))
            },
        )
    };
    eprintln!(
        "netns_v6: dhcpd back -> prefix {back_pd}/56 in the outputs {} ms, {}/64 on br-lan {} ms (after odhcp6c's next Solicit)",
        ms(outputs_back),
        lan_address(back_pd, 1),
        ms(lan_back)
    );
    assert_eq!(back_pd, pd, "the isp delegated another prefix");
    poll(
        10,
        Duration::from_millis(5),
        "the IA_NA address back on wan0",
        || {
            inet6(ns_pid, dev::WAN)
                .iter()
                .any(|a| a.0 == wan_addr)
                .then_some(())
        },
    );
    let tentative = inet6(ns_pid, "br-lan")
        .iter()
        .any(|a| a.0 == lan6 && a.2 & TENTATIVE != 0);
    eprintln!("netns_v6: {lan6} tentative right after: {tentative}");

    // Nothing was restarted.
    let after = statuses(&sup, &src);
    for (name, st) in &before {
        assert_eq!(
            after.get(name).map(|s| s.pid),
            Some(st.pid),
            "{name} was restarted (before {st:?}, after {:?})",
            after.get(name)
        );
    }
    // odhcp6c started only once wan0's link-local address was usable (the
    // run script's ifwait): no failed Router Solicitation, no DHCPv6
    // socket error.
    let log = std::fs::read_to_string(logs.join("wan-v6/current")).unwrap_or_default();
    eprintln!("netns_v6: wan-v6's log (odhcp6c -e):\n{}", log.trim_end());
    for bad in ["Failed to send RS", "error connecting LLA socket"] {
        assert!(!log.contains(bad), "wan-v6 logged {bad:?}:\n{log}");
    }
    drop(sup);
    drop(lab);
    drop(scratch);
}
