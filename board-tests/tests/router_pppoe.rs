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

use std::path::Path;

use crate::common::{Check, CheckSome};
use crate::router_vm::{
    assert_kept, first, ms, session_up, stamp_ns, PppGuest, Rendered, Router, DEBIAN_IP, OUTPUTS,
    SCAN,
};

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

/// Starts the isp's `pppoe-server` (in `isp`; it forks).
fn start_server() -> String {
    format!(
        "setsid {DEBIAN_IP} netns exec isp /usr/sbin/pppoe-server -I isp0 -L 10.64.64.1 -R 10.64.64.2 \
         -N 4 -S limina-isp -O /etc/ppp/pppoe-server-options </dev/null >/dev/null 2>&1"
    )
}

/// The state that follows the session: (default route, both nft sets hold
/// exactly the session's interface, dnsmasq's resolv file).
fn kernel_state(r: &mut Router) -> (String, bool, String) {
    let route = r.default_routes();
    let sets = r.both_sets_have(&format!("elements = {{ \"{PPP_IF}\" }}"));
    let resolv =
        r.vm.run_ok("cat /run/limina/router/resolv.conf.dnsmasq")
            .check("resolv file")
            .trim()
            .to_string();
    (route, sets, resolv)
}

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn rendered_router_pppoe_wan() {
    let rendered = Rendered::new(ROUTER_TOML);
    let options_in = &rendered
        .tree
        .get(Path::new("etc/ppp-wan.options.in"))
        .check_some("etc/ppp-wan.options.in")
        .contents;
    assert!(
        options_in.contains(&format!("ifname {PPP_IF}\n")),
        "{options_in}"
    );

    let plugin = "/usr/lib/pppd/2.4.9/pppoe.so";
    let server_options = SERVER_OPTIONS.replace("@DNS2@", "192.0.2.53");
    let mut r = Router::boot(
        &PppGuest {
            name: "router-pppoe",
            // PPPoE sockets; N_PPP (ppp_async), as the isp's pppd talks
            // to `pppoe` over a pty; the LAN bridge.
            modules: &["pppoe", "ppp_async", "bridge"],
            applets: &[],
            secret: "pppoe-password",
            username: USERNAME,
            password: PASSWORD,
            files: &[("/etc/ppp/pppoe-server-options", &server_options)],
            timeline: TIMELINE,
            programs: &[
                (plugin, plugin),
                ("/usr/sbin/pppoe-server", "/usr/sbin/pppoe-server"),
                // Debian's pppoe-server has no kernel mode: its pppd talks
                // to the client through `pppoe` on a pty.
                ("/usr/sbin/pppoe", "/usr/sbin/pppoe"),
            ],
            package: "pppoe",
            logs: &[],
        },
        rendered,
    );

    r.vm.run_ok(&format!(
        "{DEBIAN_IP} netns add isp && {DEBIAN_IP} -n isp link set lo up && \
         {DEBIAN_IP} link add wan0 type veth peer name isp0 && \
         {DEBIAN_IP} link set isp0 netns isp && {DEBIAN_IP} -n isp link set isp0 up && \
         {DEBIAN_IP} link add lanp0 type veth peer name lanc0 && {DEBIAN_IP} link set lanc0 up"
    ))
    .check("namespaces and cables");
    r.vm.run_ok(&start_server()).check("pppoe-server");
    r.start_services();

    // The session: outputs, cross-checked with the kernel.
    r.session("wan", PPP_IF, 2..=5, "10.64.64.1 192.0.2.53");
    r.wait(
        "grep -q 192.0.2.53 /run/limina/router/resolv.conf.dnsmasq",
        30,
        "the session's DNS servers in dnsmasq's resolv file",
    );
    let (route, sets, resolv) = kernel_state(&mut r);
    assert_eq!(
        route,
        format!("default dev {PPP_IF} proto 76 scope link metric 5")
    );
    assert!(sets, "both sets hold exactly ppp-wan");
    assert_eq!(resolv, "nameserver 10.64.64.1\nnameserver 192.0.2.53");
    assert_eq!(r.output("dnsmasq", "interfaces"), "br-lan");
    let published = r.published("wan");
    let events = r.timeline();
    let route_at = first(&events, "route", true, 0).check_some("route event");
    let servers_at = first(&events, "servers", true, 0).check_some("servers event");
    eprintln!(
        "router-pppoe: first session: wan outputs published -> default route {} ms (s6-svwait -U wan, then wan-address started), \
         -> servers in dnsmasq's resolv file {} ms",
        ms(published, route_at),
        ms(published, servers_at)
    );
    // pppd asked for the rendered service name (the isp offers no other).
    r.vm.run_ok("grep -q \"using Service-Name 'limina-isp'\" /tmp/messages")
        .check("the session's PPPoE service name");
    let before = r.all_up();
    let pppd_pid =
        r.vm.run_ok(&format!("s6-svstat -o pid {SCAN}/wan"))
            .check("wan pid");

    // The isp hangs up: its pppd (pppoe-server's child, in `isp`) is
    // killed; the next session will hand out another DNS server.
    r.vm.run_ok(&format!(
        "sed -i 's/192.0.2.53/192.0.2.54/' /etc/ppp/pppoe-server-options && \
         for p in $({DEBIAN_IP} netns pids isp); do if [ \"$(cat /proc/$p/comm)\" = pppd ]; then echo $p; fi; done > /tmp/isp-pppd"
    ))
    .check("the isp's pppd");
    let isp_pppd = r.vm.run_ok("cat /tmp/isp-pppd").check("isp pppd pid");
    assert_eq!(isp_pppd.lines().count(), 1, "the isp's pppd: {isp_pppd}");
    // The hang-up; as soon as the outputs are gone the isp's cable end
    // goes down too, so that the redial (after pppd's 5 s holdoff) waits
    // until the withdrawn state has been checked.
    let killed = stamp_ns(
        &r.vm
            .run_ok(&format!(
                ": >/tmp/hangup.stamp; kill $(cat /tmp/isp-pppd); \
                 until ! [ -L {OUTPUTS}/wan ]; do read -t 0.002 -u 9 x; done; \
                 {DEBIAN_IP} -n isp link set isp0 down; stat -c '%Y %y' /tmp/hangup.stamp"
            ))
            .check("hang up"),
    );
    // No default route at all is left.
    let gone = r.withdrawn(
        "wan",
        PPP_IF,
        killed,
        &format!("! {DEBIAN_IP} route show default | grep -q ."),
    );
    let resolv_gone =
        first(&gone.events, "servers", false, killed).check_some("servers gone event");
    eprintln!(
        "router-pppoe: hang-up (isp's pppd killed) -> wan outputs withdrawn {} ms, default route gone {} ms, \
         resolv file without servers {} ms, set elements gone {} ms (polled through nft)",
        ms(killed, gone.outputs),
        ms(killed, gone.route),
        ms(killed, resolv_gone),
        ms(killed, gone.sets)
    );
    let (route, sets, resolv) = kernel_state(&mut r);
    assert_eq!((route.as_str(), sets, resolv.as_str()), ("", false, ""));

    // The isp returns; pppd (persist, maxfail 0) redials by itself: all
    // back, with the DNS servers the isp hands out now.
    let isp_back = stamp_ns(
        &r.vm
            .run_ok(&format!(
                // pppoe-server exits when its interface goes down: restart it.
                ": >/tmp/back.stamp; {DEBIAN_IP} -n isp link set isp0 up && {}; \
                 stat -c '%Y %y' /tmp/back.stamp",
                start_server()
            ))
            .check("isp back"),
    );
    r.wait(
        &format!(
            "{} && grep -q 192.0.2.54 /run/limina/router/resolv.conf.dnsmasq",
            session_up("wan", PPP_IF)
        ),
        120,
        "the session redialled: outputs, route, resolv file and sets back",
    );
    let republished = r.published("wan");
    let events = r.timeline();
    let route_back = first(&events, "route", true, isp_back).check_some("route back event");
    let servers_back = first(&events, "servers", true, isp_back).check_some("servers back event");
    eprintln!(
        "router-pppoe: redial: isp cable up and pppoe-server restarted -> wan outputs published {} ms (pppd's discovery retries, holdoff 5 s); \
         outputs published -> default route {} ms, -> servers in dnsmasq's resolv file {} ms",
        ms(isp_back, republished),
        ms(republished, route_back),
        ms(republished, servers_back)
    );
    assert_eq!(r.output("wan", "ifname"), PPP_IF);
    assert_eq!(r.output("wan", "peer"), "10.64.64.1");
    assert_eq!(r.output("wan", "dns"), "10.64.64.1 192.0.2.54");
    let (route, sets, resolv) = kernel_state(&mut r);
    assert_eq!(
        route,
        format!("default dev {PPP_IF} proto 76 scope link metric 5")
    );
    assert!(sets, "both sets hold exactly ppp-wan after the redial");
    assert_eq!(resolv, "nameserver 10.64.64.1\nnameserver 192.0.2.54");

    // No service was restarted, not even pppd (it redialled itself).
    let after = r.statuses();
    assert_kept(&before, &after, None, "services restarted by the hang-up");
    assert_eq!(
        r.vm.run_ok(&format!("s6-svstat -o pid {SCAN}/wan"))
            .check("wan pid"),
        pppd_pid
    );
    eprintln!(
        "router-pppoe: {} longruns and loggers kept their pids through hang-up and redial",
        after.len()
    );

    // The wan service restarted: pppd ends the session on SIGTERM (ip-down
    // withdraws, the finish script too), the new pppd dials at once and
    // reports ready through its watch-outputs; only wan's pid changes.
    r.restart("wan", PPP_IF);
    let after_restart = r.statuses();
    assert_kept(
        &after,
        &after_restart,
        Some("wan"),
        "restarting wan restarted or changed",
    );
    r.vm.poweroff().check("poweroff");
}
