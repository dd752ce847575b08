//! Issue 13's L2TP WAN at run time: a router file with a DHCP wan `cable`
//! and an L2TP wan `vpn` over it (`over = "cable"`) is rendered on the host
//! by `limina-services` (as `limina-host router render` does) and the tree
//! runs in the x86_64 guest under Debian's s6 (`s6-svscan`; the oneshots
//! through `execlineb`, in dependency order, each longrun brought up and
//! waited for as s6-rc would), with Debian's `xl2tpd` 1.3.18 as the LAC,
//! which starts Debian's `pppd` 2.4.9 with `pppol2tp.so` (the kernel's
//! `l2tp_ppp`: the session's data never leaves the kernel), busybox's
//! `udhcpc`, `ip` and `sysctl`, Debian's `nft`, and our `limina` applets.
//! The isp is a network namespace `isp` joined to the router's `wan0` by a
//! veth pair: Debian's `dnsmasq` hands out the DHCP lease (router
//! 203.0.113.1) and Debian's `xl2tpd` is the LNS on 198.51.100.7, an
//! address on the isp's loopback that the router reaches only through the
//! DHCP router. The LNS authenticates the subscriber by CHAP; the password
//! is read from the router's secrets file at start.
//!
//! Checked: the lease becomes the `cable` outputs and wan0's address; the
//! session becomes the `vpn` outputs (ifname, ip, peer, dns);
//! `vpn-server-route` keeps a host route to the LNS via the DHCP router,
//! so that the tunnel stays up when `vpn-address` moves the default route
//! (metric 5, below cable's 10) into the session, and a packet to an
//! address the isp has only behind the tunnel goes out of it and is
//! answered; `firewall-sets` puts the session's interface in both nft
//! `wan_ifaces` sets. Then the LNS hangs up (its xl2tpd is stopped: it
//! sends StopCCN): outputs, default route and set element go, the lease and
//! the host route stay. The LNS comes back; xl2tpd (`redial = yes`)
//! redials by itself and everything returns; no longrun or logger changed
//! its pid. Last, the vpn service is restarted (`s6-svc -r`): withdrawn,
//! dialled again, ready, the old session's pppd gone; only vpn's pid
//! changes. The times are printed: session published → default route,
//! hang-up → withdrawn, LNS back → published, restart → withdrawn and back.
//!
//! Timing in the guest as in `router_pppoe`: a shell poller stamps each
//! change of the outputs symlink and of the default route out of the
//! session with the mtime of a file it touches then (a jiffy, 4 ms here).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use limina_board_tests::{guest_limina, Machine, Vm, VmConfig};
use limina_services::RenderOptions;

use crate::common::{Check, CheckSome};
use crate::router_vm::{first, ms, order, services, stamp_ns, statuses, timeline, DEBIAN_IP, SCAN};

/// The router file: a DHCP wan and an L2TP wan over it.
const ROUTER_TOML: &str = r#"
[system]
hostname = "limina-l2tp"

[link.wan]
device = "wan0"

[link.lan]
device = "lanp0"

[address.lan4]
interface = "lan"
address = "192.168.8.1/24"

[wan.cable]
interface = "wan"
protocol = "dhcp"
metric = 10

[wan.vpn]
interface = "wan"
protocol = "l2tp"
over = "cable"
server = "198.51.100.7"
username = "vpn-user"
password = { secret = "l2tp-password" }
metric = 5

[firewall]
wan = ["cable", "vpn"]
lan = ["lan"]
nat = true
forward = true

[secrets]
file = "/etc/limina/secrets"
"#;

/// The subscriber's password: a space and a double quote, for the quoting
/// of the rendered pppd options.
const PASSWORD: &str = r#"l2 tp"pass"#;

/// The LNS's address (on the isp's loopback: reached via the DHCP router).
const LNS: &str = "198.51.100.7";

