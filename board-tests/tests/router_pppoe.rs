//! Issue 13's PPPoE WAN at run time: a router file with `protocol =
//! "pppoe"` is rendered on the host by `limina-services` (as
//! `limina-host router render` does) and the tree runs in the x86_64 guest
//! under Debian's s6 (`s6-svscan`; the oneshots through `execlineb`, in
//! dependency order, each longrun brought up and waited for as s6-rc
//! would), with Debian's `pppd` 2.4.9 + `pppoe.so`, `dnsmasq` and `nft`,
//! busybox's `ip` and `sysctl`, and our `limina` applets. The peer is
//! Debian's `pppoe-server` in a network namespace `isp`, joined to the
//! router's `wan0` by a veth pair; it offers one PPPoE service name and
//! authenticates the subscriber by CHAP. The user name (a backslash) and
//! the password (a space, a double quote, a backslash; read from the
//! secrets file at start) check the quoting of the rendered pppd options.
//!
//! Checked: the session becomes the `wan` outputs (ifname, ip, peer, dns),
//! `wan-address` (acquire-wan-address) adds the default route out of the
//! session, `firewall-sets` puts the session's interface in both nft
//! `wan_ifaces` sets, and `dnsmasq-upstream` writes the session's DNS
//! servers into dnsmasq's resolv file. Then the isp hangs up (its pppd is
//! killed, then its cable end goes down so that the withdrawn state can be
//! checked before pppd redials): outputs, route, set element and upstream
//! servers go. The isp comes back (cable up, pppoe-server restarted, as it
//! exits when its interface goes down); pppd (`persist`, `maxfail 0`)
//! redials by itself and everything returns, with the DNS server the isp
//! hands out now; no longrun or logger changed its pid (pppd included).
//! Last, the wan service is restarted (`s6-svc -r`): withdrawn, dialled
//! again, ready; only wan's pid changes. The times are printed: outputs
//! published → default route and resolv file, hang-up → each withdrawn,
//! isp back → outputs, restart → withdrawn and back.
//!
//! Timing in the guest: a shell poller (builtins only, a 1 ms `read -t`
//! between rounds) watches the outputs symlink, `/proc/net/route` and the
//! resolv file, and stamps each change with the mtime of a file it touches
//! then (the kernel's coarse clock: a jiffy, 4 ms here); a publication's
//! own time is its symlink's mtime. The nft sets are polled with `nft`
//! itself (some 100 ms a call under TCG).
//!
//! (The build machines' kernel has no PPP: the netns test of
//! `limina-services` cannot run this; Debian's guest kernel has it as
//! modules.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use limina_board_tests::{guest_limina, Machine, Vm, VmConfig};
use limina_services::RenderOptions;

use crate::common::{Check, CheckSome};
use crate::router_vm::{first, ms, order, services, stamp_ns, statuses, timeline, DEBIAN_IP, SCAN};

/// The router file: the qemu router with a PPPoE WAN.
const ROUTER_TOML: &str = r#"
[system]
hostname = "limina-pppoe"

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
protocol = "pppoe"
username = 'isp\subscriber'    # a TOML literal string: one backslash
password = { secret = "pppoe-password" }
service = "limina-isp"        # the isp offers only this one
metric = 5

[lan.lan]
interface = "lan"
dhcp_range = ["192.168.8.100", "192.168.8.250"]
dns_from = "wan"

[firewall]
wan = ["wan"]
lan = ["lan"]
nat = true
forward = true

[secrets]
file = "/etc/limina/secrets"
"#;

/// The subscriber's password: a space and a double quote, so that the
/// quoting of the rendered pppd options is exercised (pppd parses both
/// its options and chap-secrets with the same quoting rules).
const PASSWORD: &str = r#"pa ss"w\0rd"#;

/// The subscriber's name: a backslash (as in `DOMAIN\user`), which pppd
/// reads as an escape inside quotes.
const USERNAME: &str = r"isp\subscriber";

/// The interface the rendered options name (`ifname ppp-<wan name>`).
const PPP_IF: &str = "ppp-wan";

/// `s` for inside double quotes in pppd's option and secrets files.
fn ppp_quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

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

/// The isp's pppd options (pppoe-server -O): CHAP required, two DNS
/// servers. `@DNS2@` is replaced.
const SERVER_OPTIONS: &str =
    "auth\nrequire-chap\nlcp-echo-interval 0\nms-dns 10.64.64.1\nms-dns @DNS2@\n";

