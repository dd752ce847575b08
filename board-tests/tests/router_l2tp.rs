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

use limina_board_tests::Vm;

use crate::common::{Check, CheckSome};
use crate::router_vm::{
    assert_kept, first, ms, session_up, stamp_ns, PppGuest, Rendered, Router, DEBIAN_IP, OUTPUTS,
    SCAN,
};

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

/// The state that follows the session: (the default routes, the route to
/// the LNS, both nft sets hold the session's interface).
fn kernel_state(r: &mut Router) -> (String, String, bool) {
    let routes = r.default_routes();
    let lns =
        r.vm.run_ok(&format!("{DEBIAN_IP} route show {LNS}"))
            .check("route to the LNS")
            .trim()
            .to_string();
    let sets = r.both_sets_have(&format!("\"{PPP_IF}\""));
    (routes, lns, sets)
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
    let rendered = Rendered::new(ROUTER_TOML);
    let vpn = &rendered.defs["vpn"];
    assert!(
        vpn.deps.contains(&"vpn-server-route".to_string())
            && vpn.deps.contains(&"cable-address".to_string()),
        "vpn's dependencies: {:?}",
        vpn.deps
    );

    let plugin = "/usr/lib/pppd/2.4.9/pppol2tp.so";
    let mut r = Router::boot(
        &PppGuest {
            name: "router-l2tp",
            // The kernel's L2TP: PPPoL2TP sockets (xl2tpd's kernel mode, both
            // ends) and the generic netlink family.
            modules: &["l2tp_core", "l2tp_netlink", "l2tp_ppp"],
            applets: &["udhcpc-script"],
            secret: "l2tp-password",
            username: "vpn-user",
            password: PASSWORD,
            files: &[
                ("/etc/xl2tpd/lns.conf", LNS_CONF),
                ("/etc/ppp/options.lns", LNS_PPP_OPTIONS),
            ],
            timeline: TIMELINE,
            programs: &[(plugin, plugin), ("/usr/sbin/xl2tpd", "/usr/sbin/xl2tpd")],
            package: "xl2tpd",
            logs: &[("lns", "/tmp/lns.log")],
        },
        rendered,
    );

    // The isp: wan0's peer isp0 (203.0.113.1, the DHCP server and router),
    // the LNS's and the tunnel-only address on its loopback.
    r.vm.run_ok(&format!(
        "{DEBIAN_IP} netns add isp && {DEBIAN_IP} -n isp link set lo up && \
         {DEBIAN_IP} -n isp addr add {LNS}/32 dev lo && {DEBIAN_IP} -n isp addr add {BEHIND}/32 dev lo && \
         {DEBIAN_IP} link add wan0 type veth peer name isp0 && \
         {DEBIAN_IP} link set isp0 netns isp && {DEBIAN_IP} -n isp addr add 203.0.113.1/24 dev isp0 && \
         {DEBIAN_IP} -n isp link set isp0 up && \
         {DEBIAN_IP} link add lanp0 type veth peer name lanc0 && {DEBIAN_IP} link set lanc0 up"
    ))
    .check("namespaces and cables");
    r.vm.run_ok(&format!(
        "setsid {DEBIAN_IP} netns exec isp /usr/sbin/dnsmasq -k --port=0 --interface=isp0 \
         --dhcp-range=203.0.113.100,203.0.113.150,1h --dhcp-option=3,203.0.113.1 \
         --dhcp-option=6,203.0.113.1 --dhcp-leasefile=/tmp/isp.leases </dev/null >/tmp/isp-dnsmasq.log 2>&1 &"
    ))
    .check("the isp's DHCP server");
    r.vm.run_ok(&start_lns()).check("the LNS");
    r.start_services();

    // The lease, then the session: outputs, cross-checked with the kernel.
    assert_eq!(r.output("cable", "router"), "203.0.113.1");
    let lease = r.output("cable", "ip");
    assert!(lease.starts_with("203.0.113."), "cable/ip {lease}");
    r.session("vpn", PPP_IF, 2..=9, "10.64.64.1 192.0.2.53");
    // Kernel mode: xl2tpd gave pppd a PPPoL2TP socket (plugin pppol2tp.so).
    let pppd = lac_pppd(&mut r.vm);
    assert_eq!(pppd.lines().count(), 1, "the LAC's pppd: {pppd:?}");
    let cmdline =
        r.vm.run_ok(&format!("tr '\\0' ' ' </proc/{pppd}/cmdline"))
            .check("pppd's command line");
    assert!(
        cmdline.contains("plugin pppol2tp.so pppol2tp "),
        "the LAC's pppd is not in kernel mode: {cmdline}"
    );
    let (routes, lns_route, sets) = kernel_state(&mut r);
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
    let get =
        r.vm.run_ok(&format!("{DEBIAN_IP} route get {BEHIND}"))
            .check("route get");
    assert!(get.contains(&format!("dev {PPP_IF}")), "{get}");
    r.vm.run_ok(&format!("ping -c 1 -W 5 {BEHIND}"))
        .check("a ping through the tunnel");
    let published = r.published("vpn");
    let events = r.timeline();
    let route_at = first(&events, "route", true, 0).check_some("route event");
    eprintln!(
        "router-l2tp: first session: vpn outputs published -> default route out of {PPP_IF} {} ms \
         (s6-svwait -U vpn, then vpn-address started)",
        ms(published, route_at)
    );
    let before = r.all_up();

    // The LNS hangs up: its xl2tpd stops (StopCCN to the LAC, which ends
    // its pppd) and stays away until the withdrawn state is checked.
    let killed = stamp_ns(
        &r.vm
            .run_ok(&format!(
                ": >/tmp/hangup.stamp; kill $(cat /run/lns.pid); \
                 until ! [ -L {OUTPUTS}/vpn ]; do read -t 0.002 -u 9 x; done; \
                 stat -c '%Y %y' /tmp/hangup.stamp"
            ))
            .check("hang up"),
    );
    let gone = r.withdrawn(
        "vpn",
        PPP_IF,
        killed,
        &format!("! {DEBIAN_IP} route show default | grep -q {PPP_IF}"),
    );
    eprintln!(
        "router-l2tp: hang-up (the LNS's xl2tpd stopped) -> vpn outputs withdrawn {} ms, \
         default route out of the session gone {} ms, set elements gone {} ms (polled through nft)",
        ms(killed, gone.outputs),
        ms(killed, gone.route),
        ms(killed, gone.sets)
    );
    let (routes, lns_route, sets) = kernel_state(&mut r);
    assert_eq!(
        (routes.as_str(), lns_route.as_str(), sets),
        (
            "default via 203.0.113.1 dev wan0 proto 76 metric 10",
            format!("{LNS} via 203.0.113.1 dev wan0").as_str(),
            false
        ),
        "after the hang-up: cable's default route and the host route stay"
    );
    assert_eq!(r.output("cable", "ip"), lease);

    // The LNS returns; xl2tpd (redial = yes, every 5 s) dials again by
    // itself.
    let lns_back = stamp_ns(
        &r.vm
            .run_ok(&format!(
                ": >/tmp/back.stamp; {} stat -c '%Y %y' /tmp/back.stamp",
                start_lns()
            ))
            .check("LNS back"),
    );
    r.wait(
        &session_up("vpn", PPP_IF),
        120,
        "the session redialled: outputs, route and sets back",
    );
    let republished = r.published("vpn");
    let events = r.timeline();
    let route_back = first(&events, "route", true, lns_back).check_some("route back event");
    eprintln!(
        "router-l2tp: redial: LNS restarted -> vpn outputs published {} ms (xl2tpd's redial timeout 5 s); \
         outputs published -> default route {} ms",
        ms(lns_back, republished),
        ms(republished, route_back)
    );
    assert_eq!(r.output("vpn", "ifname"), PPP_IF);
    assert_eq!(r.output("vpn", "peer"), "10.64.64.1");
    let (routes, lns_route, sets) = kernel_state(&mut r);
    assert!(
        routes.starts_with(&format!(
            "default dev {PPP_IF} proto 76 scope link metric 5"
        )),
        "{routes}"
    );
    assert_eq!(lns_route, format!("{LNS} via 203.0.113.1 dev wan0"));
    assert!(sets, "both sets hold ppp-vpn after the redial");
    r.vm.run_ok(&format!("ping -c 1 -W 5 {BEHIND}"))
        .check("a ping through the redialled tunnel");

    // No service was restarted, not even xl2tpd (it redialled itself).
    let after = r.statuses();
    assert_kept(&before, &after, None, "services restarted by the hang-up");
    eprintln!(
        "router-l2tp: {} longruns and loggers kept their pids through hang-up and redial",
        after.len()
    );

    // The vpn service restarted: xl2tpd ends the call on SIGTERM and its
    // pppd goes with it (ip-down withdraws, the finish script too); the
    // new xl2tpd dials at once and is ready through its watch-outputs;
    // only vpn's pid changes, and no pppd of the old session is left.
    let old_pppd = lac_pppd(&mut r.vm);
    r.restart("vpn", PPP_IF);
    assert!(
        !r.vm
            .run_ok(&format!("[ -d /proc/{old_pppd} ] && echo alive; true"))
            .check("old pppd")
            .contains("alive"),
        "the old session's pppd {old_pppd} outlived its xl2tpd"
    );
    // The outputs stay (no late ip-down of the old session withdraws them).
    r.vm.run_ok(&format!("read -t 2 -u 9 x; [ -L {OUTPUTS}/vpn ]"))
        .check("the new session's outputs 2 s later");
    r.vm.run_ok(&format!("ping -c 1 -W 5 {BEHIND}"))
        .check("a ping through the new session");
    let after_restart = r.statuses();
    assert_kept(
        &after,
        &after_restart,
        Some("vpn"),
        "restarting vpn restarted or changed",
    );
    r.vm.poweroff().check("poweroff");
}