/// An address the isp has only behind the tunnel (the router reaches it
/// by the default route out of the session).
const BEHIND: &str = "192.0.2.99";

/// The interface the rendered options name (`ifname ppp-<wan name>`).
const PPP_IF: &str = "ppp-vpn";

/// Where the rendered tree's pieces go in the guest (the defaults of
/// `limina-host router render`, except the applets: the harness puts them
/// in /usr/local/bin).
fn render_options() -> RenderOptions {
    RenderOptions {
        applet_dir: "/usr/local/bin".into(),
        path: "/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin".into(),
        ..RenderOptions::default()
    }
}

/// The LNS (xl2tpd in the isp namespace): CHAP required; its pppd hands
/// out 10.64.64.2.. and two DNS servers.
const LNS_CONF: &str = "[global]
listen-addr = 198.51.100.7
access control = no

[lns default]
ip range = 10.64.64.2-10.64.64.9
local ip = 10.64.64.1
require chap = yes
refuse pap = yes
require authentication = yes
name = isp
length bit = yes
pppoptfile = /etc/ppp/options.lns
";

/// The LNS's pppd options.
const LNS_PPP_OPTIONS: &str = "ms-dns 10.64.64.1\nms-dns 192.0.2.53\nlcp-echo-interval 0\nnoipv6\n";

/// Starts the LNS (in `isp`, logging to /tmp/lns.log).
fn start_lns() -> String {
    format!(
        "setsid {DEBIAN_IP} netns exec isp /usr/sbin/xl2tpd -D -c /etc/xl2tpd/lns.conf \
         -p /run/lns.pid -C /run/lns.control </dev/null >>/tmp/lns.log 2>&1 &"
    )
}

/// The shell poller (see the module docs): one line per change,
/// `SECONDS.NANOS outputs|route 0|1` (route: a default route out of the
/// session).
const TIMELINE: &str = r#"#!/bin/sh
out=/run/services/outputs/vpn
mkfifo /tmp/timeline.fifo && exec 9<>/tmp/timeline.fifo || exit 1
route() {
	while read -r i d r; do
		[ "$i" = ppp-vpn ] && [ "$d" = 00000000 ] && return 0
	done </proc/net/route
	return 1
}
stamp() {
	: >/tmp/timeline.stamp
	set -- $(stat -c '%Y %y' /tmp/timeline.stamp)
	echo "$1.${3#*.}"
}
o=x r=x
while :; do
	if [ -L $out ]; then no=1; else no=0; fi
	if route; then nr=1; else nr=0; fi
	[ "$no" = "$o" ] || { echo "$(stamp) outputs $no"; o=$no; }
	[ "$nr" = "$r" ] || { echo "$(stamp) route $nr"; r=$nr; }
	read -t 0.001 -u 9 x
done
"#;

/// Polls `cond` in the guest until it holds ([`crate::router_vm::wait`]).
fn wait(vm: &mut Vm, cond: &str, secs: u64, what: &str) {
    crate::router_vm::wait(vm, cond, secs, what, diagnostics);
}

/// The guest's clock when `cond` first holds ([`crate::router_vm::stamp_when`]).
fn stamp_when(vm: &mut Vm, cond: &str, what: &str) -> u128 {
    crate::router_vm::stamp_when(vm, cond, what, diagnostics)
}

/// What to print when something fails: the services' and daemons' logs.
fn diagnostics(vm: &mut Vm) -> String {
    vm.run(
        "for f in /var/log/*/current; do echo \"--- $f\"; tail -n 20 \"$f\"; done; \
         echo '--- syslog'; tail -n 40 /tmp/messages; echo '--- lns'; tail -n 30 /tmp/lns.log; \
         echo '--- svscan'; cat /tmp/svscan.log; \
         ls -l /run/services/outputs; ip route; ip addr; ps",
    )
    .map(|(_, o)| o)
    .unwrap_or_default()
}

