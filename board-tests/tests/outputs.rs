//! Service outputs against a real PPPoE peer: Debian's `pppoe-server` in a
//! network namespace of the x86_64 guest, `pppd` with the rp-pppoe plugin
//! in the root namespace, joined by a veth pair. Our `ppp-ip-up` and
//! `ppp-ipv6-up` record the session, `acquire-wan-address` (watching) adds
//! the default route out of `ppp0` that pppd was not asked for, and
//! hanging up removes the outputs and what was applied. (The
//! build machines' kernel has no PPP; Debian's guest kernel has it as
//! modules.)

use std::time::Duration;

use limina_board_tests::{guest_limina, Machine, Vm, VmConfig};

use crate::common::Check;

const PPPD_PLUGIN: &str = "/usr/lib/pppd/2.4.9/pppoe.so";

const SERVER_OPTIONS: &str =
    "noauth\nlcp-echo-interval 0\nms-dns 10.64.64.1\nms-dns 192.0.2.53\n+ipv6\n";

#[test]
#[cfg_attr(not(feature = "vm"), ignore = "boots QEMU: run with --features vm")]
fn pppoe_session_published_and_removed() {
    let machine = Machine::X86_64;
    let mut cfg = VmConfig::new(machine, "outputs-pppoe").check("config");
    cfg.initramfs
        .module("veth", "")
        .module("pppoe", "")
        // The server side's pppd talks to `pppoe` over a pty: N_PPP.
        .module("ppp_async", "")
        .limina(
            guest_limina(machine)
                .check("guest limina (scripts/guest-bins x86_64-unknown-linux-gnu)"),
            &[
                "acquire-wan-address",
                "output",
                "ppp-ip-up",
                "ppp-ip-down",
                "ppp-ipv6-up",
                "ppp-ipv6-down",
            ],
        )
        .file(PPPD_PLUGIN, PPPD_PLUGIN, 0o644)
        .bytes("/etc/ppp/options", "", 0o644)
        // pppd 2.4.9 has no ipv6-up-script option: the fixed paths, as
        // wrappers (argv[0] must name the applet).
        .bytes(
            "/etc/ppp/ipv6-up",
            "#!/bin/sh\nexec /usr/local/bin/ppp-ipv6-up \"$@\"\n",
            0o755,
        )
        .bytes(
            "/etc/ppp/ipv6-down",
            "#!/bin/sh\nexec /usr/local/bin/ppp-ipv6-down \"$@\"\n",
            0o755,
        )
        .bytes("/etc/ppp/pppoe-server-options", SERVER_OPTIONS, 0o644)
        .dir("/var/run");
    for (guest, host) in [
        ("/usr/sbin/ip", "/usr/sbin/ip"),
        ("/usr/sbin/pppd", "/usr/sbin/pppd"),
        ("/usr/sbin/pppoe-server", "/usr/sbin/pppoe-server"),
        // Debian's pppoe-server has no kernel mode: its pppd talks to the
        // client through `pppoe` on a pty.
        ("/usr/sbin/pppoe", "/usr/sbin/pppoe"),
    ] {
        assert!(
            std::path::Path::new(host).is_file(),
            "{host} missing on the host: apt-get install iproute2 ppp pppoe"
        );
        cfg.initramfs
            .host_program(guest, host)
            .check("host program");
    }
    let mut vm = Vm::boot(cfg).check("boot");

    // pppd and pppoe-server log to syslog: keep it for failure reports.
    vm.run_ok("syslogd -O /tmp/messages").check("syslogd");
    vm.run_ok(
        "/usr/sbin/ip netns add isp && \
         /usr/sbin/ip link add vc type veth peer name vs && \
         /usr/sbin/ip link set vs netns isp && \
         /usr/sbin/ip -n isp link set vs up && /usr/sbin/ip -n isp link set lo up && \
         /usr/sbin/ip link set vc up",
    )
    .check("namespaces");
    vm.run_ok(
        "setsid /usr/sbin/ip netns exec isp /usr/sbin/pppoe-server -I vs -L 10.64.64.1 -R 10.64.64.2 \
         -N 4 -O /etc/ppp/pppoe-server-options </dev/null >/dev/null 2>&1",
    )
    .check("pppoe-server");
    // The subscriber: applies the wan outputs as they come and go. No
    // default route exists before (pppd runs without `defaultroute`).
    assert_eq!(
        vm.run_ok("/usr/sbin/ip route show default")
            .check("no default route")
            .trim(),
        ""
    );
    vm.run_ok(
        "setsid acquire-wan-address -w -m 5 wan </dev/null >/tmp/acquire.out 2>&1 & echo $! > /tmp/acquire.pid",
    )
    .check("acquire-wan-address");
    vm.run_ok(&format!(
        // Away from the console: nothing may touch the harness's tty.
        "setsid /usr/sbin/pppd plugin {PPPD_PLUGIN} nic-vc noauth nodetach usepeerdns +ipv6 \
         ipparam wan ip-up-script /usr/local/bin/ppp-ip-up ip-down-script /usr/local/bin/ppp-ip-down \
         debug </dev/null >/tmp/pppd.out 2>&1 & echo $! > /tmp/pppd.pid"
    ))
    .check("pppd");

    // Wait for both families (TCG is slow; up to ~60 s).
    let (status, out) = vm
        .run_timeout(
            "for i in $(seq 600); do output wan ip6-local >/dev/null 2>&1 && output wan ip >/dev/null 2>&1 && break; sleep 0.2; done; output wan ip",
            Duration::from_secs(180),
        )
        .check("wait for the session");
    if status != 0 {
        let log = vm
            .run("cat /tmp/pppd.out /tmp/messages; ls -l /dev/ppp; /usr/sbin/ip addr; ps")
            .map(|(_, o)| o)
            .unwrap_or_default();
        panic!("no session outputs ({status}): {out}\n{log}");
    }
    assert_eq!(out.trim(), "10.64.64.2");
    assert_eq!(
        vm.run_ok("output wan peer").check("peer").trim(),
        "10.64.64.1"
    );
    assert_eq!(
        vm.run_ok("output wan ifname").check("ifname").trim(),
        "ppp0"
    );
    assert_eq!(
        vm.run_ok("output wan dns").check("dns").trim(),
        "10.64.64.1 192.0.2.53"
    );
    // The kernel agrees with the outputs.
    let addr = vm
        .run_ok("/usr/sbin/ip -4 addr show dev ppp0")
        .check("ip addr");
    assert!(
        addr.contains("inet 10.64.64.2 peer 10.64.64.1/32"),
        "{addr}"
    );
    let ll = vm.run_ok("output wan ip6-local").check("ip6-local");
    let addr6 = vm
        .run_ok("/usr/sbin/ip -6 addr show dev ppp0")
        .check("ip -6 addr");
    assert!(
        ll.trim().starts_with("fe80::") && addr6.contains(ll.trim()),
        "{ll} vs {addr6}"
    );
    let mode = vm
        .run_ok("stat -c %a /run/services/outputs/wan/ip")
        .check("mode");
    assert_eq!(mode.trim(), "640");

    // acquire-wan-address: pppd already put the session address on ppp0,
    // so it is not ours and stays pppd's; the default route out of ppp0
    // (pppd ran without `defaultroute`) is ours, with our protocol.
    let (status, route) = vm
        .run_timeout(
            "for i in $(seq 300); do /usr/sbin/ip route show default | grep -q ppp0 && break; sleep 0.2; done; /usr/sbin/ip route show default",
            Duration::from_secs(120),
        )
        .check("wait for the default route");
    let log = vm
        .run("cat /tmp/acquire.out")
        .map(|(_, o)| o)
        .unwrap_or_default();
    assert_eq!(status, 0, "{route}\n{log}");
    assert_eq!(
        route.trim(),
        "default dev ppp0 proto 76 scope link metric 5",
        "{log}"
    );
    assert!(
        log.contains("address 10.64.64.2 peer 10.64.64.1/32 dev ppp0 already present, not ours"),
        "{log}"
    );
    let recorded = vm
        .run_ok(
            "ls /run/services/outputs/acquired-wan/route | wc -l; \
                 ls /run/services/outputs/acquired-wan/address 2>/dev/null | wc -l",
        )
        .check("acquired record");
    assert_eq!(
        recorded.split_whitespace().collect::<Vec<_>>(),
        ["1", "0"],
        "the record holds the route only: {log}"
    );

    // Debian's 6.1 kernel keeps our IFA_PROTO marker (the record says
    // `marked`): apply the session address to another interface (vc, our
    // end of the veth), where it is ours, then release it with -x.
    let applied = vm
        .run_ok(
            "acquire-wan-address -i vc -R -o wan-on-vc wan 2>&1; /usr/sbin/ip -4 -o addr show dev vc; \
             cat /run/services/outputs/wan-on-vc/address/*/marked; \
             acquire-wan-address -x -i vc -R -o wan-on-vc wan 2>&1; /usr/sbin/ip -4 -o addr show dev vc | wc -l",
        )
        .check("apply on vc");
    let lines: Vec<&str> = applied.lines().map(str::trim).collect();
    assert!(
        lines.len() == 5
            && lines[0].ends_with("added address 10.64.64.2 peer 10.64.64.1/32 dev vc")
            && lines[1].contains("inet 10.64.64.2 peer 10.64.64.1/32")
            && lines[2] == "1"
            && lines[3].ends_with("removed address 10.64.64.2 peer 10.64.64.1/32 dev vc")
            && lines[4] == "0",
        "{applied}"
    );

    // Hang up: ip-down and ipv6-down remove the outputs.
    vm.run_ok("kill $(cat /tmp/pppd.pid)").check("kill pppd");
    let (status, out) = vm
        .run_timeout("for i in $(seq 300); do output wan ip >/dev/null 2>&1; [ $? = 3 ] && break; sleep 0.2; done; output wan ip", Duration::from_secs(120))
        .check("wait for teardown");
    assert_eq!(status, 3, "outputs must be gone after hang-up: {out}");
    // ... and the subscriber forgets what it applied (ppp0 took the route
    // with it; the record is what only our applet can remove).
    let (status, out) = vm
        .run_timeout(
            "for i in $(seq 300); do [ -e /run/services/outputs/acquired-wan ] || break; sleep 0.2; done; \
             ls /run/services/outputs; /usr/sbin/ip route show default; cat /tmp/acquire.out",
            Duration::from_secs(120),
        )
        .check("wait for the record to go");
    assert!(
        !out.contains("acquired-wan") && !out.contains("default"),
        "{status}: {out}"
    );
    assert!(
        out.contains("removed route 0.0.0.0/0 dev ppp0 metric 5"),
        "{out}"
    );
    vm.run_ok("kill $(cat /tmp/acquire.pid)")
        .check("kill acquire");
    vm.poweroff().check("poweroff");
}