/// The shell poller (see the module docs): one line per change,
/// `SECONDS.NANOS outputs|route|servers 0|1` (servers: dnsmasq's
/// resolv file names one).
const TIMELINE: &str = r#"#!/bin/sh
out=/run/services/outputs/wan
mkfifo /tmp/timeline.fifo && exec 9<>/tmp/timeline.fifo || exit 1
route() {
	while read -r i d r; do
		[ "$d" = 00000000 ] && return 0
	done </proc/net/route
	return 1
}
servers() {
	while read -r k v; do
		[ "$k" = nameserver ] && return 0
	done </run/limina/router/resolv.conf.dnsmasq
	return 1
} 2>/dev/null
stamp() {
	: >/tmp/timeline.stamp
	set -- $(stat -c '%Y %y' /tmp/timeline.stamp)
	echo "$1.${3#*.}"
}
o=x r=x s=x
while :; do
	if [ -L $out ]; then no=1; else no=0; fi
	if route; then nr=1; else nr=0; fi
	if servers; then ns=1; else ns=0; fi
	[ "$no" = "$o" ] || { echo "$(stamp) outputs $no"; o=$no; }
	[ "$nr" = "$r" ] || { echo "$(stamp) route $nr"; r=$nr; }
	[ "$ns" = "$s" ] || { echo "$(stamp) servers $ns"; s=$ns; }
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
         echo '--- syslog'; tail -n 40 /tmp/messages; echo '--- svscan'; cat /tmp/svscan.log; \
         ls -l /run/services/outputs; ip route; ip addr; ps",
    )
    .map(|(_, o)| o)
    .unwrap_or_default()
}

/// `output wan KEY`, which must exist.
fn output(vm: &mut Vm, key: &str) -> String {
    vm.run_ok(&format!("output wan {key}"))
        .check(&format!("output wan {key}"))
        .trim()
        .to_string()
}