/// `output SERVICE KEY`, which must exist.
fn output(vm: &mut Vm, service: &str, key: &str) -> String {
    vm.run_ok(&format!("output {service} {key}"))
        .check(&format!("output {service} {key}"))
        .trim()
        .to_string()
}

/// The state that follows the session: (the default routes, the route to
/// the LNS, both nft sets hold the session's interface).
fn kernel_state(vm: &mut Vm) -> (String, String, bool) {
    let routes = vm
        .run_ok(&format!("{DEBIAN_IP} route show default"))
        .check("route")
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n");
    let lns = vm
        .run_ok(&format!("{DEBIAN_IP} route show {LNS}"))
        .check("route to the LNS")
        .trim()
        .to_string();
    let sets = vm
        .run_ok(&format!(
            "nft list set inet limina wan_ifaces | grep -c '\"{PPP_IF}\"'; \
             nft list set ip limina-nat wan_ifaces | grep -c '\"{PPP_IF}\"'; true"
        ))
        .check("nft sets");
    (
        routes,
        lns,
        sets.split_whitespace().collect::<Vec<_>>() == ["1", "1"],
    )
}

/// The pid of the LAC's pppd (xl2tpd's child in the router's namespace).
fn lac_pppd(vm: &mut Vm) -> String {
    vm.run_ok(&format!(
        "x=$(s6-svstat -o pid {SCAN}/vpn); for d in /proc/[0-9]*; do \
         [ \"$(cat $d/comm 2>/dev/null)\" = pppd ] && grep -q \"^PPid:[[:space:]]*$x\\$\" $d/status && \
         echo ${{d#/proc/}}; done; true"
    ))
    .check("the LAC's pppd")
    .trim()
    .to_string()
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn rendered_router_l2tp_wan() {
    let machine = Machine::X86_64;

    // Render on the host.
    let router = limina_services::parse(ROUTER_TOML, "router.toml").check("the test's router file");
    let opts = render_options();
    let tree = limina_services::render::render(&router, &opts).check("render");
    let defs = services(&tree);
    let order = order(&defs);
    assert!(
        defs["vpn"].deps.contains(&"vpn-server-route".to_string())
            && defs["vpn"].deps.contains(&"cable-address".to_string()),
        "vpn's dependencies: {:?}",
        defs["vpn"].deps
    );

    let mut cfg = VmConfig::new(machine, "router-l2tp").check("config");
    cfg.initramfs
        .module("veth", "")
        // The kernel's L2TP: PPPoL2TP sockets (xl2tpd's kernel mode, both
        // ends) and the generic netlink family.
        .module("l2tp_core", "")
        .module("l2tp_netlink", "")
        .module("l2tp_ppp", "")
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
            &[
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
                "udhcpc-script",
                "watch-outputs",
            ],
        )
        .bytes(
            "/etc/limina/secrets",
            format!("# the router's secrets\nl2tp-password={PASSWORD}\n"),
            0o600,
        )
        // The LNS's accounts (pppd's quoting: \" inside "...").
        .bytes(
            "/etc/ppp/chap-secrets",
            format!(
                "\"vpn-user\" * \"{}\" *\n",
                PASSWORD.replace('\\', "\\\\").replace('"', "\\\"")
            ),
            0o600,
        )
        .bytes("/etc/xl2tpd/lns.conf", LNS_CONF, 0o644)
        .bytes("/etc/ppp/options.lns", LNS_PPP_OPTIONS, 0o644)
        .bytes("/root/timeline", TIMELINE, 0o755)
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
    let plugin = "/usr/lib/pppd/2.4.9/pppol2tp.so";
    let mut programs = vec![
        (DEBIAN_IP, "/usr/sbin/ip"),
        ("/usr/sbin/pppd", "/usr/sbin/pppd"),
        (plugin, plugin),
        ("/usr/sbin/xl2tpd", "/usr/sbin/xl2tpd"),
        ("/usr/sbin/dnsmasq", "/usr/sbin/dnsmasq"),
        ("/usr/sbin/nft", "/usr/sbin/nft"),
        // Debian's /usr/bin/execlineb is a wrapper script around this.
        ("/usr/bin/execlineb", "/usr/lib/execline/bin/execlineb"),
    ];
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
    for (guest, host) in programs {
        assert!(
            Path::new(host).is_file(),
            "{host} missing on the host: apt-get install iproute2 ppp xl2tpd dnsmasq-base nftables s6 execline"
        );
        cfg.initramfs
            .host_program(guest, host)
            .check("host program");
    }
    let mut vm = Vm::boot(cfg).check("boot");

    // pppd (both ends) logs to syslog.
    vm.run_ok("syslogd -O /tmp/messages").check("syslogd");
    // A fifo nobody writes: `read -t` on it is a sleep without a fork.
    vm.run_ok("mkfifo /tmp/never && exec 9<>/tmp/never")
        .check("fifo");
    // The isp: wan0's peer isp0 (203.0.113.1, the DHCP server and router),
    // the LNS's and the tunnel-only address on its loopback.
    vm.run_ok(&format!(
        "{DEBIAN_IP} netns add isp && {DEBIAN_IP} -n isp link set lo up && \
         {DEBIAN_IP} -n isp addr add {LNS}/32 dev lo && {DEBIAN_IP} -n isp addr add {BEHIND}/32 dev lo && \
         {DEBIAN_IP} link add wan0 type veth peer name isp0 && \
         {DEBIAN_IP} link set isp0 netns isp && {DEBIAN_IP} -n isp addr add 203.0.113.1/24 dev isp0 && \
         {DEBIAN_IP} -n isp link set isp0 up && \
         {DEBIAN_IP} link add lanp0 type veth peer name lanc0 && {DEBIAN_IP} link set lanc0 up"
    ))
    .check("namespaces and cables");
    vm.run_ok(&format!(
        "setsid {DEBIAN_IP} netns exec isp /usr/sbin/dnsmasq -k --port=0 --interface=isp0 \
         --dhcp-range=203.0.113.100,203.0.113.150,1h --dhcp-option=3,203.0.113.1 \
         --dhcp-option=6,203.0.113.1 --dhcp-leasefile=/tmp/isp.leases </dev/null >/tmp/isp-dnsmasq.log 2>&1 &"
    ))
    .check("the isp's DHCP server");
    vm.run_ok(&start_lns()).check("the LNS");
    vm.run_ok("setsid /root/timeline </dev/null >/tmp/timeline.log 2>&1 &")
        .check("timeline");

    // The services, as s6-rc would bring up the `router` bundle.
    let longruns: Vec<&String> = defs
        .iter()
        .filter(|(_, d)| !d.oneshot)
        .map(|(n, _)| n)
        .collect();
    vm.run_ok(&format!(
        "cp -a /etc/limina/scan {SCAN} && setsid s6-svscan {SCAN} </dev/null >/tmp/svscan.log 2>&1 &"
    ))
    .check("s6-svscan");
    let all_ok = longruns
        .iter()
        .map(|n| format!("s6-svok {SCAN}/{n}"))
        .collect::<Vec<_>>()
        .join(" && ");
    wait(
        &mut vm,
        &format!("{{ {all_ok}; }}"),
        20,
        "s6-svscan supervises every longrun",
    );
    eprintln!("router-l2tp: services up in dependency order:");
    for name in &order {
        let def = &defs[name];
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
        let (status, out) = vm
            .run_timeout(&format!("{cmd} 2>&1"), Duration::from_secs(secs))
            .check(name);
        if status != 0 {
            panic!(
                "{name}: `{cmd}` exited {status}: {out}\n{}",
                diagnostics(&mut vm)
            );
        }
        eprintln!(
            "router-l2tp:   {name:<20} {:>6} ms",
            t0.elapsed().as_millis()
        );
    }

    // The lease, then the session: outputs, cross-checked with the kernel.
    assert_eq!(output(&mut vm, "cable", "router"), "203.0.113.1");
    let lease = output(&mut vm, "cable", "ip");
    assert!(lease.starts_with("203.0.113."), "cable/ip {lease}");
    assert_eq!(output(&mut vm, "vpn", "ifname"), PPP_IF);
    let ip = output(&mut vm, "vpn", "ip");
    assert!(
        (2..=9).any(|i| ip == format!("10.64.64.{i}")),
        "vpn/ip {ip} outside the LNS's range"
    );
    assert_eq!(output(&mut vm, "vpn", "peer"), "10.64.64.1");
    assert_eq!(output(&mut vm, "vpn", "dns"), "10.64.64.1 192.0.2.53");
    let addr = vm
        .run_ok(&format!("ip -4 addr show dev {PPP_IF}"))
        .check("ip addr");
    assert!(
        addr.contains(&format!("inet {ip} peer 10.64.64.1/32")),
        "{addr}"
    );
    // Kernel mode: xl2tpd gave pppd a PPPoL2TP socket (plugin pppol2tp.so).
    let pppd = lac_pppd(&mut vm);
    assert_eq!(pppd.lines().count(), 1, "the LAC's pppd: {pppd:?}");
    let cmdline = vm
        .run_ok(&format!("tr '\\0' ' ' </proc/{pppd}/cmdline"))
        .check("pppd's command line");
    assert!(
        cmdline.contains("plugin pppol2tp.so pppol2tp "),
        "the LAC's pppd is not in kernel mode: {cmdline}"
    );
    wait(
        &mut vm,
        &format!("{DEBIAN_IP} route show default | grep -q 'dev {PPP_IF}'"),
        30,
        "the default route out of the session",
    );
    wait(
        &mut vm,
        &format!(
            "nft list set inet limina wan_ifaces | grep -q '\"{PPP_IF}\"' && \
             nft list set ip limina-nat wan_ifaces | grep -q '\"{PPP_IF}\"'"
        ),
        30,
        "ppp-vpn in both wan_ifaces sets",
    );
    let (routes, lns_route, sets) = kernel_state(&mut vm);
    assert_eq!(
        routes,
        format!(
            "default dev {PPP_IF} proto 76 scope link metric 5\n\
             default via 203.0.113.1 dev wan0 proto 76 metric 10"
        ),
        "the default routes"
    );
    assert_eq!(
        lns_route,
        format!("{LNS} via 203.0.113.1 dev wan0"),
        "the host route to the LNS"
    );
    assert!(sets, "both sets hold ppp-vpn");
    // Traffic: the default route leads into the tunnel, and the tunnel
    // itself still goes out of wan0.
    let get = vm
        .run_ok(&format!("{DEBIAN_IP} route get {BEHIND}"))
        .check("route get");
    assert!(get.contains(&format!("dev {PPP_IF}")), "{get}");
    vm.run_ok(&format!("ping -c 1 -W 5 {BEHIND}"))
        .check("a ping through the tunnel");
    let published = stamp_ns(
        &vm.run_ok("stat -c '%Y %y' /run/services/outputs/vpn")
            .check("stat"),
    );
    let events = timeline(&mut vm);
    let route_at = first(&events, "route", true, 0).check_some("route event");
    eprintln!(
        "router-l2tp: first session: vpn outputs published -> default route out of {PPP_IF} {} ms \
         (s6-svwait -U vpn, then vpn-address started)",
        ms(published, route_at)
    );
    let before = statuses(&mut vm, &defs);
    for (name, st) in &before {
        let ready = name.ends_with("/log") || defs.get(name).is_some_and(|d| d.readiness);
        let want = if ready { "true true " } else { "true " };
        assert!(st.starts_with(want), "{name} not up (and ready): {st}");
    }

    // The LNS hangs up: its xl2tpd stops (StopCCN to the LAC, which ends
    // its pppd) and stays away until the withdrawn state is checked.
    let killed = stamp_ns(
        &vm.run_ok(
            ": >/tmp/hangup.stamp; kill $(cat /run/lns.pid); \
             until ! [ -L /run/services/outputs/vpn ]; do read -t 0.002 -u 9 x; done; \
             stat -c '%Y %y' /tmp/hangup.stamp",
        )
        .check("hang up"),
    );
    let sets_gone = stamp_when(
        &mut vm,
        &format!(
            "! nft list set inet limina wan_ifaces | grep -q '\"{PPP_IF}\"' && \
             ! nft list set ip limina-nat wan_ifaces | grep -q '\"{PPP_IF}\"'"
        ),
        "ppp-vpn gone from both wan_ifaces sets",
    );
    wait(
        &mut vm,
        &format!("! {DEBIAN_IP} route show default | grep -q {PPP_IF}"),
        10,
        "the default route out of the session gone",
    );
    let events = timeline(&mut vm);
    let gone = first(&events, "outputs", false, killed).check_some("outputs withdrawn event");
    let route_gone = first(&events, "route", false, killed).check_some("route gone event");
    eprintln!(
        "router-l2tp: hang-up (the LNS's xl2tpd stopped) -> vpn outputs withdrawn {} ms, \
         default route out of the session gone {} ms, set elements gone {} ms (polled through nft)",
        ms(killed, gone),
        ms(killed, route_gone),
        ms(killed, sets_gone)
    );
    assert!(
        vm.run_ok("ls /run/services/outputs")
            .check("ls")
            .split_whitespace()
            .all(|n| n != "vpn" && n != "acquired-vpn"),
        "vpn or acquired-vpn still published"
    );
    let (routes, lns_route, sets) = kernel_state(&mut vm);
    assert_eq!(
        (routes.as_str(), lns_route.as_str(), sets),
        (
            "default via 203.0.113.1 dev wan0 proto 76 metric 10",
            format!("{LNS} via 203.0.113.1 dev wan0").as_str(),
            false
        ),
        "after the hang-up: cable's default route and the host route stay"
    );
    assert_eq!(output(&mut vm, "cable", "ip"), lease);

    // The LNS returns; xl2tpd (redial = yes, every 5 s) dials again by
    // itself.
    let lns_back = stamp_ns(
        &vm.run_ok(&format!(
            ": >/tmp/back.stamp; {} stat -c '%Y %y' /tmp/back.stamp",
            start_lns()
        ))
        .check("LNS back"),
    );
    wait(
        &mut vm,
        &format!(
            "[ -L /run/services/outputs/vpn ] && {DEBIAN_IP} route show default | grep -q {PPP_IF} && \
             nft list set inet limina wan_ifaces | grep -q '\"{PPP_IF}\"' && \
             nft list set ip limina-nat wan_ifaces | grep -q '\"{PPP_IF}\"'"
        ),
        120,
        "the session redialled: outputs, route and sets back",
    );
    let republished = stamp_ns(
        &vm.run_ok("stat -c '%Y %y' /run/services/outputs/vpn")
            .check("stat"),
    );
    let events = timeline(&mut vm);
    let route_back = first(&events, "route", true, lns_back).check_some("route back event");
    eprintln!(
        "router-l2tp: redial: LNS restarted -> vpn outputs published {} ms (xl2tpd's redial timeout 5 s); \
         outputs published -> default route {} ms",
        ms(lns_back, republished),
        ms(republished, route_back)
    );
    assert_eq!(output(&mut vm, "vpn", "ifname"), PPP_IF);
    assert_eq!(output(&mut vm, "vpn", "peer"), "10.64.64.1");
    let (routes, lns_route, sets) = kernel_state(&mut vm);
    assert!(
        routes.starts_with(&format!(
            "default dev {PPP_IF} proto 76 scope link metric 5"
        )),
        "{routes}"
    );
    assert_eq!(lns_route, format!("{LNS} via 203.0.113.1 dev wan0"));
    assert!(sets, "both sets hold ppp-vpn after the redial");
    vm.run_ok(&format!("ping -c 1 -W 5 {BEHIND}"))
        .check("a ping through the redialled tunnel");

    // No service was restarted, not even xl2tpd (it redialled itself).
    let after = statuses(&mut vm, &defs);
    let changed: Vec<String> = before
        .iter()
        .filter(|(n, st)| after.get(*n) != Some(st))
        .map(|(n, st)| format!("{n}: {st} -> {:?}", after.get(n)))
        .collect();
    assert!(
        changed.is_empty(),
        "services restarted by the hang-up: {changed:?}"
    );
    eprintln!(
        "router-l2tp: {} longruns and loggers kept their pids through hang-up and redial",
        after.len()
    );

    // The vpn service restarted (s6-svc -r, as an operator or a crash
    // would): xl2tpd ends the call on SIGTERM and its pppd goes with it
    // (ip-down withdraws, the finish script too); the new xl2tpd dials at
    // once and is ready through its watch-outputs; only vpn's pid changes,
    // and no pppd of the old session is left.
    let old_pid = vm
        .run_ok(&format!("s6-svstat -o pid {SCAN}/vpn"))
        .check("vpn pid");
    let old_pppd = lac_pppd(&mut vm);
    let restarted = stamp_ns(
        &vm.run_ok(&format!(
            ": >/tmp/restart.stamp; s6-svc -r {SCAN}/vpn; stat -c '%Y %y' /tmp/restart.stamp"
        ))
        .check("restart vpn"),
    );
    wait(
        &mut vm,
        &format!(
            "s6-svstat -o up,ready,pid {SCAN}/vpn | grep -q '^true true ' && \
             ! s6-svstat -o pid {SCAN}/vpn | grep -qx '{}' && \
             [ -L /run/services/outputs/vpn ] && {DEBIAN_IP} route show default | grep -q {PPP_IF} && \
             nft list set inet limina wan_ifaces | grep -q '\"{PPP_IF}\"'",
            old_pid.trim()
        ),
        120,
        "vpn restarted, ready, with a session, its route and set element",
    );
    let republished = stamp_ns(
        &vm.run_ok("stat -c '%Y %y' /run/services/outputs/vpn")
            .check("stat"),
    );
    let events = timeline(&mut vm);
    let gone =
        first(&events, "outputs", false, restarted).check_some("outputs withdrawn by the restart");
    let route_back = first(&events, "route", true, gone).check_some("route after the restart");
    eprintln!(
        "router-l2tp: vpn restarted (s6-svc -r) -> outputs withdrawn {} ms, session outputs published {} ms, \
         default route {} ms",
        ms(restarted, gone),
        ms(restarted, republished),
        ms(restarted, route_back)
    );
    assert!(
        !vm.run_ok(&format!("[ -d /proc/{old_pppd} ] && echo alive; true"))
            .check("old pppd")
            .contains("alive"),
        "the old session's pppd {old_pppd} outlived its xl2tpd"
    );
    // The outputs stay (no late ip-down of the old session withdraws them).
    vm.run_ok("read -t 2 -u 9 x; [ -L /run/services/outputs/vpn ]")
        .check("the new session's outputs 2 s later");
    vm.run_ok(&format!("ping -c 1 -W 5 {BEHIND}"))
        .check("a ping through the new session");
    let after_restart = statuses(&mut vm, &defs);
    let changed: Vec<String> = after
        .iter()
        .filter(|(n, st)| n.as_str() != "vpn" && after_restart.get(*n) != Some(st))
        .map(|(n, st)| format!("{n}: {st} -> {:?}", after_restart.get(n)))
        .collect();
    assert!(
        changed.is_empty(),
        "restarting vpn restarted or changed: {changed:?}"
    );
    vm.poweroff().check("poweroff");
}