/// The state that follows the session: (default route, both nft sets hold
/// the session's interface, dnsmasq's resolv file).
fn kernel_state(vm: &mut Vm) -> (String, bool, String) {
    let route = vm
        .run_ok(&format!("{DEBIAN_IP} route show default"))
        .check("route")
        .trim()
        .to_string();
    let sets = vm
        .run_ok(
            "nft list set inet limina wan_ifaces | grep -c 'elements = { \"ppp-wan\" }'; \
             nft list set ip limina-nat wan_ifaces | grep -c 'elements = { \"ppp-wan\" }'; true",
        )
        .check("nft sets");
    let resolv = vm
        .run_ok("cat /run/limina/router/resolv.conf.dnsmasq")
        .check("resolv file")
        .trim()
        .to_string();
    (
        route,
        sets.split_whitespace().collect::<Vec<_>>() == ["1", "1"],
        resolv,
    )
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn rendered_router_pppoe_wan() {
    let machine = Machine::X86_64;

    // Render on the host.
    let router = limina_services::parse(ROUTER_TOML, "router.toml").check("the test's router file");
    let opts = render_options();
    let tree = limina_services::render::render(&router, &opts).check("render");
    let defs = services(&tree);
    let order = order(&defs);
    let options_in = &tree
        .get(Path::new("etc/ppp-wan.options.in"))
        .check_some("etc/ppp-wan.options.in")
        .contents;
    assert!(
        options_in.contains(&format!("ifname {PPP_IF}\n")),
        "{options_in}"
    );

    let mut cfg = VmConfig::new(machine, "router-pppoe").check("config");
    cfg.initramfs
        .module("veth", "")
        .module("pppoe", "")
        // The isp's pppd talks to `pppoe` over a pty: N_PPP.
        .module("ppp_async", "")
        .module("bridge", "")
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
                "watch-outputs",
            ],
        )
        .bytes(
            "/etc/limina/secrets",
            format!("# the router's secrets\npppoe-password={PASSWORD}\n"),
            0o600,
        )
        // The isp's accounts (pppd's quoting: \" inside "...").
        .bytes(
            "/etc/ppp/chap-secrets",
            format!(
                "\"{}\" * \"{}\" *\n",
                ppp_quoted(USERNAME),
                ppp_quoted(PASSWORD)
            ),
            0o600,
        )
        .bytes(
            "/etc/ppp/pppoe-server-options",
            SERVER_OPTIONS.replace("@DNS2@", "192.0.2.53"),
            0o644,
        )
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
    let pppd_plugin = "/usr/lib/pppd/2.4.9/pppoe.so";
    let mut programs = vec![
        (DEBIAN_IP, "/usr/sbin/ip"),
        ("/usr/sbin/pppd", "/usr/sbin/pppd"),
        (pppd_plugin, pppd_plugin),
        ("/usr/sbin/pppoe-server", "/usr/sbin/pppoe-server"),
        // Debian's pppoe-server has no kernel mode: its pppd talks to the
        // client through `pppoe` on a pty.
        ("/usr/sbin/pppoe", "/usr/sbin/pppoe"),
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
            "{host} missing on the host: apt-get install iproute2 ppp pppoe dnsmasq-base nftables s6 execline"
        );
        cfg.initramfs
            .host_program(guest, host)
            .check("host program");
    }
    let mut vm = Vm::boot(cfg).check("boot");

    // pppd (both ends) and pppoe-server log to syslog.
    vm.run_ok("syslogd -O /tmp/messages").check("syslogd");
    // A fifo nobody writes: `read -t` on it is a sleep without a fork.
    vm.run_ok("mkfifo /tmp/never && exec 9<>/tmp/never")
        .check("fifo");
    vm.run_ok(&format!(
        "{DEBIAN_IP} netns add isp && {DEBIAN_IP} -n isp link set lo up && \
         {DEBIAN_IP} link add wan0 type veth peer name isp0 && \
         {DEBIAN_IP} link set isp0 netns isp && {DEBIAN_IP} -n isp link set isp0 up && \
         {DEBIAN_IP} link add lanp0 type veth peer name lanc0 && {DEBIAN_IP} link set lanc0 up"
    ))
    .check("namespaces and cables");
    vm.run_ok(&format!(
        "setsid {DEBIAN_IP} netns exec isp /usr/sbin/pppoe-server -I isp0 -L 10.64.64.1 -R 10.64.64.2 \
         -N 4 -S limina-isp -O /etc/ppp/pppoe-server-options </dev/null >/dev/null 2>&1"
    ))
    .check("pppoe-server");
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
    eprintln!("router-pppoe: services up in dependency order:");
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
            "router-pppoe:   {name:<20} {:>6} ms",
            t0.elapsed().as_millis()
        );
    }

    // The session: outputs, cross-checked with the kernel.
    assert_eq!(output(&mut vm, "ifname"), PPP_IF);
    let ip = output(&mut vm, "ip");
    assert!(
        ["10.64.64.2", "10.64.64.3", "10.64.64.4", "10.64.64.5"].contains(&ip.as_str()),
        "wan/ip {ip} outside the isp's pool"
    );
    assert_eq!(output(&mut vm, "peer"), "10.64.64.1");
    assert_eq!(output(&mut vm, "dns"), "10.64.64.1 192.0.2.53");
    let addr = vm
        .run_ok(&format!("ip -4 addr show dev {PPP_IF}"))
        .check("ip addr");
    assert!(
        addr.contains(&format!("inet {ip} peer 10.64.64.1/32")),
        "{addr}"
    );
    wait(
        &mut vm,
        &format!("{DEBIAN_IP} route show default | grep -q 'dev {PPP_IF}'"),
        30,
        "the default route out of the session",
    );
    wait(
        &mut vm,
        "nft list set inet limina wan_ifaces | grep -q '\"ppp-wan\"' && nft list set ip limina-nat wan_ifaces | grep -q '\"ppp-wan\"'",
        30,
        "ppp-wan in both wan_ifaces sets",
    );
    wait(
        &mut vm,
        "grep -q 192.0.2.53 /run/limina/router/resolv.conf.dnsmasq",
        30,
        "the session's DNS servers in dnsmasq's resolv file",
    );
    let (route, sets, resolv) = kernel_state(&mut vm);
    assert_eq!(
        route,
        format!("default dev {PPP_IF} proto 76 scope link metric 5")
    );
    assert!(sets, "both sets hold exactly ppp-wan");
    assert_eq!(resolv, "nameserver 10.64.64.1\nnameserver 192.0.2.53");
    assert_eq!(
        vm.run_ok("output dnsmasq interfaces")
            .check("dnsmasq")
            .trim(),
        "br-lan"
    );
    let published = stamp_ns(
        &vm.run_ok("stat -c '%Y %y' /run/services/outputs/wan")
            .check("stat"),
    );
    let events = timeline(&mut vm);
    let route_at = first(&events, "route", true, 0).check_some("route event");
    let servers_at = first(&events, "servers", true, 0).check_some("servers event");
    eprintln!(
        "router-pppoe: first session: wan outputs published -> default route {} ms (s6-svwait -U wan, then wan-address started), \
         -> servers in dnsmasq's resolv file {} ms",
        ms(published, route_at),
        ms(published, servers_at)
    );
    // pppd asked for the rendered service name (the isp offers no other).
    vm.run_ok("grep -q \"using Service-Name 'limina-isp'\" /tmp/messages")
        .check("the session's PPPoE service name");
    let before = statuses(&mut vm, &defs);
    for (name, st) in &before {
        let ready = name.ends_with("/log") || defs.get(name).is_some_and(|d| d.readiness);
        let want = if ready { "true true " } else { "true " };
        assert!(st.starts_with(want), "{name} not up (and ready): {st}");
    }
    let pppd_pid = vm
        .run_ok(&format!("s6-svstat -o pid {SCAN}/wan"))
        .check("wan pid");

    // The isp hangs up: its pppd (pppoe-server's child, in `isp`) is
    // killed; the next session will hand out another DNS server.
    vm.run_ok(&format!(
        "sed -i 's/192.0.2.53/192.0.2.54/' /etc/ppp/pppoe-server-options && \
         for p in $({DEBIAN_IP} netns pids isp); do if [ \"$(cat /proc/$p/comm)\" = pppd ]; then echo $p; fi; done > /tmp/isp-pppd"
    ))
    .check("the isp's pppd");
    let isp_pppd = vm.run_ok("cat /tmp/isp-pppd").check("isp pppd pid");
    assert_eq!(isp_pppd.lines().count(), 1, "the isp's pppd: {isp_pppd}");
    // The hang-up; as soon as the outputs are gone the isp's cable end
    // goes down too, so that the redial (after pppd's 5 s holdoff) waits
    // until the withdrawn state has been checked.
    let killed = stamp_ns(
        &vm.run_ok(&format!(
            ": >/tmp/hangup.stamp; kill $(cat /tmp/isp-pppd); \
             until ! [ -L /run/services/outputs/wan ]; do read -t 0.002 -u 9 x; done; \
             {DEBIAN_IP} -n isp link set isp0 down; stat -c '%Y %y' /tmp/hangup.stamp"
        ))
        .check("hang up"),
    );
    let sets_gone = stamp_when(
        &mut vm,
        "! nft list set inet limina wan_ifaces | grep -q '\"ppp-wan\"' && \
         ! nft list set ip limina-nat wan_ifaces | grep -q '\"ppp-wan\"'",
        "ppp-wan gone from both wan_ifaces sets",
    );
    wait(
        &mut vm,
        &format!("! {DEBIAN_IP} route show default | grep -q ."),
        10,
        "the default route gone",
    );
    let events = timeline(&mut vm);
    let gone = first(&events, "outputs", false, killed).check_some("outputs withdrawn event");
    let route_gone = first(&events, "route", false, killed).check_some("route gone event");
    let resolv_gone = first(&events, "servers", false, killed).check_some("servers gone event");
    eprintln!(
        "router-pppoe: hang-up (isp's pppd killed) -> wan outputs withdrawn {} ms, default route gone {} ms, \
         resolv file without servers {} ms, set elements gone {} ms (polled through nft)",
        ms(killed, gone),
        ms(killed, route_gone),
        ms(killed, resolv_gone),
        ms(killed, sets_gone)
    );
    assert!(
        vm.run_ok("ls /run/services/outputs")
            .check("ls")
            .split_whitespace()
            .all(|n| n != "wan" && n != "acquired-wan"),
        "wan or acquired-wan still published"
    );
    let (route, sets, resolv) = kernel_state(&mut vm);
    assert_eq!((route.as_str(), sets, resolv.as_str()), ("", false, ""));

    // The isp returns; pppd (persist, maxfail 0) redials by itself: all
    // back, with the DNS servers the isp hands out now.
    let isp_back = stamp_ns(
        &vm.run_ok(&format!(
            // pppoe-server exits when its interface goes down: restart it.
            ": >/tmp/back.stamp; {DEBIAN_IP} -n isp link set isp0 up && \
             setsid {DEBIAN_IP} netns exec isp /usr/sbin/pppoe-server -I isp0 -L 10.64.64.1 -R 10.64.64.2 \
             -N 4 -S limina-isp -O /etc/ppp/pppoe-server-options </dev/null >/dev/null 2>&1; stat -c '%Y %y' /tmp/back.stamp"
        ))
        .check("isp back"),
    );
    wait(
        &mut vm,
        &format!(
            "[ -L /run/services/outputs/wan ] && {DEBIAN_IP} route show default | grep -q ppp-wan && \
             grep -q 192.0.2.54 /run/limina/router/resolv.conf.dnsmasq && \
             nft list set inet limina wan_ifaces | grep -q '\"ppp-wan\"' && \
             nft list set ip limina-nat wan_ifaces | grep -q '\"ppp-wan\"'"
        ),
        120,
        "the session redialled: outputs, route, resolv file and sets back",
    );
    let republished = stamp_ns(
        &vm.run_ok("stat -c '%Y %y' /run/services/outputs/wan")
            .check("stat"),
    );
    let events = timeline(&mut vm);
    let route_back = first(&events, "route", true, isp_back).check_some("route back event");
    let servers_back = first(&events, "servers", true, isp_back).check_some("servers back event");
    eprintln!(
        "router-pppoe: redial: isp cable up and pppoe-server restarted -> wan outputs published {} ms (pppd's discovery retries, holdoff 5 s); \
         outputs published -> default route {} ms, -> servers in dnsmasq's resolv file {} ms",
        ms(isp_back, republished),
        ms(republished, route_back),
        ms(republished, servers_back)
    );
    assert_eq!(output(&mut vm, "ifname"), PPP_IF);
    assert_eq!(output(&mut vm, "peer"), "10.64.64.1");
    assert_eq!(output(&mut vm, "dns"), "10.64.64.1 192.0.2.54");
    let (route, sets, resolv) = kernel_state(&mut vm);
    assert_eq!(
        route,
        format!("default dev {PPP_IF} proto 76 scope link metric 5")
    );
    assert!(sets, "both sets hold exactly ppp-wan after the redial");
    assert_eq!(resolv, "nameserver 10.64.64.1\nnameserver 192.0.2.54");

    // No service was restarted, not even pppd (it redialled itself).
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
    assert_eq!(
        vm.run_ok(&format!("s6-svstat -o pid {SCAN}/wan"))
            .check("wan pid"),
        pppd_pid
    );
    eprintln!(
        "router-pppoe: {} longruns and loggers kept their pids through hang-up and redial",
        after.len()
    );

    // The wan service restarted (s6-svc -r, as an operator or a crash
    // would): pppd ends the session on SIGTERM (ip-down withdraws, the
    // finish script too), the new pppd dials at once and reports ready
    // through its watch-outputs; only wan's pid changes.
    let restarted = stamp_ns(
        &vm.run_ok(&format!(
            ": >/tmp/restart.stamp; s6-svc -r {SCAN}/wan; stat -c '%Y %y' /tmp/restart.stamp"
        ))
        .check("restart wan"),
    );
    wait(
        &mut vm,
        &format!(
            "s6-svstat -o up,ready,pid {SCAN}/wan | grep -q '^true true ' && \
             ! s6-svstat -o pid {SCAN}/wan | grep -qx '{}' && \
             [ -L /run/services/outputs/wan ] && {DEBIAN_IP} route show default | grep -q ppp-wan && \
             nft list set inet limina wan_ifaces | grep -q '\"ppp-wan\"'",
            pppd_pid.trim()
        ),
        120,
        "wan restarted, ready, with a session, its route and set element",
    );
    let republished = stamp_ns(
        &vm.run_ok("stat -c '%Y %y' /run/services/outputs/wan")
            .check("stat"),
    );
    let events = timeline(&mut vm);
    let gone =
        first(&events, "outputs", false, restarted).check_some("outputs withdrawn by the restart");
    let route_back = first(&events, "route", true, gone).check_some("route after the restart");
    eprintln!(
        "router-pppoe: wan restarted (s6-svc -r) -> outputs withdrawn {} ms, session outputs published {} ms, \
         default route {} ms",
        ms(restarted, gone),
        ms(restarted, republished),
        ms(restarted, route_back)
    );
    let after_restart = statuses(&mut vm, &defs);
    let changed: Vec<String> = after
        .iter()
        .filter(|(n, st)| n.as_str() != "wan" && after_restart.get(*n) != Some(st))
        .map(|(n, st)| format!("{n}: {st} -> {:?}", after_restart.get(n)))
        .collect();
    assert!(
        changed.is_empty(),
        "restarting wan restarted or changed: {changed:?}"
    );
    vm.poweroff().check("poweroff");
}
